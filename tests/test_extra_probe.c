/* Probes from --extra-probe-path: descriptions, generated layout, decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "extra_probe.h"
#include "templates/pidtree_common.h"
#include "probe_registry.h"
#include "strbuf.h"

static const char *good_desc =
    "{\"attach\": {\"tracepoint\": [{\"target\": \"syscalls/sys_enter_socket\", \"program\": "
    "\"p_enter\"}], \"kprobe\": [{\"target\": \"__sys_socket\", \"program\": \"p_kp\"}, "
    "{\"target\": \"__sys_socket\", \"program\": \"p_ret\", \"kind\": \"kretprobe\"}]},"
    " \"fields\": [{\"name\": \"small\", \"type\": \"u8\"}, {\"name\": \"big\", \"type\": "
    "\"u64\"}, {\"name\": \"neg\", \"type\": \"s32\"}, {\"name\": \"addr\", \"type\": \"ipv6\"}, "
    "{\"name\": \"v4\", \"type\": \"ipv4\"}, {\"name\": \"name\", \"type\": \"string\", \"size\": "
    "5}, {\"name\": \"flag\", \"type\": \"bool\"}],"
    " \"settings\": [{\"name\": \"limit\", \"type\": \"int\", \"default\": 7}]}";

static int load(const char *json_text, struct probe_ops *ops, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *desc = json_loads(json_text, 0, &jerr);
    assert_non_null(desc);
    struct pt_error perr = {0};
    int ret = extra_probe_from_json("myprobe", desc, "/x/myprobe.bpf.c", "myprobe.yml", ops, &perr);
    json_decref(desc);
    /* A failure says so in the error, a success leaves it empty. */
    assert_int_equal(pt_error_is_set(&perr), ret < 0);
    if (ret < 0)
        assert_string_equal(perr.file, "myprobe.yml");
    pt_error_format(&perr, err, errlen);
    return ret;
}

static const struct probe_schema *find_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = ctx;
    return strcmp(name, ops->name) == 0 ? &ops->schema : NULL;
}

/* Loads `text` as a config whose only probe is `ops`; returns the config,
 * or NULL with "FILE:LINE: MSG" in err. */
static struct config *config_with(const struct probe_ops *ops, const char *text, char *err,
                                  size_t errlen)
{
    struct config_probes probes = {find_schema, (void *)ops, NULL};
    struct config *cfg = NULL;
    struct pt_error perr = {0};
    if (config_load_string(text, "c.yml", &probes, &cfg, &perr) < 0) {
        pt_error_format(&perr, err, errlen);
        return NULL;
    }
    return cfg;
}

static void test_layout_follows_c_alignment(void **state)
{
    struct probe_ops ops;
    char err[256] = "";
    assert_int_equal(load(good_desc, &ops, err, sizeof(err)), 0);
    /* header 24 | u8 @24 | u64 @32 | s32 @40 | ipv6 @44 | ipv4 @60 | char[5] @64 | bool @69
     * = 70, padded to 72 by the header's u64. */
    assert_int_equal(ops.record_size, 72);
    assert_int_equal(ops.tracepoint_form.n_points, 1);
    assert_int_equal(ops.kprobe_form.n_points, 2);
    assert_int_equal(ops.kprobe_form.points[1].kind, PROBE_KRETPROBE);
    assert_string_equal(ops.kprobe_form.points[1].function, "p_ret");

    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(ops.render_settings(&ops, NULL, &sb), 0);
    assert_non_null(strstr(sb.data, "struct myprobe_event {\n    struct pt_header h;\n"
                                    "    __u8 small;\n    __u64 big;\n"));
    assert_non_null(strstr(sb.data, "char name[5];"));
    assert_non_null(strstr(sb.data, "__builtin_offsetof(struct myprobe_event, flag) == 69"));
    assert_non_null(strstr(sb.data, "#define PT_SETTING_limit 7LL"));
    strbuf_release(&sb);
    extra_probe_release(&ops);
}

