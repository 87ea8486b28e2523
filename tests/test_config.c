/* The YAML config: the original's schema, includes, merges, and every
 * validation error with its file, line and field. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "probe.h"

/* A probe from --extra-probe-path, as its description's settings make it. */
static const struct probe_option my_probe_options[] = {
    {.name = "min_uid", .type = POPT_INT, .min = LLONG_MIN, .max = LLONG_MAX},
    {.name = "verbose", .type = POPT_BOOL},
};
static const struct probe_schema my_probe_schema = {my_probe_options, 2, true, false};

/* The built-ins' real schemas, from their probes/NAME.c. */
static const struct probe_schema *find_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = probe_builtin_find(name);
    return ops ? &ops->schema : strcmp(name, "my_probe") == 0 ? &my_probe_schema : NULL;
}

static const struct config_probes known = {find_schema, NULL, "tcp_connect, ..."};
static const struct config_probes *const known_probe = &known;

/* An option's integer value (bool, int, seconds in ms, name bits). */
static long long opt(const struct probe_conf *pc, const char *name)
{
    int i = probe_schema_find(pc->schema, name);
    if (i < 0)
        fail_msg("%s has no option %s", pc->name, name);
    return pc->opts[i].i;
}

/* Bits of net_listen's protocols, in the order its table names them. */
#define TCP 1
#define UDP 2

static struct config *load_ok(const char *text)
{
    struct config *cfg = NULL;
    struct pt_error err;
    int ret = config_load_string(text, "test.yml", known_probe, &cfg, &err);
    if (ret < 0)
        fail_msg("unexpected error: %s:%d: %s", err.file, err.line, err.msg);
    return cfg;
}

static void expect_error(const char *text, int line, const char *message)
{
    struct config *cfg = NULL;
    struct pt_error err;
    int ret = config_load_string(text, "test.yml", known_probe, &cfg, &err);
    if (ret >= 0) {
        config_free(cfg);
        fail_msg("accepted; expected '%s'", message);
    }
    if (!strstr(err.msg, message) || err.line != line)
        fail_msg("got line %d '%s'; expected line %d '%s'", err.line, err.msg, line, message);
    assert_string_equal(err.file, "test.yml");
}

static const char *full_config =
    "_filters: &filters\n"
    "  - subnet_name: loopback\n"
    "    network: 127.0.0.0\n"
    "    network_mask: 255.0.0.0\n"
    "    description: local\n"
    "  - network: ::1\n"
    "    network_mask: /128\n"
    "  - network: 10.1.2.3/8\n"
    "    except_ports: [22, '8000-8080']\n"
    "  - {network: 'fc00::', network_mask: 'fe00::', include_ports: [53]}\n"
    "_base: &base\n"
    "  filters: *filters\n"
    "  excludeports: [1-1024, 3306]\n"
    "tcp_connect:\n"
    "  <<: *base\n"
    "  plugins:\n"
    "    sourceipmap:\n"
    "      hostfiles: [/etc/hosts]\n"
    "      attribute_key: host\n"
    "    loginuidmap: {enabled: no, top_level: true}\n"
    "net_listen:\n"
    "  <<: *base\n"
    "  excludeports: [9000]\n"
    "  protocols: [tcp, udp]\n"
    "  snapshot_periodicity: 300\n"
    "  same_namespace_only: true\n"
    "  exclude_random_bind: yes\n"
    "  attach: kprobe\n"
    "udp_session:\n"
    "  includeports: [53]\n"
    "  excludeports: [54]\n"
    "  session_max_duration: 30\n";

