/* http_response: responses as Docker and podman send them on their unix
 * sockets (Content-Length, chunked, streamed events), cut at every byte
 * boundary, and the malformed or oversized ones a broken engine could
 * send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_response.h"

/* Feeds `text` in pieces of `step` bytes; returns the first error or 0. */
static int feed_in_steps(struct http_response *r, const char *text, size_t step)
{
    size_t len = strlen(text);
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        int ret = http_response_feed(r, text + off, n);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The same response must decode to the same body however it is cut. */
static void expect_body(const char *text, bool close, int status, const char *body)
{
    for (size_t step = 1; step <= strlen(text); step++) {
        struct http_response r;
        http_response_init(&r);
        assert_int_equal(feed_in_steps(&r, text, step), 0);
        if (close)
            assert_int_equal(http_response_eof(&r), 0);
        assert_true(http_response_done(&r));
        assert_int_equal(r.status, status);
        assert_int_equal(r.body.len, strlen(body));
        if (r.body.len)
            assert_memory_equal(r.body.data, body, r.body.len);
        http_response_release(&r);
    }
}

static void expect_error(const char *text, int err)
{
    struct http_response r;
    http_response_init(&r);
    int ret = feed_in_steps(&r, text, 7);
    if (ret == 0)
        ret = http_response_eof(&r);
    assert_int_equal(ret, err);
    http_response_release(&r);
}

static void test_content_length(void **state)
{
    expect_body("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
                "Content-Length: 15\r\n\r\n[{\"Id\":\"abc\"}]\n",
                false, 200, "[{\"Id\":\"abc\"}]\n");
    expect_body("HTTP/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n", false, 404, "");
    expect_body("HTTP/1.1 204 No Content\r\n\r\n", false, 204, "");
    /* Bare LF line ends are taken too. */
    expect_body("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, "ok");
}

static void test_chunked(void **state)
{
    /* podman's list, and a chunk extension and a trailer. */
    expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\n[{\"a\"\r\n5;name=x\r\n:1}]\n\r\n0\r\nX-Trailer: y\r\n\r\n",
                false, 200, "[{\"a\":1}]\n");
    /* Chunked wins over a Content-Length (RFC 9112 6.3). */
    expect_body("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nhi\r\n0\r\n\r\n",
                false, 200, "hi");
}

static void test_until_close(void **state)
{
    expect_body("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\n", true, 200,
                "{\"x\":1}\n");
    /* Cut short: a length not reached, a chunk not finished. */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\n", -EPROTO);
    expect_error("", -EPROTO);
}

/* /events: chunks as they come, the reader taking whole lines. */
static void test_stream(void **state)
{
    struct http_response r;
    http_response_init(&r);
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(http_response_feed(&r, head, strlen(head)), 0);
    assert_int_equal(r.state, HTTP_CHUNK_SIZE);
    const char *c1 = "13\r\n{\"Action\":\"sta";
    assert_int_equal(http_response_feed(&r, c1, strlen(c1)), 0);
    assert_int_equal(r.body.len, 14);
    const char *c2 = "rt\"}\n\r\n";
    assert_int_equal(http_response_feed(&r, c2, strlen(c2)), 0);
    assert_false(http_response_done(&r));
    /* Chunk sizes are hex. */
    char big[256];
    memset(big, 'x', sizeof(big));
    const char *size = "1a\r\n";
    assert_int_equal(http_response_feed(&r, size, strlen(size)), 0);
    assert_int_equal(http_response_feed(&r, big, 26), 0);
    assert_int_equal(http_response_feed(&r, "\r\n", 2), 0);
    assert_int_equal(r.body.len, 19 + 26);
    http_response_consume(&r, 19);
    assert_int_equal(r.body.len, 26);
    assert_int_equal(r.body.data[0], 'x');
    http_response_consume(&r, 100);
    assert_int_equal(r.body.len, 0);
    /* The engine went away mid-stream. */
    assert_int_equal(http_response_eof(&r), -EPROTO);
    http_response_release(&r);
}

static void test_malformed(void **state)
{
    expect_error("SSH-2.0-OpenSSH\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 2x0 OK\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 2000 OK\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -EPROTO);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO);
    /* The CRLF after a chunk's data is not optional. */
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n0\r\n\r\n",
                 -EPROTO);
    /* Bytes after a complete response. */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", -EPROTO);
}

static void test_bounds(void **state)
{
    char huge[64];
    snprintf(huge, sizeof(huge), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
             HTTP_MAX_BODY + 1);
    expect_error(huge, -E2BIG);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                 -E2BIG);
    /* Headers without end. */
    struct http_response r;
    http_response_init(&r);
    char *line = malloc(HTTP_MAX_HEAD + 16);
    assert_non_null(line);
    memset(line, 'a', HTTP_MAX_HEAD + 15);
    memcpy(line, "HTTP/1.1 200 OK\r\nX: ", 20);
    assert_int_equal(http_response_feed(&r, line, HTTP_MAX_HEAD + 15), -E2BIG);
    http_response_release(&r);
    /* A stream's body the reader never takes. */
    http_response_init(&r);
    const char *head = "HTTP/1.1 200 OK\r\n\r\n";
    assert_int_equal(http_response_feed(&r, head, strlen(head)), 0);
    memset(line, 'b', HTTP_MAX_HEAD);
    int ret = 0;
    for (size_t i = 0; ret == 0 && i <= HTTP_MAX_BODY / HTTP_MAX_HEAD; i++)
        ret = http_response_feed(&r, line, HTTP_MAX_HEAD);
    assert_int_equal(ret, -E2BIG);
    http_response_release(&r);
    free(line);
}

static void test_request(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(http_request_get(&sb, "/v1.24/containers/json"), 0);
    assert_non_null(strstr(sb.data, "GET /v1.24/containers/json HTTP/1.1\r\nHost: docker\r\n"));
    assert_non_null(strstr(sb.data, "\r\nConnection: close\r\n\r\n"));
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length), cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_until_close),    cmocka_unit_test(test_stream),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
