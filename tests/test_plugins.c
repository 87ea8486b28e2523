/* Plugins: the loader's checks and errors, against real shared objects
 * (the built-in plugins in TEST_BUILD_DIR/plugins and the test plugins of
 * tests/plugins in TEST_BUILD_DIR/tests/plugins), and the built-in
 * plugins' behaviour. sourceipmap is also compiled in directly, so its
 * parser and reload logic can be driven with a fake clock. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"

#include "../plugins/sourceipmap.c"

#define PLUGIN_DIR TEST_BUILD_DIR "/plugins"
#define TEST_PLUGIN_DIR TEST_BUILD_DIR "/tests/plugins"

static const char *const dirs[] = {PLUGIN_DIR, TEST_PLUGIN_DIR};

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/pidtree-test-plugins.XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A probe with up to four plugins, declared at test.yml lines 10, 11, ... */
struct fixture {
    struct plugin_conf pcs[4];
    struct probe_conf probe;
    struct pt_diags warnings;
};

static void fixture_init(struct fixture *f, const char *probe)
{
    memset(f, 0, sizeof(*f));
    f->probe = (struct probe_conf){.name = (char *)probe, .file = "test.yml", .line = 1};
    f->probe.plugins = f->pcs;
}

/* Adds a plugin; `args` (JSON text, may be NULL) is owned by the fixture. */
static void fixture_add(struct fixture *f, const char *name, const char *args, bool unload)
{
    struct plugin_conf *pc = &f->pcs[f->probe.n_plugins];
    json_error_t jerr;
    *pc = (struct plugin_conf){.name = (char *)name, .enabled = true, .file = "test.yml"};
    pc->line = 10 + (int)f->probe.n_plugins;
    pc->unload_on_init_exception = unload;
    pc->args = args ? json_loads(args, 0, &jerr) : json_object();
    assert_non_null(pc->args);
    f->probe.n_plugins++;
}

static void fixture_release(struct fixture *f)
{
    for (size_t i = 0; i < f->probe.n_plugins; i++)
        json_decref(f->pcs[i].args);
    pt_diags_free(&f->warnings);
}

/* The daemon's services as the tests play them: login uids from a table,
 * user names "user-UID" (so a name shows it came from here), counted. */
static const uint32_t fake_loginuids[][2] = {{100, 0}, {300, 4242424}, {1, 0}, {42, 1000}};
static int username_calls;

static const char *fake_username(void *ctx, uint32_t uid)
{
    static char name[32];
    username_calls++;
    snprintf(name, sizeof(name), "user-%u", (unsigned)uid);
    return name;
}

static int fake_loginuid(void *ctx, uint32_t pid, uint32_t *loginuid)
{
    for (size_t i = 0; i < sizeof(fake_loginuids) / sizeof(fake_loginuids[0]); i++)
        if (fake_loginuids[i][0] == pid) {
            *loginuid = fake_loginuids[i][1];
            return 0;
        }
    return -ENOENT;
}

static const struct plugin_services fake_services = {fake_username, fake_loginuid, NULL};

static struct plugin_set *load(struct fixture *f, char *err, size_t len)
{
    struct pt_error perr = {0};
    struct plugin_set *set =
        plugin_set_load(&f->probe, dirs, 2, &fake_services, &f->warnings, &perr);
    /* A load fails with its reason, or succeeds without one. */
    assert_int_equal(pt_error_is_set(&perr), set == NULL);
    pt_error_format(&perr, err, len);
    return set;
}

/* Loads `probe` configured with the one plugin `name`. */
static struct plugin_set *load_single(struct fixture *f, const char *probe, const char *name,
                                      const char *args, char *err, size_t len)
{
    fixture_init(f, probe);
    fixture_add(f, name, args, false);
    return load(f, err, len);
}