static void test_full_config(void **state)
{
    struct config *cfg = load_ok(full_config);
    assert_int_equal(cfg->n_probes, 3);
    const struct probe_conf *tcp = config_find_probe(cfg, "tcp_connect");
    assert_non_null(tcp);
    assert_int_equal(tcp->line, 14);
    assert_int_equal(tcp->n_filters, 4);
    assert_string_equal(tcp->filters[0].subnet_name, "loopback");
    assert_string_equal(tcp->filters[0].description, "local");
    assert_int_equal(tcp->filters[0].family, AF_INET);
    assert_int_equal(tcp->filters[0].prefixlen, 8);
    assert_memory_equal(tcp->filters[0].addr, "\x7f\0\0\0", 4);
    assert_int_equal(tcp->filters[1].family, AF_INET6);
    assert_int_equal(tcp->filters[1].prefixlen, 128);
    /* Host bits of a CIDR network are cleared. */
    assert_memory_equal(tcp->filters[2].addr, "\x0a\0\0\0", 4);
    assert_int_equal(tcp->filters[2].except_ports.n, 2);
    assert_true(port_list_contains(&tcp->filters[2].except_ports, 8040));
    assert_false(port_list_contains(&tcp->filters[2].except_ports, 8081));
    assert_int_equal(tcp->filters[3].prefixlen, 7);
    assert_int_equal(tcp->filters[3].include_ports.ranges[0].lo, 53);
    assert_int_equal(tcp->port_rules.mode, PORT_RULES_EXCLUDE);
    assert_true(port_list_contains(&tcp->port_rules.ports, 1024));
    assert_true(port_list_contains(&tcp->port_rules.ports, 3306));
    assert_int_equal(tcp->attach, ATTACH_AUTO);
    assert_int_equal(tcp->n_plugins, 2);
    assert_string_equal(tcp->plugins[0].name, "sourceipmap");
    assert_true(tcp->plugins[0].enabled);
    assert_string_equal(json_string_value(json_object_get(tcp->plugins[0].args, "attribute_key")),
                        "host");
    assert_false(tcp->plugins[1].enabled);
    assert_true(json_is_true(json_object_get(tcp->plugins[1].args, "top_level")));

    /* An explicit key wins over the merged one. */
    const struct probe_conf *nl = config_find_probe(cfg, "net_listen");
    assert_int_equal(nl->port_rules.ports.n, 1);
    assert_int_equal(nl->port_rules.ports.ranges[0].lo, 9000);
    assert_int_equal(nl->n_filters, 4);
    assert_int_equal(opt(nl, "protocols"), TCP | UDP);
    assert_int_equal(opt(nl, "snapshot_periodicity"), 300);
    assert_true(opt(nl, "same_namespace_only"));
    assert_true(opt(nl, "exclude_random_bind"));
    assert_int_equal(nl->attach, ATTACH_KPROBE);

    /* includeports wins over excludeports. */
    const struct probe_conf *udp = config_find_probe(cfg, "udp_session");
    assert_int_equal(udp->port_rules.mode, PORT_RULES_INCLUDE);
    assert_int_equal(opt(udp, "session_max_duration"), 30000);
    assert_null(config_find_probe(cfg, "nope"));
    config_free(cfg);
}

static void test_defaults_and_empty_probe(void **state)
{
    struct config *cfg = load_ok("tcp_connect:\nnet_listen: {}\nudp_session: ~\n");
    assert_int_equal(cfg->n_probes, 3);
    assert_int_equal(cfg->probes[0].n_filters, 0);
    assert_int_equal(opt(&cfg->probes[1], "protocols"), TCP);
    assert_int_equal(opt(&cfg->probes[1], "snapshot_periodicity"), 0);
    assert_int_equal(opt(&cfg->probes[2], "session_max_duration"), 120000);
    assert_true(json_is_object(cfg->probes[0].raw));
    config_free(cfg);
}

static void test_extra_probe_keeps_raw(void **state)
{
    struct config *cfg = load_ok("my_probe:\n  min_uid: 1000\n  verbose: true\n"
                                 "  filters: [{network: 10.0.0.0/8}]\n");
    const struct probe_conf *p = &cfg->probes[0];
    assert_int_equal(p->n_filters, 1);
    assert_int_equal(json_integer_value(json_object_get(p->raw, "min_uid")), 1000);
    assert_true(json_is_true(json_object_get(p->raw, "verbose")));
    config_free(cfg);
}

