/* Fuzzes what a container engine sends on its socket: the HTTP/1.1
 * response framing (status line, headers, Content-Length, chunked coding),
 * fed in pieces whose sizes the input chooses, and the Docker Engine API's
 * JSON (container list, inspection, event lines). The engine is a peer the
 * daemon does not control: a broken or hostile one must not crash it. The
 * first byte picks the cut size and whether the body is parsed as JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container_engine.h"
#include "http_response.h"

static void parse_json(const char *body, size_t len)
{
    json_t *ids = container_engine_parse_list(body, len);
    json_decref(ids);
    struct container_info c;
    char name[CONTAINER_NAME_MAX + 1];
    if (container_engine_parse_inspect(body, len, &c, name, sizeof(name)) >= 0)
        json_decref(c.labels);
    enum container_event_action action;
    char id[CONTAINER_ID_MAX + 1];
    for (const char *line = body; line < body + len;) {
        const char *nl = memchr(line, '\n', (size_t)(body + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(body + len - line);
        container_engine_parse_event(line, n, &action, id);
        line += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0x3f) + 1;
    int json_only = data[0] & 0x80;
    data++;
    size--;
    if (json_only) {
        parse_json((const char *)data, size);
        return 0;
    }
    struct http_response r;
    http_response_init(&r);
    int ret = 0;
    for (size_t off = 0; ret == 0 && off < size; off += step)
        ret =
            http_response_feed(&r, (const char *)data + off, size - off < step ? size - off : step);
    if (ret == 0)
        ret = http_response_eof(&r);
    if (r.body.len)
        parse_json(r.body.data, r.body.len);
    http_response_release(&r);
    return 0;
}