/* Loads a probe with one plugin and expects the load to fail with `want`. */
static void expect_load_error(const char *probe, const char *name, const char *args,
                              const char *want)
{
    struct fixture f;
    char err[1024];
    struct plugin_set *set = load_single(&f, probe, name, args, err, sizeof(err));
    if (set || !strstr(err, want))
        fail_msg("want error containing \"%s\", got \"%s\"", want, err);
    fixture_release(&f);
}

/* Loads a probe with one plugin: it loads, with one warning `want` at the
 * plugin's line (unknown arguments are ignored, as the original did). */
static void expect_load_warning(const char *probe, const char *name, const char *args,
                                const char *want)
{
    struct fixture f;
    char err[1024];
    struct plugin_set *set = load_single(&f, probe, name, args, err, sizeof(err));
    if (!set)
        fail_msg("refused: %s", err);
    assert_int_equal(plugin_set_count(set), 1);
    assert_int_equal(f.warnings.n, 1);
    assert_string_equal(f.warnings.items[0].file, "test.yml");
    assert_int_equal(f.warnings.items[0].line, 10);
    if (!strstr(f.warnings.items[0].msg, want))
        fail_msg("want a warning containing \"%s\", got \"%s\"", want, f.warnings.items[0].msg);
    plugin_set_free(set);
    fixture_release(&f);
}

/* ---- sourceipmap: parser and map ---- */

static void test_hostfile_parse(void **state)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "10.0.0.1   alpha alpha.example.com  # inline comment\n"
                               "10.0.0.2\tbeta\r\n"
                               "   10.0.0.3 gamma\n"
                               "::1 localhost6 ip6-localhost\n"
                               "fd00:0:0::0:7 six\n"
                               "10.0.0.4\n"
                               "not-an-address name\n"
                               "# 10.0.0.5 commented\n"
                               "10.0.0.6 last-line-without-newline";
    struct sourceipmap_map m = {0};
    assert_int_equal(sourceipmap_parse(&m, text, strlen(text)), 0);
    sourceipmap_map_finish(&m);
    assert_int_equal(m.n, 6);
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.1"), "alpha");
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.2"), "beta");
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.3"), "gamma");
    assert_string_equal(sourceipmap_lookup(&m, "0:0::1"), "localhost6");
    assert_string_equal(sourceipmap_lookup(&m, "::1"), "localhost6");
    assert_string_equal(sourceipmap_lookup(&m, "fd00::7"), "six");
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.6"), "last-line-without-newline");
    /* A dual-stack socket's IPv4-mapped address finds the IPv4 entry. */
    assert_string_equal(sourceipmap_lookup(&m, "::ffff:10.0.0.1"), "alpha");
    assert_null(sourceipmap_lookup(&m, "10.0.0.4"));
    assert_null(sourceipmap_lookup(&m, "10.0.0.5"));
    assert_null(sourceipmap_lookup(&m, "10.9.9.9"));
    assert_null(sourceipmap_lookup(&m, "garbage"));
    assert_null(sourceipmap_lookup(&m, NULL));
    sourceipmap_map_clear(&m);
}

