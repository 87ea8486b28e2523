/* The YAML loader under hostile input: every case here once crashed, hung
 * or ate memory (issue 15), or was looked up wrongly (issue 13). Each load
 * must end in a tree or in an error naming the file and line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "strbuf.h"
#include "yaml_tree.h"

static struct yaml_tree load_ok(const char *text, struct pt_diags *diags)
{
    struct yaml_tree t;
    struct pt_error err;
    memset(&err, 0, sizeof(err));
    if (yaml_tree_load_string(text, strlen(text), "t.yml", &t, diags, &err) < 0)
        fail_msg("unexpected error: %s:%d: %s", err.file, err.line, err.msg);
    return t;
}

/* Loads `text` expecting an error at `line` whose message has `message`. */
static void expect_error(const char *text, int line, const char *message)
{
    struct yaml_tree t;
    struct pt_error err;
    memset(&err, 0, sizeof(err));
    int ret = yaml_tree_load_string(text, strlen(text), "t.yml", &t, NULL, &err);
    if (ret >= 0) {
        yaml_tree_release(&t);
        fail_msg("accepted; expected '%s'", message);
    }
    if (!strstr(err.msg, message) || err.line != line)
        fail_msg("got %s:%d '%s'; expected line %d '%s'", err.file, err.line, err.msg, line,
                 message);
    assert_string_equal(err.file, "t.yml");
}

static char *dump(const struct ynode *n)
{
    json_t *j = ynode_to_json(n);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void expect_json(const char *text, const char *json)
{
    struct yaml_tree t = load_ok(text, NULL);
    char *s = dump(t.root);
    assert_string_equal(s, json);
    free(s);
    yaml_tree_release(&t);
}

/* Was a null dereference (exit 139): an included document as a key. */
static void test_include_as_key(void **state)
{
    expect_error("a: 1\n!include x.yml : 2\n", 2, "mapping keys must be plain strings");
    expect_error("? !include x.yml\n: 1\n", 1, "(not !include)");
    expect_error("? [a]\n: 1\n", 1, "mapping keys must be plain strings");
}

/* Was a use-after-free / double free: a duplicate key after a `<<`. */
static void test_duplicate_after_merge(void **state)
{
    struct pt_diags d = {0};
    struct yaml_tree t = load_ok("a: &a {x: 1, y: 0}\nb: {<<: *a, y: 1, y: 2}\n", &d);
    char *s = dump(t.root);
    assert_string_equal(s, "{\"a\":{\"x\":1,\"y\":0},\"b\":{\"x\":1,\"y\":2}}");
    free(s);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 2);
    assert_string_equal(d.items[0].msg,
                        "duplicate key 'y': the earlier value on line 2 is ignored");
    yaml_tree_release(&t);
    pt_diags_free(&d);
}