static void test_validation_errors(void **state)
{
    expect_error("tcp_connekt: {}\n", 1, "unknown probe 'tcp_connekt'");
    expect_error("tcp_connect:\n  filters:\n    - network: 10.0.0.0\n      network_mask: "
                 "255.0.255.0\n",
                 4, "tcp_connect.filters[0].network_mask: '255.0.255.0' is not a contiguous mask");
    expect_error("tcp_connect:\n  filters:\n    - {network: 10.0.0.0, network_mask: 33}\n", 3,
                 "network_mask: '33' is not a mask");
    expect_error("tcp_connect:\n  filters:\n    - {network: 10.0.0.300/8}\n", 3,
                 "tcp_connect.filters[0].network: '10.0.0.300/8' is not an IPv4 or IPv6 address");
    expect_error("tcp_connect:\n  filters:\n    - {network: 10.0.0.0}\n", 3, "no network_mask");
    expect_error("tcp_connect:\n  filters:\n    - {network: '::', network_mask: 255.0.0.0}\n", 3,
                 "is an IPv4 mask for an IPv6 network");
    expect_error("tcp_connect:\n  filters:\n    - {network_mask: 8}\n", 3, "network is required");
    expect_error("tcp_connect:\n  excludeports: [22, 70000]\n", 2,
                 "tcp_connect.excludeports[1]: '70000' is not a port (0-65535)");
    expect_error("tcp_connect:\n  includeports:\n    - 1\n    - 2000-1000\n", 4,
                 "tcp_connect.includeports[1]: '2000-1000' is a malformed range");
    expect_error("tcp_connect:\n  includeports: 80\n", 2, "expected a list of ports");
    expect_error("tcp_connect:\n  filters:\n    - {network: 10.0.0.0/8, except_ports: [x]}\n", 3,
                 "tcp_connect.filters[0].except_ports[0]: 'x' is not a port");
    expect_error("net_listen:\n  protocols: [tcp, sctp]\n", 2,
                 "net_listen.protocols[1]: 'sctp' is not tcp or udp");
    expect_error("net_listen:\n  protocols: []\n", 2, "expected a non-empty list");
    expect_error("net_listen:\n  same_namespace_only: maybe\n", 2,
                 "net_listen.same_namespace_only: expected true or false");
    expect_error("net_listen:\n  snapshot_periodicity: -5\n", 2,
                 "net_listen.snapshot_periodicity: expected a non-negative integer");
    expect_error("udp_session:\n  session_max_duration: 0\n", 2,
                 "udp_session.session_max_duration: expected a number of seconds");
    expect_error("udp_session:\n  session_max_duration: 0.0001\n", 2,
                 "udp_session.session_max_duration: expected a number of seconds");
    expect_error("udp_session:\n  session_max_duration: soon\n", 2,
                 "udp_session.session_max_duration: expected a number of seconds");
    expect_error("net_listen:\n  snapshot_periodicity: true\n", 2,
                 "net_listen.snapshot_periodicity: expected a non-negative integer");
    expect_error("net_listen:\n  exclude_random_bind: 2\n", 2,
                 "net_listen.exclude_random_bind: expected true or false");
    expect_error("tcp_connect:\n  attach: uprobe\n", 2,
                 "tcp_connect.attach: 'uprobe' is not auto, tracepoint or kprobe");
    expect_error("tcp_connect:\n  plugins: [a]\n", 2, "tcp_connect.plugins: expected a mapping");
    expect_error("tcp_connect:\n  plugins:\n    x: {enabled: 3}\n", 3,
                 "tcp_connect.plugins.x.enabled: expected true or false");
    expect_error("tcp_connect:\n  container_labels: [nolabel]\n", 2, "'nolabel' is not label=glob");
    expect_error("tcp_connect: [1]\n", 1, "tcp_connect: expected a mapping");
    expect_error("- a\n", 1, "expected a mapping of probe names");
    expect_error("tcp_connect:\n  filters: [\n", 3, "invalid YAML");
    expect_error("tcp_connect: *nothing\n", 1, "invalid YAML");
}

/* Values the original documented or accepted, written as its users write
 * them (example_config.yml, the README, PyYAML's YAML 1.1 booleans). */
static void test_original_values(void **state)
{
    struct config *cfg = load_ok("net_listen:\n"
                                 "  snapshot_periodicity: False\n"
                                 "  same_namespace_only: 1\n"
                                 "  exclude_random_bind: \"true\"\n"
                                 "  includeports: []\n"
                                 "  excludeports: [22, 30000-40000]\n"
                                 "udp_session:\n"
                                 "  session_max_duration: 0.25\n"
                                 "  includeports: []\n"
                                 "tcp_connect:\n"
                                 "  plugins:\n"
                                 "    sourceipmap: {enabled: 0, unload_on_init_exception: Yes}\n"
                                 "    loginuidmap: {enabled: \"False\"}\n"
                                 "    identityplugin: {enabled: ON}\n");
    const struct probe_conf *nl = config_find_probe(cfg, "net_listen");
    assert_int_equal(opt(nl, "snapshot_periodicity"), 0);
    assert_true(opt(nl, "same_namespace_only"));
    assert_true(opt(nl, "exclude_random_bind"));
    /* An empty includeports is no include list: excludeports applies. */
    assert_int_equal(nl->port_rules.mode, PORT_RULES_EXCLUDE);
    assert_int_equal(nl->port_rules.ports.n, 2);
    const struct probe_conf *udp = config_find_probe(cfg, "udp_session");
    assert_int_equal(opt(udp, "session_max_duration"), 250);
    assert_int_equal(udp->port_rules.mode, PORT_RULES_NONE);
    const struct probe_conf *tcp = config_find_probe(cfg, "tcp_connect");
    assert_false(tcp->plugins[0].enabled);
    assert_true(tcp->plugins[0].unload_on_init_exception);
    assert_false(tcp->plugins[1].enabled);
    assert_true(tcp->plugins[2].enabled);
    assert_int_equal(cfg->warnings.n, 0);
    config_free(cfg);

    cfg = load_ok("net_listen:\n  snapshot_periodicity: no\n  exclude_random_bind: off\n");
    assert_int_equal(opt(&cfg->probes[0], "snapshot_periodicity"), 0);
    assert_false(opt(&cfg->probes[0], "exclude_random_bind"));
    config_free(cfg);
}