static void test_hostfile_merge_order(void **state)
{
    char dir[64], a[96], b[96], err[256];
    make_tmpdir(dir, sizeof(dir));
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    write_file(a, "10.0.0.1 first\n10.0.0.2 only-a\n10.0.0.3 dup-1\n10.0.0.3 dup-2\n");
    write_file(b, "10.0.0.1 second\n::1 only-b\n");
    char *files[] = {a, b};
    struct sourceipmap_map m;
    assert_int_equal(sourceipmap_load(&m, files, 2, err, sizeof(err)), 0);
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.1"), "second"); /* later file wins */
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.2"), "only-a");
    assert_string_equal(sourceipmap_lookup(&m, "10.0.0.3"), "dup-2"); /* later line wins */
    assert_string_equal(sourceipmap_lookup(&m, "::1"), "only-b");
    sourceipmap_map_clear(&m);

    unlink(b);
    assert_int_equal(sourceipmap_load(&m, files, 2, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/b: No such file or directory"));
    assert_int_equal(m.n, 0);
    rm_tree(dir);
}

/* ---- sourceipmap: the plugin ---- */

static json_t *event_with_saddr(const char *saddr)
{
    json_t *ev = json_pack("{s:s, s:i}", "probe", "tcp_connect", "pid", 42);
    if (saddr)
        json_object_set_new(ev, "saddr", json_string(saddr));
    return ev;
}

/* Runs process() on an event from `saddr`; returns the value of `key`
 * (copied into `out`) and process()'s return value. */
static int map_one(void *st, const char *key, const char *saddr, char *out, size_t len)
{
    json_t *ev = event_with_saddr(saddr);
    int ret = sourceipmap_process(st, ev);
    const char *v = json_string_value(json_object_get(ev, key));
    assert_non_null(v);
    snprintf(out, len, "%s", v);
    json_decref(ev);
    return ret;
}

/* Starts the compiled-in sourceipmap on one file; `key` may be NULL. */
static void *sourceipmap_start(const char *path, const char *key)
{
    char err[256] = "";
    void *st = NULL;
    json_t *args = json_pack("{s:[s], s:b}", "hostfiles", path, "enabled", 1);
    if (key)
        json_object_set_new(args, "attribute_key", json_string(key));
    if (sourceipmap_init_host("tcp_connect", args, NULL, &st, err, sizeof(err)) != 0)
        fail_msg("init failed: %s", err);
    json_decref(args);
    return st;
}

static void test_sourceipmap_reload(void **state)
{
    char dir[64], path[96], name[64];
    struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/hosts", dir);
    write_file(path, "10.1.1.1 old-name\n");
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    void *st = sourceipmap_start(path, NULL);
    uint64_t now = 5000000000ull;
    sourceipmap_tick(st, now);

    assert_int_equal(map_one(st, "source_host", "10.1.1.1", name, sizeof(name)), 0);
    assert_string_equal(name, "old-name");
    assert_int_equal(map_one(st, "source_host", "10.2.2.2", name, sizeof(name)), 0);
    assert_string_equal(name, "");
    assert_int_equal(map_one(st, "source_host", NULL, name, sizeof(name)), 0);
    assert_string_equal(name, "");

    /* Same size, new mtime: only the signature tells them apart. Events
     * never re-read: only tick() does, every 2 s. */
    write_file(path, "10.1.1.1 new-name\n");
    times[1].tv_sec += 60;
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    map_one(st, "source_host", "10.1.1.1", name, sizeof(name));
    assert_string_equal(name, "old-name");
    sourceipmap_tick(st, now += 1999999999ull); /* not yet due */
    map_one(st, "source_host", "10.1.1.1", name, sizeof(name));
    assert_string_equal(name, "old-name");
    sourceipmap_tick(st, now += 1);
    map_one(st, "source_host", "10.1.1.1", name, sizeof(name));
    assert_string_equal(name, "new-name");

    /* A vanished file keeps the last names; the failure is noted. */
    unlink(path);
    sourceipmap_tick(st, now += 2000000000ull);
    assert_true(sourceipmap_reload_failing(st));
    assert_int_equal(map_one(st, "source_host", "10.1.1.1", name, sizeof(name)), 0);
    assert_string_equal(name, "new-name");
    write_file(path, "10.1.1.1 back\n");
    sourceipmap_tick(st, now += 2000000000ull);
    assert_false(sourceipmap_reload_failing(st));
    assert_int_equal(map_one(st, "source_host", "10.1.1.1", name, sizeof(name)), 0);
    assert_string_equal(name, "back");

    sourceipmap_destroy(st);
    rm_tree(dir);
}

static void test_sourceipmap_attribute_key(void **state)
{
    char dir[64], path[96], name[64];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/hosts", dir);
    write_file(path, "# nothing but a comment\n10.3.3.3 web-1\n");
    void *st = sourceipmap_start(path, "src");
    assert_int_equal(map_one(st, "src", "10.3.3.3", name, sizeof(name)), 0);
    assert_string_equal(name, "web-1");
    assert_int_equal(map_one(st, "src", "10.1.1.1", name, sizeof(name)), 0);
    assert_string_equal(name, "");
    sourceipmap_destroy(st);
    rm_tree(dir);
}

static void expect_init_error(const char *args, const char *want)
{
    char err[256] = "";
    void *st = NULL;
    json_t *j = args ? json_loads(args, 0, NULL) : NULL;
    assert_true(!args || j);
    assert_int_not_equal(sourceipmap_init_host("tcp_connect", j, NULL, &st, err, sizeof(err)), 0);
    assert_null(st);
    if (!strstr(err, want))
        fail_msg("want \"%s\", got \"%s\"", want, err);
    json_decref(j);
}

static void test_sourceipmap_args(void **state)
{
    expect_init_error(NULL, "hostfiles: required");
    expect_init_error("{}", "hostfiles: required");
    expect_init_error("{\"hostfiles\": \"/etc/hosts\"}", "hostfiles: must be a non-empty list");
    expect_init_error("{\"hostfiles\": []}", "hostfiles: must be a non-empty list");
    expect_init_error("{\"hostfiles\": [\"/etc/hosts\", 3]}", "hostfiles[1]: must be a file name");
    expect_init_error("{\"hostfiles\": [\"/nonexistent/hosts\"]}",
                      "hostfiles[0]: /nonexistent/hosts: No such file or directory");
    expect_init_error("{\"hostfiles\": [\"/etc/hosts\"], \"attribute_key\": 5}",
                      "attribute_key: must be a non-empty string");
    expect_init_error("{\"hostfiles\": [\"/etc/hosts\"], \"attribute_key\": \"\"}",
                      "attribute_key: must be a non-empty string");
    expect_load_warning("tcp_connect", "sourceipmap",
                        "{\"hostfiles\": [\"/etc/hosts\"], \"hostfile\": 1, \"colour\": 2}",
                        "tcp_connect.plugins.sourceipmap: unknown argument(s) ignored: "
                        "'hostfile', 'colour' (sourceipmap takes hostfiles, attribute_key)");
    expect_init_error("[1]", "arguments must be a mapping");
}

/* ---- loader ---- */

static void test_loader_order_and_disabled(void **state)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "net_listen");
    fixture_add(&f, "tag_b", NULL, false);
    fixture_add(&f, "identityplugin", NULL, false);
    fixture_add(&f, "doesnotexist", NULL, false);
    f.pcs[2].enabled = false; /* never looked up */
    fixture_add(&f, "tag_a", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    assert_int_equal(plugin_set_count(set), 3);
    json_t *ev = json_object();
    assert_int_equal(plugin_set_process(set, ev), 0);
    json_t *want = json_pack("{s:[s,s]}", "order", "tag_b", "tag_a");
    assert_true(json_equal(ev, want));
    json_decref(want);
    json_decref(ev);
    plugin_set_free(set);
    plugin_set_free(NULL);
    assert_int_equal(plugin_set_count(NULL), 0);

    /* Nothing enabled: an empty set, not an error. */
    fixture_release(&f);
    fixture_init(&f, "tcp_connect");
    set = load(&f, err, sizeof(err));
    assert_non_null(set);
    assert_int_equal(plugin_set_count(set), 0);
    plugin_set_free(set);
}

static void test_loader_unknown_and_bad_name(void **state)
{
    expect_load_error("tcp_connect", "nope", NULL,
                      "test.yml:10: unknown plugin 'nope' (looked in " PLUGIN_DIR
                      ", " TEST_PLUGIN_DIR ")");
    expect_load_error("tcp_connect", "../plugins/identityplugin", NULL,
                      "test.yml:10: plugin name '../plugins/identityplugin' is not valid");
    expect_load_error("tcp_connect", "", NULL, "plugin name '' is not valid");
}

static void test_loader_bad_objects(void **state)
{
    expect_load_error("tcp_connect", "nosymbol", NULL,
                      "test.yml:10: plugin 'nosymbol': " TEST_PLUGIN_DIR
                      "/nosymbol.so does not export 'pidtree_plugin': ");
    expect_load_error("tcp_connect", "nosymbol", NULL, "undefined symbol: pidtree_plugin");
    expect_load_error("tcp_connect", "badabi", NULL,
                      "badabi.so was built for plugin ABI version 99, this pidtree-bcc "
                      "supports version 1");
    expect_load_error("tcp_connect", "wrongname", NULL, "wrongname.so calls itself 'somebodyelse'");
}

static void test_loader_unsupported_probe(void **state)
{
    expect_load_error("net_listen", "sourceipmap", "{\"hostfiles\": [\"/etc/hosts\"]}",
                      "test.yml:10: plugin 'sourceipmap' does not support probe 'net_listen' "
                      "(supports: tcp_connect)");
    expect_load_error("udp_session", "loginuidmap", NULL,
                      "plugin 'loginuidmap' does not support probe 'udp_session' "
                      "(supports: tcp_connect, net_listen)");
}

static void test_loader_init_failure(void **state)
{
    expect_load_error("tcp_connect", "initfail", NULL,
                      "test.yml:10: plugin 'initfail' failed to initialise: boom: the test "
                      "plugin always fails");
    expect_load_error("tcp_connect", "sourceipmap", "{\"attribute_key\": \"x\"}",
                      "test.yml:10: plugin 'sourceipmap' failed to initialise: hostfiles: "
                      "required");

    /* With unload_on_init_exception the rest loads and runs. */
    struct fixture f;
    char err[512];
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "tag_a", NULL, false);
    fixture_add(&f, "initfail", NULL, true);
    fixture_add(&f, "tag_b", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    assert_int_equal(plugin_set_count(set), 2);
    json_t *ev = json_object();
    plugin_set_process(set, ev);
    assert_int_equal(json_array_size(json_object_get(ev, "order")), 2);
    json_decref(ev);
    plugin_set_free(set);
    fixture_release(&f);
}

/* As the original: unload_on_init_exception also covers a plugin that is
 * not found or does not support the probe: it is left out, the rest load. */
static void test_loader_unload_covers_missing_and_unsupported(void **state)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "net_listen");
    fixture_add(&f, "tag_a", NULL, false);
    fixture_add(&f, "nope", NULL, true);
    fixture_add(&f, "sourceipmap", "{\"hostfiles\": [\"/etc/hosts\"]}", true);
    fixture_add(&f, "tag_b", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    assert_int_equal(plugin_set_count(set), 2);
    assert_string_equal(err, "");
    json_t *ev = json_object();
    plugin_set_process(set, ev);
    assert_int_equal(json_array_size(json_object_get(ev, "order")), 2);
    json_decref(ev);
    plugin_set_free(set);
    fixture_release(&f);
}