static void test_decode_every_type(void **state)
{
    struct probe_ops ops;
    char err[256];
    assert_int_equal(load(good_desc, &ops, err, sizeof(err)), 0);
    uint8_t rec[72] = {0};
    rec[24] = 200;
    uint64_t big = 1ull << 40;
    memcpy(rec + 32, &big, 8);
    int32_t neg = -5;
    memcpy(rec + 40, &neg, 4);
    rec[44 + 15] = 1; /* ::1 */
    memcpy(rec + 60, "\x7f\x00\x00\x02", 4);
    memcpy(rec + 64, "ab\xff\"c", 5); /* no NUL: bounded by size */
    rec[69] = 1;
    struct probe_instance pi = {.ops = &ops};
    json_t *event = json_object();
    assert_int_equal(ops.decode(&pi, rec, sizeof(rec), event), 0);
    char *text = json_dumps(event, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"addr\":\"::1\",\"big\":1099511627776,\"flag\":true,"
                              "\"name\":\"ab\xef\xbf\xbd\\\"c\",\"neg\":-5,\"small\":200,"
                              "\"v4\":\"127.0.0.2\"}");
    free(text);
    json_decref(event);
    extra_probe_release(&ops);
}

static void expect_error(const char *json_text, const char *message)
{
    struct probe_ops ops;
    char err[256] = "";
    assert_int_equal(load(json_text, &ops, err, sizeof(err)), -EINVAL);
    if (!strstr(err, message))
        fail_msg("expected '%s' in '%s'", message, err);
}

#define FIELDS "\"fields\": [{\"name\": \"a\", \"type\": \"u32\"}]"
#define TP                                                                                         \
    "\"attach\": {\"tracepoint\": [{\"target\": \"syscalls/sys_enter_socket\", "                   \
    "\"program\": \"p\"}]}"

