/* The decoders of the EDR probes (bashreadline, file_open, ...) on
 * hand-made records, as the kernel side lays them out: fields by name,
 * strings bounded by the record, repaired to UTF-8, cut ones marked. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file_open_flags.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "templates/bashreadline.h"
#include "templates/file_open.h"
#include "templates/tcp_accept.h"
#include "templates/exec.h"
#include "config.h"

/* The decoder's fields for one record, as compact JSON with sorted keys. */
static char *decode(const struct probe_ops *ops, const void *record, size_t size, int *ret)
{
    struct probe_instance pi = {.ops = ops};
    json_t *event = json_object();
    assert_true(size >= ops->record_size);
    *ret = ops->decode(&pi, record, size, event);
    char *text = json_dumps(event, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(event);
    return text;
}

static void expect_fields(const struct probe_ops *ops, const void *record, size_t size,
                          const char *json)
{
    int ret;
    char *text = decode(ops, record, size, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(text, json);
    free(text);
}

static void test_bashreadline(void **state)
{
    const struct probe_ops *ops = probe_builtin_find("bashreadline");
    struct pt_bashreadline_event *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->line, "ls -l \"a b\"");
    expect_fields(ops, e, sizeof(*e), "{\"command\":\"ls -l \\\"a b\\\"\"}");
    /* A line that filled the buffer: no NUL, cut at its size, marked. */
    memset(e->line, 'x', sizeof(e->line));
    e->line[0] = '\xff';
    e->cut = 1;
    int ret;
    char *text = decode(ops, e, sizeof(*e), &ret);
    assert_int_equal(ret, 0);
    assert_non_null(strstr(text, "\"command\":\"\xef\xbf\xbdxxx"));
    assert_non_null(strstr(text, "\"command_truncated\":true"));
    free(text);
    free(e);
}

static void test_file_open_flags(void **state)
{
    static const struct {
        uint32_t flags;
        const char *names;
    } cases[] = {
        {O_RDONLY, "[\"O_RDONLY\"]"},
        {O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
         "[\"O_WRONLY\",\"O_CREAT\",\"O_TRUNC\",\"O_CLOEXEC\"]"},
        /* O_TMPFILE carries O_DIRECTORY's bit, O_SYNC O_DSYNC's. */
        {O_RDWR | O_TMPFILE, "[\"O_RDWR\",\"O_TMPFILE\"]"},
        {O_WRONLY | O_SYNC, "[\"O_WRONLY\",\"O_SYNC\"]"},
        {O_WRONLY | O_DSYNC | O_APPEND, "[\"O_WRONLY\",\"O_APPEND\",\"O_DSYNC\"]"},
        {O_RDONLY | O_DIRECTORY | O_NOFOLLOW | FILE_OPEN_O_LARGEFILE,
         "[\"O_RDONLY\",\"O_LARGEFILE\",\"O_DIRECTORY\",\"O_NOFOLLOW\"]"},
        {O_PATH | O_NONBLOCK | O_NOCTTY | O_EXCL, "[\"O_RDONLY\",\"O_EXCL\",\"O_NOCTTY\","
                                                  "\"O_NONBLOCK\",\"O_PATH\"]"},
        /* Bits nothing names are kept as a number; so is access mode 3. */
        {3 | 0x80000000u, "[\"O_ACCMODE\",\"0x80000000\"]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *names = file_open_flag_names(cases[i].flags);
        char *text = json_dumps(names, JSON_COMPACT);
        if (strcmp(text, cases[i].names) != 0)
            fail_msg("flags 0%o: %s, expected %s", cases[i].flags, text, cases[i].names);
        free(text);
        json_decref(names);
    }
}

static void test_file_open_records(void **state)
{
    const struct probe_ops *ops = probe_builtin_find("file_open");
    struct pt_file_open_event *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->ret = -13;
    e->flags = O_WRONLY | O_CREAT;
    strcpy(e->path, "/etc/shadow");
    e->path_len = 11;
    /* Records end with the path's NUL, as the kernel sends them. */
    size_t size = offsetof(struct pt_file_open_event, path) + 12;
    expect_fields(ops, e, size,
                  "{\"flags\":[\"O_WRONLY\",\"O_CREAT\"],\"path\":\"/etc/shadow\",\"retval\":-13}");
    /* A path_len past the record: the record bounds it. */
    e->path_len = 400;
    expect_fields(ops, e, offsetof(struct pt_file_open_event, path) + 4,
                  "{\"flags\":[\"O_WRONLY\",\"O_CREAT\"],\"path\":\"/etc\",\"retval\":-13}");
    /* Relative, bad UTF-8, cut. */
    e->ret = 3;
    e->flags = O_RDONLY;
    strcpy(e->path, "rel/\xc3");
    e->path_len = 5;
    e->cut = 1;
    expect_fields(ops, e, sizeof(*e),
                  "{\"flags\":[\"O_RDONLY\"],\"path\":\"rel/\xef\xbf\xbd\",\"path_truncated\":"
                  "true,\"retval\":3}");
    free(e);
}

static void test_tcp_accept(void **state)
{
    const struct probe_ops *ops = probe_builtin_find("tcp_accept");
    struct pt_tcp_accept_event e = {.family = AF_INET, .lport = 22, .rport = 50000};
    memcpy(e.laddr.addr, "\xc6\x12\x09\x01", 4);
    memcpy(e.raddr.addr, "\xc6\x12\x09\x02", 4);
    expect_fields(ops, &e, sizeof(e),
                  "{\"laddr\":\"198.18.9.1\",\"lport\":22,\"raddr\":\"198.18.9.2\",\"rport\":"
                  "50000}");
    /* A dual-stack listener's IPv4 peer: IPv4-mapped, printed as IPv4. */
    e.family = AF_INET6;
    memset(&e.laddr, 0, sizeof(e.laddr));
    e.laddr.addr[15] = 1;
    memcpy(e.raddr.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x05", 16);
    expect_fields(ops, &e, sizeof(e),
                  "{\"laddr\":\"::1\",\"lport\":22,\"raddr\":\"127.0.0.5\",\"rport\":50000}");
}

static const struct probe_schema *find_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = probe_builtin_find(name);
    return ops ? &ops->schema : NULL;
}

/* exec: successful execs from the lifecycle's record, failed ones from its
 * own; uid and filename filters on both. */
static void test_exec(void **state)
{
    const struct probe_ops *ops = probe_builtin_find("exec");
    struct config_probes probes = {find_schema, NULL, NULL};
    struct config *cfg = NULL;
    struct pt_error err;
    assert_int_equal(config_load_string("exec:\n  uids: [0, 1000]\n  exclude_uids: [1000]\n"
                                        "  exclude_filenames: ['/usr/lib/*', '*.sh']\n",
                                        "c.yml", &probes, &cfg, &err),
                     0);
    struct probe_instance pi = {.ops = ops, .conf = &cfg->probes[0]};
    struct pt_exec_event *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->filename, "/usr/bin/id");
    e->filename_len = 11;
    size_t size = offsetof(struct pt_exec_event, args);
    json_t *event = json_object();
    assert_int_equal(ops->process_exec(&pi, e, size, event), 0);
    char *text = json_dumps(event, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"filename\":\"/usr/bin/id\",\"retval\":0}");
    free(text);
    json_decref(event);
    /* Filtered: a uid not in uids, an excluded uid, an excluded glob ('*'
     * crosses '/'), a glob on the name's end. */
    static const struct {
        uint32_t uid;
        const char *path;
    } dropped[] = {
        {5, "/usr/bin/id"}, {1000, "/usr/bin/id"}, {0, "/usr/lib/git-core/git"}, {0, "./run.sh"}};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
        e->h.uid = dropped[i].uid;
        memset(e->filename, 0, sizeof(e->filename));
        strcpy(e->filename, dropped[i].path);
        e->filename_len = (uint32_t)strlen(dropped[i].path);
        event = json_object();
        assert_int_equal(ops->process_exec(&pi, e, size, event), -EAGAIN);
        assert_int_equal(json_object_size(event), 0);
        json_decref(event);
    }
    /* A filename_len past the buffer is bounded by it. */
    e->h.uid = 0;
    memset(e->filename, 'x', sizeof(e->filename));
    e->filename_len = 100000;
    event = json_object();
    assert_int_equal(ops->process_exec(&pi, e, size, event), 0);
    assert_int_equal(strlen(json_string_value(json_object_get(event, "filename"))),
                     PT_FILENAME_MAX);
    json_decref(event);
    free(e);

    struct pt_exec_failed_event f = {.ret = -13, .filename_len = 9};
    strcpy(f.filename, "/etc/x\xffy");
    expect_fields(ops, &f, offsetof(struct pt_exec_failed_event, filename) + 10,
                  "{\"filename\":\"/etc/x\xef\xbf\xbdy\",\"retval\":-13}");
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bashreadline),
        cmocka_unit_test(test_file_open_flags),
        cmocka_unit_test(test_file_open_records),
        cmocka_unit_test(test_tcp_accept),
        cmocka_unit_test(test_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