static void test_loader_process_failures_counted(void **state)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "failing", NULL, false);
    fixture_add(&f, "tag_a", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    for (int i = 0; i < 3; i++) {
        json_t *ev = json_object();
        assert_int_equal(plugin_set_process(set, ev), 1);
        /* The later plugin still ran. */
        assert_int_equal(json_array_size(json_object_get(ev, "order")), 1);
        json_decref(ev);
    }
    plugin_set_free(set);
    fixture_release(&f);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(in >= 0 && out >= 0);
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* Loads identityplugin from `dir` alone; returns the error ("" if loaded). */
static const char *load_from(const char *dir, char *err, size_t len)
{
    struct fixture f;
    const char *only[] = {dir};
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "identityplugin", NULL, false);
    struct pt_error perr = {0};
    plugin_set_free(plugin_set_load(&f.probe, only, 1, &fake_services, &f.warnings, &perr));
    pt_error_format(&perr, err, len);
    fixture_release(&f);
    return err;
}

static void test_loader_unsafe_paths(void **state)
{
    char dir[64], sub[96], so[128], err[512], want[256];
    make_tmpdir(dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/plugins", dir);
    snprintf(so, sizeof(so), "%s/identityplugin.so", sub);
    assert_int_equal(mkdir(sub, 0755), 0);
    copy_file(PLUGIN_DIR "/identityplugin.so", so);
    assert_string_equal(load_from(sub, err, sizeof(err)), "");

    const char *as = geteuid() == 0 ? "root" : "uid";
    assert_int_equal(chmod(so, 0666), 0);
    snprintf(want, sizeof(want),
             "test.yml:10: plugin 'identityplugin': %s is writable by other "
             "users; refusing to load it as %s",
             so, as);
    assert_non_null(strstr(load_from(sub, err, sizeof(err)), want));
    assert_int_equal(chmod(so, 0664), 0); /* group-writable too */
    assert_non_null(strstr(load_from(sub, err, sizeof(err)), "is writable by other users"));

    assert_int_equal(chmod(so, 0644), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    snprintf(want, sizeof(want), "%s is writable by other users", sub);
    assert_non_null(strstr(load_from(sub, err, sizeof(err)), want));
    /* Sticky, like /tmp: others cannot replace what is in it. */
    assert_int_equal(chmod(sub, 01777), 0);
    assert_string_equal(load_from(sub, err, sizeof(err)), "");
    assert_int_equal(chmod(sub, 0755), 0);

    /* A symlink is judged by what it points to. */
    char link[128];
    snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink(sub, link), 0);
    assert_string_equal(load_from(link, err, sizeof(err)), "");

    if (geteuid() == 0) {
        assert_int_equal(chown(so, 4242, 0), 0);
        snprintf(want, sizeof(want), "%s is owned by uid 4242; refusing to load it as root", so);
        assert_non_null(strstr(load_from(sub, err, sizeof(err)), want));
    }
    rm_tree(dir);
}

/* ---- loginuidmap ---- */

static json_t *run_loginuidmap(const char *args)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "loginuidmap", args, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    json_t *ev = json_pack("{s:i, s:[{s:i},{s:i},{s:i},{s:i},{s:i},{s:i}]}", "pid", 100, "proctree",
                           "pid", 100, "pid", 200, "pid", 300, "pid", 400, "pid", 500, "pid", 1);
    assert_int_equal(plugin_set_process(set, ev), 0);
    plugin_set_free(set);
    fixture_release(&f);
    return ev;
}

