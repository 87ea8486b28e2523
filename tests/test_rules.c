/* Rule files and conditions: parsing (errors with file, line and field),
 * matching on hand-made events and trees, and which rules the kernel can
 * evaluate. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "probe.h"
#include "rules.h"

/* The built-in probes, plus one without a field table (as a probe from
 * --extra-probe-path has). */
static const struct probe_ops untyped_probe = {.name = "untyped"};

static const struct probe_ops *find_probe(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "untyped") == 0)
        return &untyped_probe;
    return probe_builtin_find(name);
}

static int load(const char *text, struct rule_list *out, struct pt_error *err)
{
    memset(err, 0, sizeof(*err));
    return rules_load_string(text, strlen(text), "/etc/rules/test.yml", find_probe, NULL, out, err);
}

static struct rule *load_one(const char *text, struct rule_list *l)
{
    struct pt_error err;
    int ret = load(text, l, &err);
    if (ret < 0)
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.msg);
    assert_int_equal(ret, 0);
    assert_int_equal(l->n, 1);
    return l->items[0];
}

static void expect_error(const char *text, int line, const char *needle)
{
    struct rule_list l = {0};
    struct pt_error err;
    assert_true(load(text, &l, &err) < 0);
    assert_int_equal(l.n, 0);
    if (!strstr(err.msg, needle) || err.line != line)
        fprintf(stderr, "got %s:%d: %s\nwanted line %d and '%s'\n", err.file, err.line, err.msg,
                line, needle);
    assert_string_equal(err.file, "/etc/rules/test.yml");
    assert_int_equal(err.line, line);
    assert_non_null(strstr(err.msg, needle));
}

/* ---- parsing ---- */

static void test_parse_fields(void **state)
{
    struct rule_list l = {0};
    struct rule *r = load_one("rules:\n"
                              "  - name: no-metadata\n"
                              "    description: cloud metadata is for agents\n"
                              "    probes: [tcp_connect, net_listen]\n"
                              "    match: {port: 80}\n"
                              "    action: interrupt\n"
                              "    audit: true\n",
                              &l);
    assert_string_equal(r->name, "no-metadata");
    assert_string_equal(r->description, "cloud metadata is for agents");
    assert_int_equal(r->n_probes, 2);
    assert_string_equal(r->probes[1], "net_listen");
    assert_int_equal(r->action, RULE_INTERRUPT);
    assert_true(r->audit);
    assert_int_equal(r->line, 2);
    assert_non_null(r->match);
    assert_int_equal(json_integer_value(json_object_get(r->match, "port")), 80);
    rule_list_release(&l);

    /* Defaults: log, no audit, every event of the probe; one probe name. */
    r = load_one("rules:\n  - {name: all-listens, probe: net_listen}\n", &l);
    assert_int_equal(r->action, RULE_LOG);
    assert_false(r->audit);
    assert_null(r->cond);
    assert_false(r->kernel); /* log: nothing for the kernel to do */
    rule_list_release(&l);
}

