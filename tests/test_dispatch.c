/* dispatch: hand-made ring buffer records in, lines out. The same events
 * written with a (do-nothing) plugin and without must be the same bytes:
 * the two paths share one writer. Bounds: command lines, lines, per-user
 * budget. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "dispatch.h"
#include "json_writer.h"
#include "plugin_loader.h"
#include "rule_engine.h"
#include "rules.h"
#include "templates/rules.h"
#include "uid_budget.h"

#define TEST_PROBE_ID 1

struct test_record {
    struct pt_header h;
    uint32_t port;
    uint32_t pad;
};

static int test_decode(struct probe_instance *pi, const void *record, size_t size, json_t *event)
{
    const struct test_record *r = record;
    json_t *nested = json_pack("{s:[i,n,b]}", "a", 1, 0);
    /* Bytes a hostile process could choose: controls, quotes, bad UTF-8. */
    static const char note[] = "q\"b\\s/\x01\x1f\x7f\n\t\xff\xc3\xa9 end";
    if (!nested || json_object_set_new(event, "daddr", json_string("127.0.0.1")) ||
        json_object_set_new(event, "port", json_integer(r->port)) ||
        json_object_set_new(event, "note", json_stringn_nocheck(note, sizeof(note) - 1)) ||
        json_object_set_new(event, "ratio", json_real(0.25)) ||
        json_object_set_new(event, "nested", nested))
        return -ENOMEM;
    return 0;
}

static const struct probe_ops test_probe = {
    .name = "test_probe",
    .record_size = sizeof(struct test_record),
    .decode = test_decode,
};

