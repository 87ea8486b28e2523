#include "http_response.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    r->state = HTTP_STATUS_LINE;
}

void http_response_release(struct http_response *r)
{
    strbuf_release(&r->line);
    strbuf_release(&r->body);
    http_response_init(r);
}

void http_response_consume(struct http_response *r, size_t n)
{
    if (n >= r->body.len) {
        strbuf_reset(&r->body);
        return;
    }
    memmove(r->body.data, r->body.data + n, r->body.len - n);
    r->body.len -= n;
    r->body.data[r->body.len] = '\0';
}

int http_request_get(struct strbuf *out, const char *path)
{
    return strbuf_printf(out,
                         "GET %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: pidtree-bcc\r\n"
                         "Accept: application/json\r\nConnection: close\r\n\r\n",
                         path);
}

/* "HTTP/1.x NNN reason" */
static int parse_status(struct http_response *r, const char *line)
{
    if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) || line[8] != ' ')
        return -EPROTO;
    const char *code = line + 9;
    for (int i = 0; i < 3; i++)
        if (!isdigit((unsigned char)code[i]))
            return -EPROTO;
    if (code[3] && code[3] != ' ')
        return -EPROTO;
    r->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    return 0;
}

/* A decimal (Content-Length) or hex (chunk size) number; a chunk size may
 * be followed by extensions after ';', which say nothing we need. */
static int parse_number(const char *s, int base, uint64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isxdigit((unsigned char)*s) || (base == 10 && !isdigit((unsigned char)*s)))
        return -EPROTO;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno == ERANGE || v > HTTP_MAX_BODY)
        return -E2BIG;
    if (*end && !(base == 16 && *end == ';'))
        return -EPROTO;
    *out = v;
    return 0;
}

static int parse_header(struct http_response *r, const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return -EPROTO;
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        /* Engines send chunked or nothing; any other coding (gzip) was not
         * asked for and cannot be read. */
        if (strcasecmp(value, "chunked") != 0)
            return -EPROTO;
        r->chunked = true;
        return 0;
    }
    if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        r->has_length = true;
        return parse_number(value, 10, &r->remaining);
    }
    return 0;
}

/* The blank line after the headers: how the body is framed (RFC 9112
 * 6.3): chunked wins over a length; 1xx, 204 and 304 have none. */
static void body_start(struct http_response *r)
{
    if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304)
        r->state = HTTP_DONE;
    else if (r->chunked)
        r->state = HTTP_CHUNK_SIZE;
    else if (r->has_length)
        r->state = r->remaining ? HTTP_BODY_LENGTH : HTTP_DONE;
    else
        r->state = HTTP_BODY_EOF;
}

static int on_line(struct http_response *r, const char *line)
{
    int ret = 0;
    switch (r->state) {
    case HTTP_STATUS_LINE:
        ret = parse_status(r, line);
        r->state = HTTP_HEADERS;
        break;
    case HTTP_HEADERS:
        if (!line[0])
            body_start(r);
        else
            ret = parse_header(r, line);
        break;
    case HTTP_CHUNK_SIZE:
        ret = parse_number(line, 16, &r->remaining);
        r->state = r->remaining ? HTTP_CHUNK_DATA : HTTP_TRAILERS;
        break;
    case HTTP_CHUNK_END:
        ret = line[0] ? -EPROTO : 0;
        r->state = HTTP_CHUNK_SIZE;
        break;
    case HTTP_TRAILERS:
        if (!line[0])
            r->state = HTTP_DONE;
        break;
    default:
        ret = -EPROTO;
    }
    return ret;
}

/* Appends to the line being assembled up to its LF; a complete line (CR
 * and LF removed) goes to on_line. Returns the bytes used or an error. */
static long take_line(struct http_response *r, const char *data, size_t len)
{
    const char *lf = memchr(data, '\n', len);
    size_t n = lf ? (size_t)(lf - data) + 1 : len;
    if (r->state == HTTP_STATUS_LINE || r->state == HTTP_HEADERS) {
        r->head_len += n;
        if (r->head_len > HTTP_MAX_HEAD)
            return -E2BIG;
    }
    /* Every line (a chunk's size, a trailer) is bounded too: a stream that
     * never sends LF must not grow without end. */
    if (r->line.len + n > HTTP_MAX_HEAD)
        return -E2BIG;
    if (strbuf_append(&r->line, data, lf ? n - 1 : n) < 0)
        return -ENOMEM;
    if (!lf)
        return (long)n;
    if (r->line.len && r->line.data[r->line.len - 1] == '\r')
        r->line.data[--r->line.len] = '\0';
    int ret = on_line(r, r->line.data ? r->line.data : "");
    strbuf_reset(&r->line);
    return ret < 0 ? ret : (long)n;
}

static long take_body(struct http_response *r, const char *data, size_t len)
{
    size_t n = len;
    if (r->state != HTTP_BODY_EOF && n > r->remaining)
        n = (size_t)r->remaining;
    if (r->body.len + n > HTTP_MAX_BODY)
        return -E2BIG;
    if (strbuf_append(&r->body, data, n) < 0)
        return -ENOMEM;
    if (r->state == HTTP_BODY_EOF)
        return (long)n;
    r->remaining -= n;
    if (r->remaining == 0)
        r->state = r->state == HTTP_CHUNK_DATA ? HTTP_CHUNK_END : HTTP_DONE;
    return (long)n;
}

int http_response_feed(struct http_response *r, const char *data, size_t len)
{
    while (len > 0) {
        long used;
        if (r->state == HTTP_DONE)
            return -EPROTO; /* bytes after the response: not ours to read */
        if (r->state == HTTP_BODY_LENGTH || r->state == HTTP_CHUNK_DATA ||
            r->state == HTTP_BODY_EOF)
            used = take_body(r, data, len);
        else
            used = take_line(r, data, len);
        if (used < 0)
            return (int)used;
        data += used;
        len -= (size_t)used;
    }
    return 0;
}

int http_response_eof(struct http_response *r)
{
    if (r->state == HTTP_BODY_EOF)
        r->state = HTTP_DONE;
    return r->state == HTTP_DONE ? 0 : -EPROTO;
}
