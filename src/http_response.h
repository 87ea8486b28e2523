/* http_response: an HTTP/1.1 response read incrementally, as bytes arrive
 * on a non-blocking socket.
 *
 * For the container engine's API on its unix socket (src/container_engine.c):
 * a status line, headers, then a body framed by Content-Length, chunked
 * transfer coding, or the end of the connection. The decoded body
 * accumulates in `body`, where a reader of an endless stream (the engine's
 * /events) takes complete lines as they come. The engine is trusted no more
 * than any peer: sizes are bounded and a malformed response is an error,
 * never a crash.
 */
#ifndef PIDTREE_HTTP_RESPONSE_H
#define PIDTREE_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* A status line with its headers, and a body not yet taken by the reader. */
#define HTTP_MAX_HEAD (64u * 1024)
#define HTTP_MAX_BODY (16u * 1024 * 1024)

enum http_state {
    HTTP_STATUS_LINE,
    HTTP_HEADERS,
    HTTP_BODY_LENGTH, /* Content-Length bytes */
    HTTP_CHUNK_SIZE,
    HTTP_CHUNK_DATA,
    HTTP_CHUNK_END, /* the CRLF after a chunk's data */
    HTTP_TRAILERS,
    HTTP_BODY_EOF, /* up to the end of the connection */
    HTTP_DONE,
};

struct http_response {
    enum http_state state;
    int status; /* 200, 404, ... */
    bool chunked;
    bool has_length;    /* Content-Length was given */
    uint64_t remaining; /* of the body (HTTP_BODY_LENGTH) or of the chunk */
    size_t head_len;    /* bytes of status line and headers so far */
    struct strbuf line; /* a line being assembled */
    struct strbuf body; /* decoded body bytes the reader has not taken */
};

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/* Feeds `len` bytes read from the connection. Returns 0, -EPROTO for a
 * malformed response, -E2BIG past the bounds above, -ENOMEM. */
int http_response_feed(struct http_response *r, const char *data, size_t len);

/* The peer closed the connection: completes a body that runs to the end.
 * Returns 0 when the response is complete, -EPROTO when it was cut short. */
int http_response_eof(struct http_response *r);

static inline bool http_response_done(const struct http_response *r)
{
    return r->state == HTTP_DONE;
}

/* Removes the first `n` bytes of the body (the reader took them). */
void http_response_consume(struct http_response *r, size_t n);

/* "GET PATH HTTP/1.1" with Host and "Connection: close" into `out`.
 * Returns 0 or -ENOMEM. */
int http_request_get(struct strbuf *out, const char *path);

#endif