/* Was a double free past 32 `<<` keys. The last `<<` wins (PyYAML). */
static void test_many_merges(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(strbuf_puts(&sb, "m: {x: 0}\nb:\n"), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(strbuf_printf(&sb, "  <<: {x: %d, k%d: %d}\n", i, i, i), 0);
    struct yaml_tree t = load_ok(sb.data, NULL);
    const struct ynode *b = ynode_map_get(t.root, "b");
    assert_non_null(b);
    assert_int_equal(b->n, 2 * 41);
    assert_string_equal(ynode_map_get(b, "x")->value, "39");
    assert_string_equal(ynode_map_get(b, "k0")->value, "0");
    yaml_tree_release(&t);
    strbuf_release(&sb);
}

/* PyYAML's order: own keys, then later `<<` keys, then earlier entries of
 * a `<<` list; duplicates keep the place of the first and the last value. */
static void test_merge_and_duplicate_order(void **state)
{
    expect_json("a: &a {x: 1, y: 1}\n"
                "b: &b {x: 2, z: 2}\n"
                "c: {<<: *a, <<: *b}\n"
                "d: {<<: [*a, *b]}\n"
                "e: {k: 1, j: 0, k: 2}\n"
                "f: {<<: *a, x: 5, x: 6}\n",
                "{\"a\":{\"x\":1,\"y\":1},\"b\":{\"x\":2,\"z\":2},\"c\":{\"x\":2,\"y\":1,\"z\":2},"
                "\"d\":{\"x\":1,\"y\":1,\"z\":2},\"e\":{\"j\":0,\"k\":2},\"f\":{\"x\":6,\"y\":1}}");
    struct yaml_tree t = load_ok("k: 1\nj: 0\nk: 2\n", NULL);
    assert_string_equal(t.root->items[0]->value, "k");
    assert_string_equal(t.root->items[1]->value, "2");
    assert_int_equal(t.root->items[0]->line, 3);
    yaml_tree_release(&t);
    expect_error("a: {<<: [1]}\n", 1, "'<<' needs a mapping");
    expect_error("a: {<<: 1}\n", 1, "'<<' needs a mapping");
}

/* Was a stack overflow: an alias chain 150,000 levels deep. */
static void test_deep_alias_chain(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(strbuf_puts(&sb, "_0: &0 [x]\n"), 0);
    for (int i = 1; i < 150000; i++)
        assert_int_equal(strbuf_printf(&sb, "_%x: &%x [*%x]\n", i, i, i - 1), 0);
    /* Refused before libyaml's loader, whose alias lookup is quadratic. */
    expect_error(sb.data, 1001, "more than 1000 anchors in one file");
    /* Within that limit, the chain's depth is what is refused: _3e (line
     * 63) is [ [ ... [x] ] ], 64 levels below the root. */
    strbuf_reset(&sb);
    assert_int_equal(strbuf_puts(&sb, "_0: &0 [x]\n"), 0);
    for (int i = 1; i < 1000; i++)
        assert_int_equal(strbuf_printf(&sb, "_%x: &%x [*%x]\n", i, i, i - 1), 0);
    expect_error(sb.data, 63, "nested deeper than 64 levels");
    struct config *cfg = NULL;
    struct pt_error err;
    assert_int_equal(config_load_string(sb.data, "c.yml", NULL, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper than 64 levels"));
    strbuf_release(&sb);

    /* The same through merges: each level merges the one above. A `<<`
     * value counts as a level while the tree is read (merging can only
     * make it shallower), so _m31 (line 32) is too deep. */
    assert_int_equal(strbuf_puts(&sb, "_m0: &m0 {v: 0}\n"), 0);
    for (int i = 1; i < 100; i++)
        assert_int_equal(strbuf_printf(&sb, "_m%d: &m%d {n: {<<: *m%d}}\n", i, i, i - 1), 0);
    expect_error(sb.data, 32, "nested deeper than 64 levels");
    strbuf_release(&sb);

    /* And plain nesting. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(strbuf_puts(&sb, "["), 0);
    expect_error(sb.data, 1, "nested deeper than 64 levels"); /* before the syntax error */
    for (int i = 0; i < 100; i++)
        assert_int_equal(strbuf_puts(&sb, "]"), 0);
    expect_error(sb.data, 1, "nested deeper than 64 levels");
    strbuf_release(&sb);
}

/* Was 2 GB from 477 bytes: aliases of aliases, each ten times. */
static void test_billion_laughs(void **state)
{
    const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
                       "tcp_connect: {plugins: {p: {x: *i}}}\n";
    /* f is the first to expand to 1,111,111 nodes. */
    expect_error(text, 6, "expands to more than 1000000 nodes");
    /* Through a plugin's arguments, which become JSON. */
    struct config *cfg = NULL;
    struct pt_error err;
    assert_int_equal(config_load_string(text, "c.yml", NULL, &cfg, &err), -E2BIG);
    assert_int_equal(err.line, 6);
    /* Through merges, which copy pairs rather than share a node. */
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(strbuf_puts(&sb, "m0: &m0 {a: 1, b: 2, c: 3}\n"), 0);
    for (int i = 1; i < 30; i++)
        assert_int_equal(strbuf_printf(&sb, "m%d: &m%d {a: *m%d, b: *m%d, <<: *m%d}\n", i, i, i - 1,
                                       i - 1, i - 1),
                         0);
    expect_error(sb.data, 12, "expands to more than 1000000 nodes");
    strbuf_release(&sb);
}

/* Was exponential time: an alias to the node that holds it, twice. */
static void test_alias_cycle(void **state)
{
    expect_error("a: &a [*a, *a]\n", 1, "an alias refers to a node that contains it");
    expect_error("a: &a {x: *a, <<: *a}\n", 1, "an alias refers to a node that contains it");
}

/* Was 85 s: the duplicate check was quadratic. */
static void test_many_keys(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 100000; i++)
        assert_int_equal(strbuf_printf(&sb, "k%d: %d\n", i, i), 0);
    assert_int_equal(strbuf_puts(&sb, "k5: last\n"), 0);
    struct pt_diags d = {0};
    struct yaml_tree t = load_ok(sb.data, &d);
    assert_int_equal(t.root->n, 200000);
    assert_string_equal(ynode_map_get(t.root, "k5")->value, "last");
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 100001);
    yaml_tree_release(&t);
    pt_diags_free(&d);
    strbuf_release(&sb);
}

/* A scratch directory with files, removed by the caller. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_dir(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int load_file(const char *dir, const char *name, struct yaml_tree *t, struct pt_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memset(err, 0, sizeof(*err));
    return yaml_tree_load_file(path, t, NULL, err);
}

/* Were: /dev/zero read until memory ran out, a FIFO blocked for ever. */
static void test_only_bounded_regular_files(void **state)
{
    char dir[] = "/tmp/pidtree-yaml.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct yaml_tree t;
    struct pt_error err;

    write_file(dir, "zero.yml", "a: 1\nb: !include /dev/zero\n");
    assert_int_equal(load_file(dir, "zero.yml", &t, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_string_equal(err.msg, "!include /dev/zero: not a regular file");

    write_file(dir, "fifo.yml", "a: !include fifo\n");
    assert_int_equal(load_file(dir, "fifo.yml", &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "/fifo: not a regular file"));
    assert_int_equal(load_file(dir, "fifo", &t, &err), -EINVAL);
    assert_string_equal(err.msg, "not a regular file");
    assert_string_equal(err.file, fifo);

    write_file(dir, "dir.yml", "a: !include .\n");
    assert_int_equal(load_file(dir, "dir.yml", &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));

    /* One byte over the per-file cap. */
    char big[PATH_MAX];
    snprintf(big, sizeof(big), "%s/big.yml", dir);
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, YAML_FILE_MAX + 1), 0);
    close(fd);
    write_file(dir, "top.yml", "a: !include big.yml\n");
    assert_int_equal(load_file(dir, "top.yml", &t, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "big.yml: larger than 4 MiB"));

    /* Under the per-file cap, over the total: a 3 MiB comment six times. */
    char *comment = malloc(3u << 20);
    assert_non_null(comment);
    memset(comment, 'x', (3u << 20) - 1);
    comment[0] = '#';
    comment[(3u << 20) - 2] = '\n';
    comment[(3u << 20) - 1] = '\0';
    write_file(dir, "big.yml", comment);
    free(comment);
    write_file(dir, "top.yml",
               "- !include big.yml\n- !include big.yml\n- !include big.yml\n"
               "- !include big.yml\n- !include big.yml\n- !include big.yml\n");
    assert_int_equal(load_file(dir, "top.yml", &t, &err), -EFBIG);
    assert_int_equal(err.line, 6);
    assert_non_null(strstr(err.msg, "the config and its includes exceed 16 MiB in all"));
    remove_dir(dir);
}

/* A small HTTP server on 127.0.0.1 in a child process: each request gets
 * the body of the file of that name in `dir` (404 when there is none, a
 * body without Content-Length when the name starts with "stream"). */
static pid_t serve(const char *dir, int *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 16), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(s);
        return pid;
    }
    signal(SIGPIPE, SIG_IGN); /* a client that stops reading is no reason to die */
    for (int served = 0; served < 64; served++) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 20000) <= 0)
            _exit(0);
        int c = accept(s, NULL, NULL);
        char req[1024] = "", name[256] = "", path[PATH_MAX + 512];
        ssize_t n = c >= 0 ? read(c, req, sizeof(req) - 1) : -1;
        if (n > 0 && sscanf(req, "GET /%255s", name) == 1)
            snprintf(path, sizeof(path), "%s/%s", dir, name);
        struct strbuf body = STRBUF_INIT;
        bool found = n > 0 && name[0] && strbuf_read_file(&body, path) == 0;
        char head[128];
        int hl = !found ? snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\n\r\n")
                 : strncmp(name, "stream", 6) == 0
                     ? snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n\r\n")
                     : snprintf(head, sizeof(head),
                                "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", body.len);
        if (c >= 0 && write(c, head, (size_t)hl) == hl && found) {
            for (size_t off = 0; off < body.len;) {
                ssize_t w = write(c, body.data + off, body.len - off);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
        strbuf_release(&body);
        if (c >= 0)
            close(c);
    }
    _exit(0);
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* Was: -c http://... crashed when the fetch failed (exit 139). */
static void test_url_fetch_fails_cleanly(void **state)
{
    struct yaml_tree t;
    struct pt_error err;
    memset(&err, 0, sizeof(err));
    /* Nothing listens on port 1. */
    const char *url = "http://127.0.0.1:1/config.yml";
    assert_int_equal(yaml_tree_load_file(url, &t, NULL, &err), -EIO);
    assert_string_equal(err.file, url);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.msg, "cannot fetch: "));
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    struct config *cfg = NULL;
    assert_int_equal(config_load(url, NULL, &cfg, &err), -EIO);
    assert_string_equal(err.file, url);
}