/* The login uids come from the daemon's process cache and the names from
 * its user cache (here the fake services), not from /proc at write time. */
static void test_loginuidmap(void **state)
{
    username_calls = 0;
    json_t *ev = run_loginuidmap(NULL);
    json_t *want = json_pack("{s:i, s:[{s:i,s:i,s:s},{s:i},{s:i,s:i,s:s},{s:i},{s:i},{s:i}]}",
                             "pid", 100, "proctree", "pid", 100, "loginuid", 0, "loginname",
                             "user-0", "pid", 200, "pid", 300, "loginuid", 4242424, "loginname",
                             "user-4242424", "pid", 400, "pid", 500, "pid", 1);
    if (!json_equal(ev, want))
        fail_msg("got %s", json_dumps(ev, JSON_COMPACT));
    assert_int_equal(username_calls, 2);
    json_decref(ev);
    json_decref(want);

    /* top_level written as the original's users write booleans. */
    static const char *const top_levels[] = {"{\"top_level\": true, \"enabled\": true}",
                                             "{\"top_level\": 1}", "{\"top_level\": \"True\"}",
                                             "{\"top_level\": \"yes\"}"};
    for (size_t i = 0; i < sizeof(top_levels) / sizeof(top_levels[0]); i++) {
        ev = run_loginuidmap(top_levels[i]);
        assert_int_equal(json_integer_value(json_object_get(ev, "loginuid")), 0);
        assert_string_equal(json_string_value(json_object_get(ev, "loginname")), "user-0");
        assert_null(
            json_object_get(json_array_get(json_object_get(ev, "proctree"), 0), "loginuid"));
        json_decref(ev);
    }
    ev = run_loginuidmap("{\"top_level\": \"false\"}");
    assert_null(json_object_get(ev, "loginuid"));
    json_decref(ev);

    expect_load_error("tcp_connect", "loginuidmap", "{\"top_level\": \"maybe\"}",
                      "failed to initialise: top_level: must be true or false");
    expect_load_error("tcp_connect", "loginuidmap", "{\"top_level\": 2}",
                      "failed to initialise: top_level: must be true or false");
    expect_load_warning("net_listen", "loginuidmap", "{\"toplevel\": true}",
                        "net_listen.plugins.loginuidmap: unknown argument 'toplevel' ignored");
}