static void test_parse_errors(void **state)
{
    expect_error("rules:\n  - name: x\n    probes: [tcp_conect]\n", 3,
                 "'tcp_conect' is not a probe");
    expect_error("rules:\n  - name: x\n    probes: [tcp_connect]\n    match: {dadr: 10.0.0.1}\n", 4,
                 "rules[0].match.dadr: probe 'tcp_connect' has no field 'dadr'");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      port: http\n", 5,
                 "rules[0].match.port: 'http' is not a number or a range");
    expect_error(
        "rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      daddr: 10.0.0.0/33\n", 5,
        "'10.0.0.0/33' is not an address or ADDRESS/LENGTH");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    action: explode\n", 4,
                 "rules[0].action: expected log, kill, interrupt or stop");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    acton: kill\n", 4,
                 "rules[0].acton: unknown key");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    audit: yes please\n", 4,
                 "rules[0].audit: expected true or false");
    expect_error("rules:\n  - probes: tcp_connect\n", 2, "a rule needs a name");
    expect_error("rules:\n  - name: 'has space'\n    probes: tcp_connect\n", 2, "rules[0].name");
    expect_error("rules:\n  - name: x\n", 2, "names no probes");
    expect_error("rules:\n  - {name: x, probe: tcp_connect}\n  - {name: x, probe: net_listen}\n", 3,
                 "rule 'x' is already defined at /etc/rules/test.yml:2");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      any: []\n", 5,
                 "expected a non-empty list of conditions");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      not: 3\n", 5,
                 "expected a condition");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n"
                 "      ancestor: {cmdlin: x}\n",
                 5, "an ancestor has no field 'cmdlin'");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      ancestor: x\n", 5,
                 "expected a condition (a mapping) on its elements");
    expect_error("rules:\n  - name: x\n    probes: tcp_connect\n    match:\n      port:\n", 5,
                 "expected a value to compare 'port' with");
    expect_error("rules:\n  - name: x\n    probes: udp_session\n    match:\n"
                 "      destinations: {daddr: nowhere}\n",
                 5, "'nowhere' is not an address");
    expect_error("rulez: []\n", 1, "unknown key");
    expect_error("rules: 3\n", 1, "expected 'rules:' with a list of rules");
    expect_error("rules:\n  - name: x\n    probes: [tcp_connect, udp_session]\n"
                 "    match: {port: 80}\n",
                 4, "probe 'udp_session' has no field 'port'");
    /* YAML the loader refuses: its line. */
    expect_error("rules:\n  - name: [\n", 3, "");
}