/* `!include http(s)://` in a local file is fetched (it was looked up as a
 * local path), a relative include in a fetched file is fetched from beside
 * it, and fetches are bounded in size. */
static void test_url_includes(void **state)
{
    char dir[] = "/tmp/pidtree-yaml.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char www[PATH_MAX];
    snprintf(www, sizeof(www), "%s/www", dir);
    assert_int_equal(mkdir(www, 0755), 0);
    int port;
    pid_t server = serve(www, &port);
    char text[512];
    write_file(www, "remote.yml", "r: 1\nnext: !include other.yml\n");
    write_file(www, "other.yml", "o: 2\n");
    snprintf(text, sizeof(text), "local: 0\nremote: !include http://127.0.0.1:%d/remote.yml\n",
             port);
    write_file(dir, "top.yml", text);
    struct yaml_tree t;
    struct pt_error err;
    if (load_file(dir, "top.yml", &t, &err) < 0)
        fail_msg("%s:%d: %s", err.file, err.line, err.msg);
    char *s = dump(t.root);
    assert_string_equal(s, "{\"local\":0,\"remote\":{\"next\":{\"o\":2},\"r\":1}}");
    free(s);
    assert_int_equal(t.n_sources, 3);
    assert_false(t.sources[0].is_url);
    assert_true(t.sources[1].is_url);
    snprintf(text, sizeof(text), "http://127.0.0.1:%d/other.yml", port);
    assert_string_equal(t.sources[2].path, text);
    assert_true(t.sources[2].is_url);
    /* An error in a fetched file names the URL and the line. */
    assert_non_null(strstr(t.root->items[3]->items[1]->file, "/remote.yml"));
    yaml_tree_release(&t);

    /* The config keeps which sources are URLs; files stays local only. */
    write_file(dir, "top.yml", "tcp_connect: !include http://127.0.0.1:1/x.yml\n");
    snprintf(text, sizeof(text), "tcp_connect: !include http://127.0.0.1:%d/probe.yml\n", port);
    write_file(dir, "top.yml", text);
    write_file(www, "probe.yml", "attach: kprobe\n");
    char top[PATH_MAX];
    snprintf(top, sizeof(top), "%s/top.yml", dir);
    struct config *cfg = NULL;
    /* No probe is known: the fetched text reached the schema. */
    assert_int_equal(config_load(top, NULL, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown probe 'tcp_connect'"));
    snprintf(text, sizeof(text), "_x: !include http://127.0.0.1:%d/probe.yml\n", port);
    write_file(dir, "top.yml", text);
    if (config_load(top, NULL, &cfg, &err) < 0)
        fail_msg("%s:%d: %s", err.file, err.line, err.msg);
    assert_int_equal(cfg->n_files, 1);
    assert_string_equal(cfg->files[0], top);
    assert_int_equal(cfg->n_sources, 2);
    assert_true(cfg->sources[1].is_url);
    config_free(cfg);

    /* 404, and bodies over the cap with and without a Content-Length. */
    snprintf(text, sizeof(text), "a: 1\nb: !include http://127.0.0.1:%d/missing.yml\n", port);
    write_file(dir, "top.yml", text);
    assert_int_equal(load_file(dir, "top.yml", &t, &err), -EIO);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "/missing.yml: cannot fetch: "));
    assert_non_null(strstr(err.msg, "404"));
    char *huge = malloc(YAML_FILE_MAX + 2);
    assert_non_null(huge);
    memset(huge, '#', YAML_FILE_MAX + 1);
    huge[YAML_FILE_MAX + 1] = '\0';
    write_file(www, "huge.yml", huge);
    write_file(www, "stream.yml", huge);
    free(huge);
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof(text), "b: !include http://127.0.0.1:%d/%s\n", port,
                 i ? "stream.yml" : "huge.yml");
        write_file(dir, "top.yml", text);
        int ret = load_file(dir, "top.yml", &t, &err);
        if (ret != -EFBIG || !strstr(err.msg, "larger than 4 MiB"))
            fail_msg("%s: %d %s", i ? "stream.yml" : "huge.yml", ret, err.msg);
    }
    stop(server);
    remove_dir(dir);
}

/* The top document may be at most YAML_FILE_MAX bytes as a string too. */
static void test_string_cap(void **state)
{
    char *text = malloc(YAML_FILE_MAX + 2);
    assert_non_null(text);
    memset(text, '#', YAML_FILE_MAX + 1);
    text[YAML_FILE_MAX + 1] = '\0';
    struct yaml_tree t;
    struct pt_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(yaml_tree_load_string(text, strlen(text), "s.yml", &t, NULL, &err), -EFBIG);
    assert_string_equal(err.msg, "larger than 4 MiB");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include_as_key),
        cmocka_unit_test(test_duplicate_after_merge),
        cmocka_unit_test(test_many_merges),
        cmocka_unit_test(test_merge_and_duplicate_order),
        cmocka_unit_test(test_deep_alias_chain),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_alias_cycle),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_only_bounded_regular_files),
        cmocka_unit_test(test_url_fetch_fails_cleanly),
        cmocka_unit_test(test_url_includes),
        cmocka_unit_test(test_string_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