static void test_description_errors(void **state)
{
    expect_error("{" FIELDS "}", "attach: expected a mapping");
    expect_error("{" TP "}", "fields: expected a list of 1-64 fields");
    expect_error("{" TP ", \"fields\": [{\"name\": \"pid\", \"type\": \"u32\"}]}",
                 "fields[0].name: 'pid' is written by the daemon");
    expect_error("{" TP ", \"fields\": [{\"name\": \"Bad-Name\", \"type\": \"u32\"}]}",
                 "fields[0].name: expected a lower-case identifier");
    expect_error("{" TP ", \"fields\": [{\"name\": \"a\", \"type\": \"float\"}]}",
                 "fields[0].type: expected one of");
    expect_error("{" TP ", \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]}",
                 "fields[0].size: a string needs a size");
    expect_error("{" TP ", \"fields\": [{\"name\": \"a\", \"type\": \"u8\"}, {\"name\": \"a\", "
                 "\"type\": \"u8\"}]}",
                 "fields[1].name: 'a' is declared twice");
    expect_error("{\"attach\": {}, " FIELDS "}", "no attach point");
    expect_error("{\"attach\": {\"tracepoint\": [{\"target\": \"nocategory\", \"program\": "
                 "\"p\"}]}, " FIELDS "}",
                 "attach.tracepoint[0].target: expected category/name");
    expect_error("{\"attach\": {\"tracepoint\": [{\"target\": \"a/b; system()\", \"program\": "
                 "\"p\"}]}, " FIELDS "}",
                 "attach.tracepoint[0].target");
    expect_error("{\"attach\": {\"kprobe\": [{\"target\": \"f\", \"program\": \"p\", \"kind\": "
                 "\"fentry\"}]}, " FIELDS "}",
                 "attach.kprobe[0].kind: expected kprobe, kretprobe, uprobe or uretprobe");
    expect_error("{\"attach\": {\"tracepoint\": [{\"target\": \"f\", \"program\": \"p\", "
                 "\"kind\": \"kprobe\"}]}, " FIELDS "}",
                 "attach.tracepoint[0].kind: expected tracepoint, raw_tracepoint, cgroup, uprobe "
                 "or uretprobe");
    expect_error("{\"attach\": {\"tracepoint\": [{\"target\": \"sendmsg5\", \"program\": \"p\", "
                 "\"kind\": \"cgroup\"}]}, " FIELDS "}",
                 "attach.tracepoint[0].target: expected a cgroup socket hook");
    {
        /* Raw tracepoints and cgroup hooks: the kinds the built-in socket
         * probes use. */
        struct probe_ops ops;
        char err[256] = "";
        assert_int_equal(
            load("{\"attach\": {\"tracepoint\": ["
                 "{\"target\": \"sendmsg4\", \"program\": \"p\", \"kind\": \"cgroup\"},"
                 "{\"target\": \"sock/sock_send_length\", \"program\": \"q\", "
                 "\"kind\": \"raw_tracepoint\"}]}, " FIELDS "}",
                 &ops, err, sizeof(err)),
            0);
        assert_int_equal(ops.tracepoint_form.n_points, 2);
        assert_int_equal(ops.tracepoint_form.points[0].kind, PROBE_CGROUP);
        assert_int_equal(ops.tracepoint_form.points[1].kind, PROBE_RAW_TRACEPOINT);
        extra_probe_release(&ops);
    }
    /* A uprobe's binary is an absolute path or a path setting, its symbol
     * a plain name; nothing else gets to an attach call or to -p. */
    static const char *const bad_uprobes[] = {"bin/bash:readline",   "/bin/bash",
                                              "/bin/bash:read line", "/b*/ x/bash:readline",
                                              "{nosuch}:readline",   "{limit}:readline"};
    for (size_t i = 0; i < sizeof(bad_uprobes) / sizeof(bad_uprobes[0]); i++) {
        char desc[512];
        snprintf(desc, sizeof(desc),
                 "{\"attach\": {\"tracepoint\": [{\"target\": \"%s\", \"program\": \"p\", "
                 "\"kind\": \"uretprobe\"}]}, " FIELDS ", \"settings\": [{\"name\": "
                 "\"limit\", \"type\": \"int\", \"default\": 1}]}",
                 bad_uprobes[i]);
        expect_error(desc, "attach.tracepoint[0].target: expected BINARY:SYMBOL");
    }
    expect_error("{" TP ", " FIELDS ", \"settings\": [{\"name\": \"bin\", \"type\": "
                 "\"path\", \"default\": \"relative\"}]}",
                 "settings[0].default: expected an absolute path");
    expect_error("{" TP ", " FIELDS ", \"settings\": [{\"name\": \"filters\", \"type\": "
                 "\"int\", \"default\": 1}]}",
                 "settings[0].name");
    expect_error("{" TP ", " FIELDS ", \"settings\": [{\"name\": \"x\", \"type\": \"bool\", "
                 "\"default\": 1}]}",
                 "settings[0].default: expected a boolean");
    expect_error("{" TP ", " FIELDS ", \"colour\": 1}", "unknown key 'colour'");
}

/* The settings are the probe's option schema: the config module checks
 * and types them as it does the built-ins' options, naming the option's
 * own line. */