/* ---- the 1.1 entry points and 1.0 plugins ---- */

/* init_host() gets the host; tick() runs from plugin_set_tick(); the host's
 * user names and login uids are the daemon's services. */
static void test_host_api_and_tick(void **state)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "hosted", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    plugin_set_tick(set, 7000);
    plugin_set_tick(set, 8000);
    plugin_set_tick(NULL, 9000);
    json_t *ev = json_pack("{s:i}", "pid", 42);
    assert_int_equal(plugin_set_process(set, ev), 0);
    assert_int_equal(json_integer_value(json_object_get(ev, "ticks")), 2);
    assert_int_equal(json_integer_value(json_object_get(ev, "last_tick_ns")), 8000);
    assert_string_equal(json_string_value(json_object_get(ev, "user0")), "user-0");
    assert_int_equal(json_integer_value(json_object_get(ev, "loginuid")), 1000);
    assert_int_equal(json_integer_value(json_object_get(ev, "host_size")),
                     sizeof(struct pidtree_host));
    assert_true(json_integer_value(json_object_get(ev, "now_ns")) > 0);
    json_decref(ev);
    plugin_set_free(set);
    fixture_release(&f);
}

/* A plugin built against the 1.0 header (smaller struct_size, and here
 * poison where 1.1's fields would be) loads, initialises, runs and ticks
 * without the loader touching what lies past its descriptor. */
