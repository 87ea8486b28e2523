/* The control socket: its file (a stale one replaced, a live one or a
 * plain file refused, mode 0600), requests and replies, trace filters, and
 * a trace client that does not read: dropped and counted, never waited
 * for. The server's peers must be root: run as another user, the parts
 * that talk to it are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_server.h"
#include "dispatch.h"
#include "probe.h"

static char dir[64], sock_path[96];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_ctl.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(sock_path);
    rmdir(dir);
    return 0;
}

static int requests;

static json_t *answer(void *ctx, const char *cmd, json_t *req)
{
    requests++;
    if (strcmp(cmd, "ls") == 0)
        return json_pack("{s:b,s:[]}", "ok", 1, "rules");
    return json_pack("{s:b,s:s}", "ok", 0, "error", "no such command");
}

static int client_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Runs the server until `fd` has a line for us (at most 2 s). */
static json_t *reply_of(struct ctl_server *srv, int fd)
{
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        ctl_server_run(srv);
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
        char *nl = memchr(buf, '\n', len);
        if (nl)
            return json_loadb(buf, (size_t)(nl - buf), 0, NULL);
        usleep(10000);
    }
    return NULL;
}

static void send_line(int fd, const char *line)
{
    assert_int_equal(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
}

static void test_socket_file(void **state)
{
    struct pt_error err = {0};
    /* A plain file where the socket goes is not ours to remove. */
    int f = open(sock_path, O_CREAT | O_WRONLY, 0600);
    assert_true(f >= 0);
    close(f);
    assert_null(ctl_server_new(sock_path, answer, NULL, &err));
    assert_non_null(strstr(err.msg, "is not a socket"));
    unlink(sock_path);

    struct ctl_server *srv = ctl_server_new(sock_path, answer, NULL, &err);
    assert_non_null(srv);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A second server on a live socket: refused, the first one untouched. */
    memset(&err, 0, sizeof(err));
    assert_null(ctl_server_new(sock_path, answer, NULL, &err));
    assert_non_null(strstr(err.msg, "another daemon answers there"));
    assert_int_equal(stat(sock_path, &st), 0);
    ctl_server_free(srv);
    assert_int_equal(stat(sock_path, &st), -1); /* removed on the way out */

    /* A stale socket (its daemon gone) is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    srv = ctl_server_new(sock_path, answer, NULL, &err);
    assert_non_null(srv);
    ctl_server_free(srv);
}

static void test_requests(void **state)
{
    if (geteuid() != 0)
        skip(); /* only root's requests are answered */
    struct pt_error err = {0};
    struct ctl_server *srv = ctl_server_new(sock_path, answer, NULL, &err);
    assert_non_null(srv);
    int fd = client_connect();
    send_line(fd, "{\"cmd\":\"ls\"}\n{\"cmd\":\"nope\"}\n");
    json_t *r = reply_of(srv, fd);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_true(json_is_array(json_object_get(r, "rules")));
    json_decref(r);
    r = reply_of(srv, fd);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    send_line(fd, "not json\n");
    r = reply_of(srv, fd);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "not a JSON object"));
    json_decref(r);
    send_line(fd, "{\"cmd\":\"trace\",\"filters\":[\"port\"]}\n");
    r = reply_of(srv, fd);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "expected KEY=VALUE"));
    json_decref(r);
    assert_int_equal(requests, 2);
    close(fd);
    ctl_server_free(srv);
}

static const struct probe_ops fake_probe = {.name = "tcp_connect"};

static void publish(struct ctl_server *srv, int port, const char *text)
{
    json_t *fields = json_pack("{s:s,s:i,s:[{s:s}]}", "daddr", "198.51.100.2", "port", port,
                               "rules", "name", "r1");
    struct probe_instance pi = {.ops = &fake_probe};
    struct dispatch_line line = {&pi, 4242, 0, fields, text, strlen(text)};
    ctl_server_publish(srv, &line);
    json_decref(fields);
}

static void test_trace_filters_and_slow_clients(void **state)
{
    if (geteuid() != 0)
        skip();
    struct pt_error err = {0};
    struct ctl_server *srv = ctl_server_new(sock_path, answer, NULL, &err);
    assert_non_null(srv);
    int all = client_connect(), some = client_connect(), slow = client_connect();
    send_line(all, "{\"cmd\":\"trace\"}\n");
    send_line(some, "{\"cmd\":\"trace\",\"filters\":[\"port=80\",\"daddr=198.51.100.0/24\","
                    "\"probe=tcp_connect\",\"rule=r1\"]}\n");
    send_line(slow, "{\"cmd\":\"trace\",\"filters\":[\"port=1-65535\"]}\n");
    int fds[] = {all, some, slow};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = reply_of(srv, fds[i]);
        assert_true(json_is_true(json_object_get(r, "trace")));
        json_decref(r);
    }
    assert_true(ctl_server_tracing(srv));
    publish(srv, 81, "{\"line\":81}");
    publish(srv, 80, "{\"line\":80}");
    json_t *r = reply_of(srv, all);
    assert_int_equal(json_integer_value(json_object_get(r, "line")), 81);
    json_decref(r);
    r = reply_of(srv, some);
    assert_int_equal(json_integer_value(json_object_get(r, "line")), 80);
    json_decref(r);

    /* `slow` never reads: once it owes more than its bound it is dropped;
     * the others keep up (they are drained as they go). */
    static char big[64 * 1024];
    memset(big, 'x', sizeof(big) - 1);
    big[0] = '{';
    char drain[1 << 16];
    struct ctl_server_stats st;
    for (int i = 0; i < 200; i++) {
        publish(srv, 79, big);
        ctl_server_run(srv);
        while (recv(all, drain, sizeof(drain), MSG_DONTWAIT) > 0)
            ;
        ctl_server_get_stats(srv, &st);
        if (st.trace_dropped)
            break;
    }
    assert_int_equal(st.trace_dropped, 1);
    assert_int_equal(st.trace_clients, 2);
    /* The dropped client sees the end of its stream. */
    char c;
    ssize_t n;
    for (int i = 0; i < 1000; i++)
        if ((n = recv(slow, drain, sizeof(drain), MSG_DONTWAIT)) == 0)
            break;
    assert_int_equal(recv(slow, &c, 1, MSG_DONTWAIT), 0);
    close(all);
    close(some);
    close(slow);
    ctl_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_filters_and_slow_clients, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