static void test_config_options_checked(void **state)
{
    struct probe_ops ops;
    char err[256] = "";
    assert_int_equal(load(good_desc, &ops, err, sizeof(err)), 0);
    assert_true(ops.schema.strict_keys);
    struct config *cfg =
        config_with(&ops, "myprobe:\n  limit: 9\n  filters: []\n", err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(ops.render_settings(&ops, &cfg->probes[0], &sb), 0);
    assert_non_null(strstr(sb.data, "#define PT_SETTING_limit 9LL"));
    strbuf_release(&sb);
    config_free(cfg);
    /* The default where the config is silent. */
    cfg = config_with(&ops, "myprobe:\n", err, sizeof(err));
    assert_non_null(cfg);
    assert_int_equal(ops.render_settings(&ops, &cfg->probes[0], &sb), 0);
    assert_non_null(strstr(sb.data, "#define PT_SETTING_limit 7LL"));
    strbuf_release(&sb);
    config_free(cfg);
    assert_null(config_with(&ops, "myprobe:\n  filters: []\n  limit: nine\n", err, sizeof(err)));
    assert_string_equal(err, "c.yml:3: myprobe.limit: expected an integer");
    assert_null(config_with(&ops, "myprobe:\n  colour: true\n", err, sizeof(err)));
    assert_string_equal(err, "c.yml:2: myprobe: unknown field 'colour'");
    extra_probe_release(&ops);
}

/* A uprobe on a binary a path setting names: the config may move it, and
 * the attach target follows. The path is never rendered into C. */
static void test_uprobe_with_path_setting(void **state)
{
    struct probe_ops ops;
    char err[256] = "";
    assert_int_equal(load("{\"attach\": {\"tracepoint\": [{\"target\": "
                          "\"{shell}:readline\", \"program\": \"p\", \"kind\": \"uretprobe\"}]}, "
                          "" FIELDS ", \"settings\": [{\"name\": \"shell\", \"type\": \"path\", "
                          "\"default\": \"/bin/bash\"}]}",
                          &ops, err, sizeof(err)),
                     0);
    const struct probe_attach_point *ap = &ops.tracepoint_form.points[0];
    assert_int_equal(ap->kind, PROBE_URETPROBE);
    char target[256];
    assert_int_equal(probe_attach_target(&ops, NULL, ap, target, sizeof(target)), 0);
    assert_string_equal(target, "/bin/bash:readline");
    struct config *cfg =
        config_with(&ops, "myprobe:\n  shell: /usr/local/bin/bash\n", err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    assert_int_equal(probe_attach_target(&ops, &cfg->probes[0], ap, target, sizeof(target)), 0);
    assert_string_equal(target, "/usr/local/bin/bash:readline");
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(ops.render_settings(&ops, &cfg->probes[0], &sb), 0);
    assert_null(strstr(sb.data, "bash"));
    strbuf_release(&sb);
    config_free(cfg);
    assert_null(config_with(&ops, "myprobe:\n  shell: bash\n", err, sizeof(err)));
    assert_string_equal(err,
                        "c.yml:2: myprobe.shell: expected an absolute path of at most 255 bytes");
    extra_probe_release(&ops);
}

static void test_registry_loads_the_example(void **state)
{
    struct probe_registry reg;
    struct pt_error err = {0};
    int ret = probe_registry_init(&reg, TEST_SOURCE_DIR "/examples/probes", &err);
    if (ret < 0)
        fail_msg("%s", err.msg);
    const struct probe_ops *ops = probe_registry_find(&reg, "raw_socket");
    assert_non_null(ops);
    assert_string_equal(ops->tracepoint_form.points[0].target, "syscalls/sys_enter_socket");
    assert_non_null(strstr(ops->template, "/examples/probes/raw_socket.bpf.c"));
    assert_non_null(probe_registry_find(&reg, "tcp_connect"));
    assert_null(probe_registry_find(&reg, "nonexistent"));
    probe_registry_release(&reg);

    assert_int_equal(probe_registry_init(&reg, "/nonexistent-dir", &err), -ENOENT);
    assert_non_null(strstr(err.msg, "--extra-probe-path /nonexistent-dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_follows_c_alignment),
        cmocka_unit_test(test_decode_every_type),
        cmocka_unit_test(test_description_errors),
        cmocka_unit_test(test_config_options_checked),
        cmocka_unit_test(test_uprobe_with_path_setting),
        cmocka_unit_test(test_registry_loads_the_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