static void test_parse_dir(void **state)
{
    char dir[] = "/tmp/test_rules.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/b.yml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("rules:\n  - {name: second, probe: tcp_connect}\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("rules:\n  - {name: first, probe: tcp_connect}\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/.hidden.yml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not: [valid\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("ignored\n", f);
    fclose(f);

    struct rule_list l = {0};
    struct pt_error err = {0};
    assert_int_equal(rules_load_dir(dir, find_probe, NULL, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0]->name, "first"); /* files in name order */
    assert_string_equal(l.items[1]->name, "second");
    rule_list_release(&l);

    /* A name in two files: refused, with both places; nothing loaded. */
    snprintf(path, sizeof(path), "%s/c.yml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("rules:\n  - {name: first, probe: net_listen}\n", f);
    fclose(f);
    assert_true(rules_load_dir(dir, find_probe, NULL, &l, &err) < 0);
    assert_int_equal(l.n, 0);
    assert_non_null(strstr(err.msg, "rule 'first' is already defined at"));
    assert_non_null(strstr(err.file, "c.yml"));
    memset(&err, 0, sizeof(err));
    unlink(path);

    /* One bad file: nothing from the directory. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("rules:\n  - {name: third, probe: tcp_connect, action: nuke}\n", f);
    fclose(f);
    assert_true(rules_load_dir(dir, find_probe, NULL, &l, &err) < 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(err.line, 2);
    unlink(path);

    memset(&err, 0, sizeof(err));
    assert_true(rules_load_dir("/nonexistent/rules", find_probe, NULL, &l, &err) < 0);
    assert_non_null(strstr(err.msg, "cannot read the rules directory"));

    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.yml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/.hidden.yml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- matching ---- */

struct fake_event {
    json_t *tree;
    const char *comm;
    int tree_calls;
};

static json_t *fake_tree(void *ctx)
{
    struct fake_event *fe = ctx;
    fe->tree_calls++;
    return fe->tree;
}

static const char *fake_comm(void *ctx)
{
    return ((struct fake_event *)ctx)->comm;
}

/* A tree: curl, run by alice's bash, under sshd, under PID 1. */
static json_t *make_tree(void)
{
    json_t *t = json_pack("[{s:i,s:s,s:s},{s:i,s:s,s:s},{s:i,s:s,s:s},{s:i,s:s,s:s}]", "pid", 4200,
                          "cmdline", "curl http://198.51.100.2:8080/", "username", "alice", "pid",
                          4100, "cmdline", "-bash", "username", "alice", "pid", 812, "cmdline",
                          "sshd: /usr/sbin/sshd -D", "username", "root", "pid", 1, "cmdline",
                          "/sbin/init", "username", "root");
    assert_non_null(t);
    return t;
}

static bool matches(const char *match_yaml, const char *probe, json_t *fields)
{
    char text[2048];
    snprintf(text, sizeof(text), "rules:\n  - name: t\n    probes: [%s]\n    match:\n%s", probe,
             match_yaml);
    struct rule_list l = {0};
    struct rule *r = load_one(text, &l);
    struct fake_event fe = {.tree = make_tree(), .comm = "curl"};
    struct rule_subject s = {.pid = 4200,
                             .uid = 1000,
                             .fields = fields,
                             .tree = fake_tree,
                             .comm = fake_comm,
                             .ctx = &fe};
    bool m = rule_cond_match(r->cond, &s);
    json_decref(fe.tree);
    rule_list_release(&l);
    return m;
}

static json_t *connect_event(const char *daddr, int port)
{
    json_t *f = json_pack("{s:s,s:s,s:i}", "saddr", "198.51.100.1", "daddr", daddr, "port", port);
    assert_non_null(f);
    return f;
}

static void test_match_fields(void **state)
{
    json_t *ev = connect_event("198.51.100.2", 8080);
    assert_true(matches("      port: 8080\n", "tcp_connect", ev));
    assert_false(matches("      port: 8081\n", "tcp_connect", ev));
    assert_true(matches("      port: 8000-8999\n", "tcp_connect", ev));
    assert_false(matches("      port: 1-1024\n", "tcp_connect", ev));
    assert_true(matches("      port: [22, 8080]\n", "tcp_connect", ev));
    assert_true(matches("      daddr: 198.51.100.0/24\n", "tcp_connect", ev));
    assert_true(matches("      daddr: 198.51.100.2\n", "tcp_connect", ev));
    assert_false(matches("      daddr: 198.51.100.3\n", "tcp_connect", ev));
    assert_false(matches("      daddr: 10.0.0.0/8\n", "tcp_connect", ev));
    assert_false(matches("      daddr: ::/0\n", "tcp_connect", ev)); /* IPv6 only */
    assert_true(matches("      pid: 4200\n      uid: 0-1000\n", "tcp_connect", ev));
    assert_false(matches("      uid: 0\n", "tcp_connect", ev));
    assert_true(matches("      comm: curl\n", "tcp_connect", ev));
    assert_true(matches("      comm: cu*\n", "tcp_connect", ev));
    assert_false(matches("      comm: wget\n", "tcp_connect", ev));
    json_decref(ev);

    /* IPv4 networks match IPv4-mapped IPv6 addresses, as filters do. */
    ev = connect_event("::ffff:10.1.2.3", 443);
    assert_true(matches("      daddr: 10.0.0.0/8\n", "tcp_connect", ev));
    json_decref(ev);
    ev = connect_event("2001:db8::5", 443);
    assert_true(matches("      daddr: 2001:db8::/32\n", "tcp_connect", ev));
    assert_false(matches("      daddr: 2001:db9::/32\n", "tcp_connect", ev));
    assert_false(matches("      daddr: 0.0.0.0/0\n", "tcp_connect", ev));
    json_decref(ev);
}

static void test_match_tree(void **state)
{
    json_t *ev = connect_event("198.51.100.2", 8080);
    assert_true(matches("      cmdline: 'curl *'\n", "tcp_connect", ev));
    /* Each shape of glob: suffix, contains, and one for fnmatch. */
    assert_true(matches("      cmdline: '*:8080/'\n", "tcp_connect", ev));
    assert_false(matches("      cmdline: '*:8081/'\n", "tcp_connect", ev));
    assert_true(matches("      cmdline: '*51.100*'\n", "tcp_connect", ev));
    assert_true(matches("      cmdline: 'curl*198.51.100.?:80[0-9]0/'\n", "tcp_connect", ev));
    assert_false(matches("      cmdline: 'curl*198.51.100.?:81[0-9]0/'\n", "tcp_connect", ev));
    assert_true(matches("      cmdline: '*'\n", "tcp_connect", ev));
    assert_false(matches("      cmdline: 'curl'\n", "tcp_connect", ev));
    assert_false(matches("      cmdline: 'wget *'\n", "tcp_connect", ev));
    assert_true(matches("      username: alice\n", "tcp_connect", ev));
    assert_true(matches("      ancestor: {cmdline: 'sshd:*'}\n", "tcp_connect", ev));
    assert_true(
        matches("      ancestor: {username: root, cmdline: /sbin/init}\n", "tcp_connect", ev));
    /* The process itself is not its own ancestor. */
    assert_false(matches("      ancestor: {cmdline: 'curl*'}\n", "tcp_connect", ev));
    /* Both conditions on the same ancestor. */
    assert_false(
        matches("      ancestor: {username: alice, cmdline: 'sshd*'}\n", "tcp_connect", ev));
    assert_true(matches("      depth: 3\n", "tcp_connect", ev));
    assert_true(matches("      depth: 2-10\n", "tcp_connect", ev));
    assert_false(matches("      depth: 0-2\n", "tcp_connect", ev));
    json_decref(ev);
}

static void test_match_logic(void **state)
{
    json_t *ev = connect_event("198.51.100.2", 8080);
    assert_true(matches("      any:\n        - {port: 22}\n        - {daddr: 198.51.100.0/24}\n",
                        "tcp_connect", ev));
    assert_false(matches("      any:\n        - {port: 22}\n        - {daddr: 10.0.0.0/8}\n",
                         "tcp_connect", ev));
    assert_true(matches("      all:\n        - {port: 8080}\n        - {username: alice}\n",
                        "tcp_connect", ev));
    assert_false(matches("      all:\n        - {port: 8080}\n        - {username: bob}\n",
                         "tcp_connect", ev));
    assert_true(matches("      not: {username: root}\n", "tcp_connect", ev));
    assert_false(matches("      not: {ancestor: {cmdline: '*sshd*'}}\n", "tcp_connect", ev));
    assert_true(matches("      port: 8080\n      not: {any: [{uid: 0}, {comm: 'sh'}]}\n",
                        "tcp_connect", ev));
    json_decref(ev);
}

static void test_match_lists_and_untyped(void **state)
{
    json_t *ev =
        json_pack("{s:[{s:s,s:i,s:f,s:i},{s:s,s:i,s:f,s:i}],s:s}", "destinations", "daddr",
                  "198.51.100.2", "port", 53, "duration", 0.5, "msg_count", 3, "daddr",
                  "2001:db8::1", "port", 123, "duration", 2.0, "msg_count", 1, "error", "");
    assert_non_null(ev);
    assert_true(
        matches("      destinations: {daddr: 198.51.100.0/24, port: 53}\n", "udp_session", ev));
    assert_false(
        matches("      destinations: {daddr: 198.51.100.0/24, port: 123}\n", "udp_session", ev));
    assert_true(matches("      destinations: {msg_count: 2-10}\n", "udp_session", ev));
    json_decref(ev);

    /* A probe without a field table: fields are typed from the values. */
    ev = json_pack("{s:s,s:i,s:s}", "path", "/etc/shadow", "flags", 2, "peer", "10.1.1.1");
    assert_non_null(ev);
    assert_true(matches("      path: /etc/*\n", "untyped", ev));
    assert_true(matches("      flags: 1-3\n", "untyped", ev));
    assert_true(matches("      peer: 10.0.0.0/8\n", "untyped", ev));
    assert_false(matches("      missing: 1\n", "untyped", ev));
    json_decref(ev);
}

/* A tree condition fetches the tree; field conditions alone do not. */
static void test_tree_fetched_only_when_needed(void **state)
{
    struct rule_list l = {0};
    struct rule *r = load_one("rules:\n  - {name: t, probe: tcp_connect, match: {port: 1}}\n", &l);
    json_t *ev = connect_event("198.51.100.2", 1);
    struct fake_event fe = {.tree = NULL};
    struct rule_subject s = {.fields = ev, .tree = fake_tree, .comm = fake_comm, .ctx = &fe};
    assert_true(rule_cond_match(r->cond, &s));
    assert_int_equal(fe.tree_calls, 0);
    rule_list_release(&l);
    /* Without a tree, tree conditions do not hold (and nothing crashes). */
    r = load_one("rules:\n  - {name: t, probe: tcp_connect, match: {ancestor: {pid: 1}}}\n", &l);
    assert_false(rule_cond_match(r->cond, &s));
    assert_int_equal(fe.tree_calls, 1);
    rule_list_release(&l);
    json_decref(ev);
}

/* ---- kernel or daemon ---- */

static void test_kernel_classification(void **state)
{
    struct rule_list l = {0};
    struct rule *r = load_one("rules:\n  - name: k\n    probes: [tcp_connect]\n"
                              "    match: {daddr: 10.0.0.0/8, port: 1000-2000, uid: 1000, "
                              "comm: 'cur*'}\n    action: kill\n",
                              &l);
    assert_true(r->kernel);
    assert_int_equal(r->kterms.flags, RULE_KT_ADDR | RULE_KT_PORT | RULE_KT_UID | RULE_KT_COMM |
                                          RULE_KT_COMM_PREFIX);
    assert_int_equal(r->kterms.family, AF_INET);
    assert_int_equal(r->kterms.prefixlen, 8);
    assert_int_equal(r->kterms.port_lo, 1000);
    assert_int_equal(r->kterms.port_hi, 2000);
    assert_int_equal(r->kterms.uid_lo, 1000);
    assert_string_equal(r->kterms.comm, "cur");
    assert_int_equal(r->kterms.comm_len, 3);
    rule_list_release(&l);

    /* Audit rules too: the audit tells what the kernel would do. */
    r = load_one("rules:\n  - {name: k, probes: [net_listen, tcp_connect], match: {port: 22}, "
                 "action: stop, audit: true}\n",
                 &l);
    assert_true(r->kernel);
    rule_list_release(&l);

    static const char *const daemon_only[] = {
        /* log */
        "{name: d, probe: tcp_connect, match: {port: 22}}",
        /* a tree condition */
        "{name: d, probe: tcp_connect, match: {ancestor: {cmdline: x}}, action: kill}",
        /* a field the kernel does not see */
        "{name: d, probe: tcp_connect, match: {saddr: 10.0.0.1}, action: kill}",
        /* any, not, lists of values */
        "{name: d, probe: tcp_connect, match: {not: {port: 22}}, action: kill}",
        "{name: d, probe: tcp_connect, match: {port: [22, 23]}, action: kill}",
        /* a glob the kernel cannot compare bytewise */
        "{name: d, probe: tcp_connect, match: {comm: '*sh'}, action: kill}",
        "{name: d, probe: tcp_connect, match: {comm: 'averyveryverylongname'}, action: kill}",
        /* a probe whose programs do not evaluate kernel rules */
        "{name: d, probes: [tcp_connect, udp_session], action: kill}",
    };
    for (size_t i = 0; i < sizeof(daemon_only) / sizeof(daemon_only[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "rules:\n  - %s\n", daemon_only[i]);
        r = load_one(text, &l);
        if (r->kernel)
            fprintf(stderr, "kernel, should be daemon: %s\n", daemon_only[i]);
        assert_false(r->kernel);
        rule_list_release(&l);
    }
    /* No condition at all: every event of the probe, in the kernel. */
    r = load_one("rules:\n  - {name: k, probe: net_listen, action: kill}\n", &l);
    assert_true(r->kernel);
    assert_int_equal(r->kterms.flags, 0);
    rule_list_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_dir),
        cmocka_unit_test(test_match_fields),
        cmocka_unit_test(test_match_tree),
        cmocka_unit_test(test_match_logic),
        cmocka_unit_test(test_match_lists_and_untyped),
        cmocka_unit_test(test_tree_fetched_only_when_needed),
        cmocka_unit_test(test_kernel_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