/* Keys this version does not know are ignored with a warning naming the
 * file, the line and the key; the rest of the config still applies. */
static void test_unknown_keys_warn(void **state)
{
    struct config *cfg = load_ok("tcp_connect:\n"
                                 "  filter: []\n"
                                 "  filters:\n"
                                 "    - network: 10.0.0.0/8\n"
                                 "      colour: red\n"
                                 "  excludeports: [22]\n");
    const struct probe_conf *tcp = config_find_probe(cfg, "tcp_connect");
    assert_int_equal(tcp->n_filters, 1);
    assert_int_equal(tcp->port_rules.mode, PORT_RULES_EXCLUDE);
    assert_int_equal(cfg->warnings.n, 2);
    assert_string_equal(cfg->warnings.items[0].file, "test.yml");
    assert_int_equal(cfg->warnings.items[0].line, 2);
    assert_string_equal(cfg->warnings.items[0].msg, "tcp_connect: unknown field 'filter' ignored");
    assert_int_equal(cfg->warnings.items[1].line, 5);
    assert_string_equal(cfg->warnings.items[1].msg,
                        "tcp_connect.filters[0]: unknown field 'colour' ignored");
    config_free(cfg);
    /* An unknown probe stays an error: a typo there would silently switch
     * a whole probe's monitoring off. */
    expect_error("tcp_conect:\n  filters: []\n", 1, "unknown probe 'tcp_conect'");
}

/* A duplicate key takes the last value, as the original (PyYAML) does, and
 * says so in a warning with the file and both lines. */