static void test_old_abi_plugin(void **state)
{
    struct fixture f;
    char err[512];
    fixture_init(&f, "tcp_connect");
    fixture_add(&f, "oldabi", NULL, false);
    struct plugin_set *set = load(&f, err, sizeof(err));
    if (!set)
        fail_msg("%s", err);
    plugin_set_tick(set, 1000);
    json_t *ev = json_object();
    assert_int_equal(plugin_set_process(set, ev), 0);
    json_t *want = json_pack("{s:[s]}", "order", "oldabi");
    assert_true(json_equal(ev, want));
    json_decref(want);
    json_decref(ev);
    plugin_set_free(set);
    fixture_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostfile_parse),
        cmocka_unit_test(test_hostfile_merge_order),
        cmocka_unit_test(test_sourceipmap_reload),
        cmocka_unit_test(test_sourceipmap_attribute_key),
        cmocka_unit_test(test_sourceipmap_args),
        cmocka_unit_test(test_loader_order_and_disabled),
        cmocka_unit_test(test_loader_unknown_and_bad_name),
        cmocka_unit_test(test_loader_bad_objects),
        cmocka_unit_test(test_loader_unsupported_probe),
        cmocka_unit_test(test_loader_init_failure),
        cmocka_unit_test(test_loader_unload_covers_missing_and_unsupported),
        cmocka_unit_test(test_loader_process_failures_counted),
        cmocka_unit_test(test_loader_unsafe_paths),
        cmocka_unit_test(test_loginuidmap),
        cmocka_unit_test(test_host_api_and_tick),
        cmocka_unit_test(test_old_abi_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