struct side {
    char root[64];
    struct proc_cache *cache;
    struct output out;
    int fd;
    struct dispatch *d;
    struct probe_instance pi;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void put_pid_file(const char *root, uint32_t pid, const char *name, const char *data,
                         size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%u", root, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%u/%s", root, pid, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_file(const char *root, const char *name, const char *data, size_t len)
{
    put_pid_file(root, 1, name, data, len);
}

static const char *name_of_container(void *ctx, const char *id)
{
    return strncmp(id, "e142", 4) == 0 ? "web" : NULL;
}

static void tap_count(void *ctx, const struct dispatch_line *line)
{
    int *n = ctx;
    (*n)++;
    /* The tap sees the line as written, and the event's fields. */
    assert_true(line->len > 0 && line->text[0] == '{');
    assert_non_null(json_object_get(line->fields, "port"));
}

static void side_init_rules(struct side *s, struct plugin_set *plugins, struct uid_budget *budget,
                            struct rule_engine *rules, int *taps)
{
    snprintf(s->root, sizeof(s->root), "/tmp/pt-dispatch-XXXXXX");
    assert_non_null(mkdtemp(s->root));
    static const char stat[] =
        "1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 1000 100\n";
    static const char status[] = "Name:\tinit\nUid:\t0\t0\t0\t0\n";
    put_file(s->root, "stat", stat, sizeof(stat) - 1);
    put_file(s->root, "status", status, sizeof(status) - 1);
    put_file(s->root, "cmdline", "/sbin/init\0", 11);
    s->cache = proc_cache_new(s->root);
    assert_non_null(s->cache);
    s->fd = memfd_create("out", 0);
    assert_true(s->fd >= 0);
    assert_int_equal(output_open_fd(&s->out, s->fd), 0);
    struct dispatch_env env = {.cache = s->cache,
                               .out = &s->out,
                               .budget = budget,
                               .container_name = name_of_container,
                               .rules = rules,
                               .tap = taps ? tap_count : NULL,
                               .tap_ctx = taps};
    s->d = dispatch_new(&env);
    assert_non_null(s->d);
    dispatch_set_clock(s->d, 0); /* both sides write the same timestamps */
    s->pi = (struct probe_instance){.ops = &test_probe, .id = TEST_PROBE_ID};
    dispatch_add_probe(s->d, &s->pi, plugins);
}

static void side_init(struct side *s, struct plugin_set *plugins, struct uid_budget *budget)
{
    side_init_rules(s, plugins, budget, NULL, NULL);
}

static char *side_output(struct side *s)
{
    assert_int_equal(output_flush(&s->out), 0);
    off_t size = lseek(s->fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(s->fd, text, (size_t)size, 0), size);
    return text;
}

static void side_release(struct side *s)
{
    dispatch_free(s->d);
    output_close(&s->out);
    close(s->fd);
    proc_cache_free(s->cache);
    nftw(s->root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void feed(struct side *s, const void *rec, size_t size)
{
    assert_int_equal(dispatch_record(s->d, rec, size), 0);
}

static void fork_rec(struct side *s, uint32_t parent, uint32_t child, uint32_t uid)
{
    struct pt_fork_event e = {
        .h = {.type = PT_EV_FORK, .pid = parent, .uid = uid, .boot_ns = 2000000000ull},
        .child_pid = child};
    feed(s, &e, sizeof(e));
}

/* An exec whose arguments are `len` bytes of `c`, by a process whose pid
 * in its own PID namespace is `ns_pid` (0: the initial one). */
static void exec_rec_ns(struct side *s, uint32_t pid, uint32_t uid, char c, size_t len,
                        uint32_t ns_pid)
{
    size_t size = offsetof(struct pt_exec_event, args) + len + 1;
    struct pt_exec_event *e = calloc(1, size);
    assert_non_null(e);
    e->h = (struct pt_header){.type = PT_EV_EXEC, .pid = pid, .uid = uid, .boot_ns = 3};
    e->args_len = (uint32_t)len + 1;
    memset(e->args, c, len);
    memcpy(e->args, "sh\0", 3);
    e->ns_pid = ns_pid;
    feed(s, e, size);
    free(e);
}

static void exec_rec(struct side *s, uint32_t pid, uint32_t uid, char c, size_t len)
{
    exec_rec_ns(s, pid, uid, c, len, 0);
}

static void probe_rec(struct side *s, uint32_t pid, uint32_t uid, uint32_t port)
{
    struct test_record r = {.h = {.type = PT_EV_PROBE,
                                  .probe_id = TEST_PROBE_ID,
                                  .pid = pid,
                                  .tid = pid,
                                  .uid = uid,
                                  .boot_ns = 5000000000ull},
                            .port = port};
    feed(s, &r, sizeof(r));
}

/* pid 100 under 1 with a 10 KB command line; a 60-deep chain under it
 * with 4 KB command lines each; events from both. */
static void scenario(struct side *s)
{
    fork_rec(s, 1, 100, 0);
    exec_rec(s, 100, 0, 'x', 10000);
    probe_rec(s, 100, 0, 80);
    uint32_t parent = 100;
    for (uint32_t pid = 1000; pid < 1060; pid++) {
        fork_rec(s, parent, pid, 0);
        exec_rec(s, pid, 0, 'a' + (char)(pid % 26), 4000);
        parent = pid;
    }
    probe_rec(s, 1059, 0, 443);
    probe_rec(s, 4242, 0, 22); /* unknown process: the tree's error */
}

static const char *uid_as_name(void *ctx, uint32_t uid)
{
    static char name[16];
    snprintf(name, sizeof(name), "%u", (unsigned)uid);
    return name;
}

static struct plugin_set *identity_plugin(struct probe_conf *probe, struct plugin_conf *pc)
{
    static const char *const dirs[] = {TEST_BUILD_DIR "/plugins"};
    static const struct plugin_services services = {.username = uid_as_name};
    struct pt_error err = {0};
    *pc = (struct plugin_conf){.name = "identityplugin", .enabled = true, .file = "t.yml"};
    pc->args = json_object();
    *probe = (struct probe_conf){.name = "test_probe", .file = "t.yml", .line = 1};
    probe->plugins = pc;
    probe->n_plugins = 1;
    struct pt_diags warnings = {0};
    struct plugin_set *set = plugin_set_load(probe, dirs, 1, &services, &warnings, &err);
    if (!set)
        fail_msg("identityplugin: %s", err.msg);
    assert_int_equal(plugin_set_count(set), 1);
    assert_int_equal(warnings.n, 0);
    return set;
}

static void test_plugin_and_direct_paths_write_the_same_bytes(void **state)
{
    struct probe_conf probe;
    struct plugin_conf pc;
    struct plugin_set *set = identity_plugin(&probe, &pc);
    struct side direct, plugged;
    side_init(&direct, NULL, NULL);
    side_init(&plugged, set, NULL); /* which takes the set */
    scenario(&direct);
    scenario(&plugged);
    char *a = side_output(&direct), *b = side_output(&plugged);
    assert_int_equal(direct.out.written[TEST_PROBE_ID], 3);
    assert_string_equal(a, b);

    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(a, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        json_error_t jerr;
        json_t *ev = json_loads(line, 0, &jerr);
        assert_non_null(ev);
        assert_true(strlen(line) <= DISPATCH_DEFAULT_MAX_LINE);
        json_t *tree = json_object_get(ev, "proctree");
        json_t *first = json_array_get(tree, 0);
        if (n == 0) {
            /* 10 KB of arguments: cut at 4 KiB, said so. */
            assert_int_equal(json_string_length(json_object_get(first, "cmdline")), 4096);
            assert_true(json_is_true(json_object_get(first, "truncated")));
            assert_null(json_object_get(ev, "truncated"));
            assert_string_equal(json_string_value(json_object_get(ev, "note")),
                                "q\"b\\s/\x01\x1f\x7f\n\t\xef\xbf\xbd\xc3\xa9 end");
        } else if (n == 1) {
            /* 61 entries of ~4 KB: the middle is left out, both ends kept. */
            assert_true(json_is_true(json_object_get(ev, "truncated")));
            assert_int_equal(json_integer_value(json_object_get(first, "pid")), 1059);
            json_t *last = json_array_get(tree, json_array_size(tree) - 1);
            assert_int_equal(json_integer_value(json_object_get(last, "pid")), 1);
            assert_true(json_array_size(tree) < 62 && json_array_size(tree) > 8);
            assert_string_equal(json_string_value(json_object_get(ev, "error")), "");
        } else {
            assert_string_equal(json_string_value(json_object_get(ev, "error")),
                                "process 4242 not found");
        }
        json_decref(ev);
    }
    assert_int_equal(n, 3);
    free(a);
    free(b);
    side_release(&direct);
    side_release(&plugged); /* frees the plugin set with the dispatcher */
    json_decref(pc.args);
}

#define CID "e14279f53b7be40d48be7c9e763e597434fe573aa7b26d4ffb414dd2f825857e"

/* pid 700: pid 1 of a podman container, its name known; pid 701: in a
 * container whose name the engine has not said. */
static void container_procs(struct side *s)
{
    static const char stat[] =
        "700 (sh) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 9 1000 100\n";
    static const char status[] = "Name:\tsh\nUid:\t0\t0\t0\t0\nNSpid:\t700\t1\n";
    static const char cgroup[] = "0::/libpod_parent/libpod-" CID "\n";
    static const char other[] =
        "0::/system.slice/docker-"
        "3f1bd3a2c7c0d8b6c1f9b33ee2b8e4a1b0c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1.scope\n";
    put_pid_file(s->root, 700, "stat", stat, sizeof(stat) - 1);
    put_pid_file(s->root, 700, "status", status, sizeof(status) - 1);
    put_pid_file(s->root, 700, "cgroup", cgroup, sizeof(cgroup) - 1);
    put_pid_file(s->root, 700, "cmdline", "sh\0", 3);
    fork_rec(s, 700, 701, 0);
    put_pid_file(s->root, 701, "cgroup", other, sizeof(other) - 1);
    exec_rec(s, 701, 0, 'x', 10);
    /* Gone from /proc; the kernel said its pid inside at exec. */
    fork_rec(s, 700, 702, 0);
    exec_rec_ns(s, 702, 0, 'y', 10, 5);
    probe_rec(s, 700, 0, 80);
    probe_rec(s, 701, 0, 81);
    probe_rec(s, 1, 0, 82);
    probe_rec(s, 702, 0, 83);
}

/* An event from a container says which, by id, name and runtime, and the
 * process's pid inside, right after "pid"; a host process's says nothing
 * more. Both writers agree. */
static void test_container_identity(void **state)
{
    struct probe_conf probe;
    struct plugin_conf pc;
    struct side direct, plugged;
    side_init(&direct, NULL, NULL);
    side_init(&plugged, identity_plugin(&probe, &pc), NULL);
    container_procs(&direct);
    container_procs(&plugged);
    char *a = side_output(&direct), *b = side_output(&plugged);
    assert_string_equal(a, b);
    /* One string per line, so that each search stays in its line. */
    char *lines[4], *save = NULL;
    for (int i = 0; i < 4; i++)
        assert_non_null(lines[i] = strtok_r(i ? NULL : a, "\n", &save));
    char *l2 = lines[1], *l3 = lines[2], *l4 = lines[3];
    assert_non_null(strstr(a, "\"pid\":700,\"ns_pid\":1,\"container_id\":\"" CID
                              "\",\"container_name\":\"web\",\"container_runtime\":\"podman\","
                              "\"proctree\":[{\"pid\":700,\"ns_pid\":1,\"cmdline\":\"sh\""));
    /* Exec'd into another container's cgroup (a fake: forked from one),
     * whose name is not known; its pid inside unread. */
    assert_non_null(strstr(l2, "\"pid\":701,\"container_id\":\"3f1bd3a2"));
    assert_non_null(strstr(l2, "\",\"container_runtime\":\"docker\",\"proctree\":[{\"pid\":701,"));
    assert_null(strstr(l2, "container_name"));
    assert_non_null(strstr(l3, "\"pid\":1,\"proctree\":[{\"pid\":1,\"cmdline\""));
    assert_null(strstr(l3, "container"));
    assert_non_null(strstr(l4, "\"pid\":702,\"ns_pid\":5,\"container_id\":\"" CID "\""));
    assert_non_null(strstr(l4, "\"proctree\":[{\"pid\":702,\"ns_pid\":5,"));
    free(a);
    free(b);
    side_release(&direct);
    side_release(&plugged);
    json_decref(pc.args);
}

/* One user past their budget loses events, counted and reported in a line
 * of its own; another user's events are untouched. */
static void test_budget_drops_one_user_and_reports(void **state)
{
    struct side s;
    struct uid_budget *budget = uid_budget_new(1, 2000); /* 2000 bytes, then 1 byte/s */
    assert_non_null(budget);
    side_init(&s, NULL, budget);
    struct dispatch_stats st;
    fork_rec(&s, 1, 300, 65534);
    fork_rec(&s, 1, 400, 1000);
    for (int i = 0; i < 50; i++)
        probe_rec(&s, 300, 65534, (uint32_t)i);
    for (int i = 0; i < 5; i++)
        probe_rec(&s, 400, 1000, (uint32_t)i);
    dispatch_get_stats(s.d, &st);
    assert_true(st.rate_limited[TEST_PROBE_ID] >= 40);
    assert_int_equal(dispatch_report_drops(s.d), 0);
    char *text = side_output(&s);
    int of_300 = 0, of_400 = 0, reports = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *ev = json_loads(line, 0, &jerr);
        assert_non_null(ev);
        json_int_t pid = json_integer_value(json_object_get(ev, "pid"));
        of_300 += pid == 300;
        of_400 += pid == 400;
        if (json_string_value(json_object_get(ev, "type")) &&
            strcmp(json_string_value(json_object_get(ev, "type")), "rate_limited") == 0) {
            reports++;
            assert_int_equal(json_integer_value(json_object_get(ev, "uid")), 65534);
            assert_int_equal(json_integer_value(json_object_get(ev, "dropped")),
                             (json_int_t)st.rate_limited[TEST_PROBE_ID]);
        }
        json_decref(ev);
    }
    assert_int_equal(of_400, 5);
    assert_int_equal(of_300 + (int)st.rate_limited[TEST_PROBE_ID], 50);
    assert_int_equal(reports, 1);

    /* Root is never limited. */
    fork_rec(&s, 1, 500, 0);
    for (int i = 0; i < 50; i++)
        probe_rec(&s, 500, 0, (uint32_t)i);
    uint64_t limited = st.rate_limited[TEST_PROBE_ID];
    assert_int_equal(s.out.written[TEST_PROBE_ID] + s.out.n_marks,
                     (uint64_t)(of_300 + of_400 + 50));
    dispatch_get_stats(s.d, &st);
    assert_int_equal(st.rate_limited[TEST_PROBE_ID], limited);
    free(text);
    side_release(&s);
    uid_budget_free(budget);
}

static const struct probe_ops *find_test_probe(void *ctx, const char *name)
{
    return strcmp(name, "test_probe") == 0 ? &test_probe : NULL;
}

/* Lines of `text` whose "rules" name `rule`. */
static int lines_marked(const char *text, const char *rule)
{
    int n = 0;
    char *copy = strdup(text), *save = NULL;
    assert_non_null(copy);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = json_loads(line, 0, NULL);
        assert_non_null(ev);
        json_t *marks = json_object_get(ev, "rules");
        for (size_t i = 0; i < json_array_size(marks); i++)
            n += strcmp(json_string_value(json_object_get(json_array_get(marks, i), "name")),
                        rule) == 0;
        json_decref(ev);
    }
    free(copy);
    return n;
}

/* Rules mark the lines of the events they match; an event over its user's
 * budget is still judged, and written when a rule matched it; a kernel
 * rule's hit record marks the event of its thread that follows. */
static void test_rules_mark_lines(void **state)
{
    struct side s;
    struct uid_budget *budget = uid_budget_new(1, 2000);
    struct rule_engine *re = rule_engine_new();
    struct rule_list l = {0};
    struct pt_error err = {0};
    static const char text[] = "rules:\n"
                               "  - {name: port-7, probe: test_probe, match: {port: 7}}\n"
                               "  - {name: from-init, probe: test_probe, "
                               "match: {ancestor: {cmdline: /sbin/init}}}\n";
    assert_non_null(budget);
    assert_non_null(re);
    assert_int_equal(
        rules_load_string(text, sizeof(text) - 1, "t.yml", find_test_probe, NULL, &l, &err), 0);
    assert_int_equal(rule_engine_add(re, &l, &err), 0);
    const char *names[] = {NULL, "test_probe"};
    rule_engine_bind(re, names, 2);
    int taps = 0;
    side_init_rules(&s, NULL, budget, re, &taps);
    fork_rec(&s, 1, 300, 65534);
    for (int i = 0; i < 50; i++)
        probe_rec(&s, 300, 65534, (uint32_t)(i % 10));
    struct dispatch_stats st;
    dispatch_get_stats(s.d, &st);
    /* Every event matches from-init (PID 1 is every ancestor's root): all
     * written, none dropped for the budget. */
    assert_int_equal(st.rate_limited[TEST_PROBE_ID], 0);
    char *out = side_output(&s);
    assert_int_equal(lines_marked(out, "from-init"), 50);
    assert_int_equal(lines_marked(out, "port-7"), 5);
    assert_int_equal(taps, 50);
    free(out);

    /* A kernel rule's hit marks the next event of its thread. */
    struct pt_rule_event hit = {.h = {.type = PT_EV_RULE,
                                      .probe_id = TEST_PROBE_ID,
                                      .pid = 300,
                                      .tid = 300,
                                      .boot_ns = 5000000000ull - 1000},
                                .rule_id = 1,
                                .flags = PT_RULE_HIT_AUDIT};
    feed(&s, &hit, sizeof(hit));
    probe_rec(&s, 300, 65534, 7);
    out = side_output(&s);
    assert_int_equal(lines_marked(out, "port-7"), 7); /* by the kernel, and the daemon */
    free(out);
    side_release(&s);
    rule_engine_free(re);
    uid_budget_free(budget);
}

/* The writer escapes strings exactly as jansson's compact dump does. */
static void test_writer_matches_jansson_escaping(void **state)
{
    char bytes[128];
    for (int i = 0; i < 128; i++)
        bytes[i] = (char)i;
    json_t *str = json_stringn(bytes, sizeof(bytes));
    assert_non_null(str);
    char *expected = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
    struct strbuf sb = STRBUF_INIT;
    struct json_writer w;
    json_writer_init(&w, &sb);
    json_writer_value(&w, str);
    assert_int_equal(json_writer_error(&w), 0);
    assert_string_equal(sb.data, expected);
    free(expected);
    json_decref(str);
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_and_direct_paths_write_the_same_bytes),
        cmocka_unit_test(test_budget_drops_one_user_and_reports),
        cmocka_unit_test(test_writer_matches_jansson_escaping),
        cmocka_unit_test(test_rules_mark_lines),
        cmocka_unit_test(test_container_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