static void test_duplicate_key_warns_and_takes_last(void **state)
{
    struct config *cfg = load_ok("tcp_connect: {attach: kprobe}\n"
                                 "net_listen: {}\n"
                                 "tcp_connect: {attach: tracepoint}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->n_probes, 2);
    assert_string_equal(cfg->probes[0].name, "tcp_connect");
    assert_int_equal(cfg->probes[0].attach, ATTACH_TRACEPOINT);
    assert_int_equal(cfg->probes[0].line, 3);
    assert_int_equal(cfg->warnings.n, 1);
    assert_string_equal(cfg->warnings.items[0].file, "test.yml");
    assert_int_equal(cfg->warnings.items[0].line, 3);
    assert_string_equal(cfg->warnings.items[0].msg,
                        "duplicate key 'tcp_connect': the earlier value on line 1 is ignored");
    config_free(cfg);
}

static void test_port_range_and_subnet_parse(void **state)
{
    struct port_range r;
    assert_int_equal(port_range_parse("80", &r), 0);
    assert_int_equal(r.lo, 80);
    assert_int_equal(r.hi, 80);
    assert_int_equal(port_range_parse("0-65535", &r), 0);
    assert_int_equal(r.hi, 65535);
    assert_int_equal(port_range_parse("65536", &r), -EINVAL);
    assert_int_equal(port_range_parse("-5", &r), -EINVAL);
    assert_int_equal(port_range_parse("5-", &r), -EINVAL);
    assert_int_equal(port_range_parse("", &r), -EINVAL);
    struct subnet_filter f;
    char why[128];
    assert_int_equal(subnet_parse("192.168.1.77", "255.255.255.0", &f, why, sizeof(why)), 0);
    assert_int_equal(f.prefixlen, 24);
    assert_memory_equal(f.addr, "\xc0\xa8\x01\x00", 4);
    assert_int_equal(subnet_parse("2001:db8::1", "32", &f, why, sizeof(why)), 0);
    assert_int_equal(f.prefixlen, 32);
    assert_int_equal(f.addr[15], 0);
    assert_int_equal(subnet_parse("0.0.0.0/0", NULL, &f, why, sizeof(why)), 0);
    assert_int_equal(f.prefixlen, 0);
    assert_int_equal(subnet_parse("10.0.0.0/8", "8", &f, why, sizeof(why)), -EINVAL);
    assert_int_equal(subnet_parse("::/129", NULL, &f, why, sizeof(why)), -EINVAL);
}

/* Writes `text` to DIR/NAME. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_includes(void **state)
{
    char dir[] = "/tmp/pidtree-config-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[PATH_MAX], top[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(dir, "main.yml",
               "tcp_connect:\n  filters: !include sub/filters.yml\nnet_listen: !include "
               "listen.yml\n");
    write_file(sub, "filters.yml", "- !include one.yml\n- {network: '::1/128'}\n");
    write_file(sub, "one.yml", "network: 10.0.0.0\nnetwork_mask: 255.0.0.0\n");
    write_file(dir, "listen.yml", "protocols: [udp]\n");
    snprintf(top, sizeof(top), "%s/main.yml", dir);

    struct config *cfg = NULL;
    struct pt_error err;
    int ret = config_load(top, known_probe, &cfg, &err);
    if (ret < 0)
        fail_msg("%s:%d: %s", err.file, err.line, err.msg);
    assert_int_equal(cfg->probes[0].n_filters, 2);
    assert_int_equal(cfg->probes[0].filters[0].prefixlen, 8);
    assert_non_null(strstr(cfg->probes[0].filters[0].file, "sub/one.yml"));
    assert_int_equal(opt(&cfg->probes[1], "protocols"), UDP);
    assert_int_equal(cfg->n_files, 4);
    assert_string_equal(cfg->files[0], top);
    config_free(cfg);

    /* An error inside an included file names that file and line. */
    write_file(dir, "listen.yml", "protocols: [udp]\nsnapshot_periodicity: soon\n");
    assert_int_equal(config_load(top, known_probe, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.file, "listen.yml"));
    assert_int_equal(err.line, 2);

    /* Cycles and missing files are refused. */
    write_file(dir, "listen.yml", "!include main.yml\n");
    assert_int_equal(config_load(top, known_probe, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "include cycle"));
    write_file(dir, "listen.yml", "!include missing.yml\n");
    assert_true(config_load(top, known_probe, &cfg, &err) < 0);
    assert_non_null(strstr(err.msg, "missing.yml"));
    assert_non_null(strstr(err.msg, "No such file"));

    /* A URL that cannot be fetched is a clean error. */
    write_file(dir, "listen.yml", "!include http://127.0.0.1:1/x.yml\n");
    assert_true(config_load(top, known_probe, &cfg, &err) < 0);
    assert_non_null(strstr(err.msg, "http://127.0.0.1:1/x.yml"));

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_missing_file(void **state)
{
    struct config *cfg = NULL;
    struct pt_error err;
    assert_int_equal(config_load("/nonexistent/c.yml", known_probe, &cfg, &err), -ENOENT);
    char buf[256];
    pt_error_format(&err, buf, sizeof(buf));
    assert_string_equal(buf, "/nonexistent/c.yml: cannot read: No such file or directory");
}

static void test_yaml_to_json(void **state)
{
    char path[] = "/tmp/pidtree-yaml-json.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a: &x {n: 1, s: '1', b: yes, z: ~}\nb: *x\nc: [1.5, text]\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    json_t *j = NULL;
    struct pt_error err;
    assert_int_equal(config_yaml_file_to_json(path, &j, &err), 0);
    char *dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(dump, "{\"a\":{\"b\":true,\"n\":1,\"s\":\"1\",\"z\":null},"
                              "\"b\":{\"b\":true,\"n\":1,\"s\":\"1\",\"z\":null},"
                              "\"c\":[1.5,\"text\"]}");
    free(dump);
    json_decref(j);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults_and_empty_probe),
        cmocka_unit_test(test_extra_probe_keeps_raw),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_original_values),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_duplicate_key_warns_and_takes_last),
        cmocka_unit_test(test_port_range_and_subnet_parse),
        cmocka_unit_test(test_includes),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_yaml_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
