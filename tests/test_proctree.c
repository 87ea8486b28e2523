/* Process cache: /proc as the base, kernel events on top, against a fake
 * /proc tree in a temporary directory. */
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

#include "proctree.h"

#define SEC 1000000000ull
#define BASE_PROCS 6 /* 1, 2, 10, 100, 200, 50 */
#define HOST_PIDNS "pid:[4026531836]"
#define CID "e14279f53b7be40d48be7c9e763e597434fe573aa7b26d4ffb414dd2f825857e"
#define PODMAN_CGROUP "1:cpu:/libpod_parent/libpod-" CID "\n0::/libpod_parent/libpod-" CID "\n"

struct fixture {
    char root[64];
    struct proc_cache *cache;
};

static void write_file(const char *root, uint32_t pid, const char *name, const char *data,
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

/* `start` is field 22 of stat, in clock ticks. */
static void fake_proc(const char *root, uint32_t pid, const char *comm, uint32_t ppid,
                      unsigned long long start, uint32_t uid, const char *cmdline, size_t len)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "%u (%s) S %u 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %llu 1000 100\n", pid,
                     comm, ppid, start);
    write_file(root, pid, "stat", buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "Name:\t%s\nState:\tS\nPPid:\t%u\nUid:\t%u\t0\t0\t0\n", comm,
                 ppid, uid);
    write_file(root, pid, "status", buf, (size_t)n);
    write_file(root, pid, "cmdline", cmdline, len);
}

#define FAKE(root, pid, comm, ppid, start, uid, lit)                                               \
    fake_proc(root, pid, comm, ppid, start, uid, lit, sizeof(lit) - 1)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_proc(const char *root, uint32_t pid)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%u", root, pid);
    assert_int_equal(nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->root, sizeof(fx->root), "/tmp/pt-proc-XXXXXX");
    if (!mkdtemp(fx->root))
        return -1;
    const char *r = fx->root;
    FAKE(r, 1, "systemd", 0, 1, 0, "/sbin/init\0splash\0");
    FAKE(r, 2, "kthreadd", 0, 1, 0, "");
    FAKE(r, 10, "kworker/0:1 (x)) y", 2, 2, 0, "");
    FAKE(r, 100, "my) proc (x", 1, 50, 4000123, "bash\0-l\0");
    FAKE(r, 200, "python3", 100, 60, 4000123, "python3\0-c\0print(1)\0");
    /* Its parent is gone from /proc. */
    FAKE(r, 50, "orphan", 60, 40, 0, "orphan\0");
    /* Not a process: skipped. */
    char path[128];
    snprintf(path, sizeof(path), "%s/self", r);
    mkdir(path, 0755);
    /* The daemon's PID namespace. */
    snprintf(path, sizeof(path), "%s/self/ns", r);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/self/ns/pid", r);
    if (symlink(HOST_PIDNS, path) < 0)
        return -1;
    fx->cache = proc_cache_new(r);
    if (!fx->cache)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    proc_cache_free(fx->cache);
    nftw(fx->root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Asserts the tree of `pid` lists `pids` (0-terminated) and the error. */
static json_t *check_tree(struct proc_cache *c, uint32_t pid, const uint32_t *pids,
                          const char *error)
{
    const char *err = NULL;
    json_t *tree = proc_cache_tree(c, pid, &err);
    assert_non_null(tree);
    assert_non_null(err);
    assert_string_equal(err, error);
    size_t n = 0;
    while (pids[n])
        n++;
    assert_int_equal(json_array_size(tree), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(tree, i), "pid")),
                         pids[i]);
    return tree;
}

static const char *field(json_t *tree, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(tree, i), key));
}

static void test_scan_and_tree(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(proc_cache_scan(fx->cache), BASE_PROCS);
    assert_int_equal(proc_cache_size(fx->cache), BASE_PROCS);

    json_t *t = check_tree(fx->cache, 200, (uint32_t[]){200, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "python3 -c print(1)");
    assert_string_equal(field(t, 1, "cmdline"), "bash -l");
    assert_string_equal(field(t, 1, "username"), "4000123");
    assert_string_equal(field(t, 2, "cmdline"), "/sbin/init splash");
    assert_string_equal(field(t, 2, "username"), "root");
    json_decref(t);

    /* A kernel thread: [comm], parsed up to the last ')', up to kthreadd. */
    t = check_tree(fx->cache, 10, (uint32_t[]){10, 2, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "[kworker/0:1 (x)) y]");
    assert_string_equal(field(t, 1, "cmdline"), "[kthreadd]");
    json_decref(t);

    /* A rescan changes nothing. */
    assert_int_equal(proc_cache_scan(fx->cache), BASE_PROCS);
    assert_int_equal(proc_cache_size(fx->cache), BASE_PROCS);
}

static void test_exited_parent_kept(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    proc_cache_scan(c);
    proc_cache_fork(c, 100, 300, 4000123, 5 * SEC);
    json_t *t = check_tree(c, 300, (uint32_t[]){300, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "bash -l"); /* inherited until exec */
    json_decref(t);

    proc_cache_exec(c, 300, 4000123, "sh\0-c\0sleep 1\0", 14, 0);
    proc_cache_fork(c, 300, 301, 4000123, 6 * SEC);
    proc_cache_exec(c, 301, 0, "curl\0example.com\0", 17, 0);
    proc_cache_exit(c, 300);
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 2);

    t = check_tree(c, 301, (uint32_t[]){301, 300, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "curl example.com");
    assert_string_equal(field(t, 0, "username"), "root");
    assert_string_equal(field(t, 1, "cmdline"), "sh -c sleep 1");
    json_decref(t);

    /* A setuid since exec shows in the tree. */
    proc_cache_set_uid(c, 301, 4000123);
    t = check_tree(c, 301, (uint32_t[]){301, 300, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "username"), "4000123");
    json_decref(t);

    proc_cache_exit(c, 301);
    assert_int_equal(proc_cache_size(c), BASE_PROCS);
}

static void test_pid_reuse(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    proc_cache_scan(c);
    proc_cache_fork(c, 100, 400, 0, 5 * SEC);
    proc_cache_exec(c, 400, 0, "old\0", 4, 0);
    proc_cache_fork(c, 400, 401, 0, 6 * SEC);
    proc_cache_exit(c, 400);
    proc_cache_fork(c, 1, 400, 0, 7 * SEC);
    proc_cache_exec(c, 400, 0, "new\0", 4, 0);

    json_t *t = check_tree(c, 401, (uint32_t[]){401, 400, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "old");
    assert_string_equal(field(t, 1, "cmdline"), "old");
    json_decref(t);
    t = check_tree(c, 400, (uint32_t[]){400, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "new");
    json_decref(t);

    /* A fork onto a pid still cached (its exit was lost) replaces it. */
    proc_cache_fork(c, 200, 400, 0, 8 * SEC);
    json_decref(check_tree(c, 400, (uint32_t[]){400, 200, 100, 1, 0}, ""));
    /* 401, the exited "old" 400 it still points at, and the newest 400. */
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 3);

    /* Pid 60, started after the orphan 50, is not its parent. */
    json_decref(check_tree(c, 50, (uint32_t[]){50, 0}, "parent of 50 (pid 60) not found"));
    proc_cache_fork(c, 1, 60, 0, 9 * SEC);
    json_decref(check_tree(c, 50, (uint32_t[]){50, 0}, "parent of 50 (pid 60) not found"));

    /* /proc lists none of the forked pids: a rescan drops them. */
    proc_cache_scan(c);
    assert_int_equal(proc_cache_size(c), BASE_PROCS);
}

static void test_scan_replaces_and_drops(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    proc_cache_scan(c);
    /* Same start (within the tick a fork event lags): kept, /proc wins. */
    proc_cache_fork(c, 200, 500, 0, 5 * SEC + 3);
    FAKE(fx->root, 500, "a", 200, 500, 0, "a\0");
    proc_cache_fork(c, 200, 501, 0, 5 * SEC);
    FAKE(fx->root, 501, "b", 1, 900, 0, "b\0");
    assert_int_equal(proc_cache_scan(c), BASE_PROCS + 2);
    json_t *t = check_tree(c, 500, (uint32_t[]){500, 200, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "a");
    json_decref(t);
    /* Another start time: another process, read from /proc. */
    json_decref(check_tree(c, 501, (uint32_t[]){501, 1, 0}, ""));
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 2);

    remove_proc(fx->root, 500);
    remove_proc(fx->root, 501);
    remove_proc(fx->root, 10);
    assert_int_equal(proc_cache_scan(c), BASE_PROCS - 1);
    assert_int_equal(proc_cache_size(c), BASE_PROCS - 1);
}

static void test_exec(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    proc_cache_scan(c);
    /* Truncated: /proc has the whole line. */
    proc_cache_exec(c, 200, 0, "python3\0-c\0", 11, 1);
    json_t *t = check_tree(c, 200, (uint32_t[]){200, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "python3 -c print(1)");
    json_decref(t);

    /* Entries are cached as JSON between events: an exec or a uid change
     * must show in the next tree. */
    proc_cache_exec(c, 200, 0, "second\0", 7, 0);
    proc_cache_set_uid(c, 200, 4000123);
    t = check_tree(c, 200, (uint32_t[]){200, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "second");
    assert_string_equal(field(t, 0, "username"), "4000123");
    json_decref(t);

    /* Truncated, and /proc shows a later exec (pid 100's /proc is "bash
     * -l"): the kernel's capture is kept, marked truncated. */
    proc_cache_exec(c, 100, 0, "sleep\0x\0", 8, 1);
    t = check_tree(c, 100, (uint32_t[]){100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "sleep x ...");
    assert_true(json_is_true(json_object_get(json_array_get(t, 0), "truncated")));
    json_decref(t);

    /* Truncated and gone from /proc; unknown, so no parent either. */
    proc_cache_exec(c, 600, 0, "a\0b\0", 4, 1);
    t = check_tree(c, 600, (uint32_t[]){600, 0}, "parent of 600 not found");
    assert_string_equal(field(t, 0, "cmdline"), "a b ...");
    json_decref(t);

    /* Unknown to the cache but in /proc: parent from stat. */
    FAKE(fx->root, 700, "x", 100, 70, 0, "x\0");
    proc_cache_exec(c, 700, 0, "y\0", 2, 0);
    t = check_tree(c, 700, (uint32_t[]){700, 100, 1, 0}, "");
    assert_string_equal(field(t, 0, "cmdline"), "y");
    json_decref(t);

    /* Not cached, read from /proc by the tree itself. */
    FAKE(fx->root, 701, "z", 700, 71, 0, "z\0");
    json_decref(check_tree(c, 701, (uint32_t[]){701, 700, 100, 1, 0}, ""));
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 3);
}

static void test_missing(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    json_decref(check_tree(c, 9999, (uint32_t[]){0}, "process 9999 not found"));
    proc_cache_fork(c, 9998, 9000, 0, SEC);
    json_decref(check_tree(c, 9000, (uint32_t[]){9000, 0}, "parent of 9000 (pid 9998) not found"));
    /* The error is reset by the next call. */
    json_decref(check_tree(c, 200, (uint32_t[]){200, 100, 1, 0}, ""));
    proc_cache_exit(c, 12345); /* unknown: ignored */
    proc_cache_set_uid(c, 12345, 1);
}

static void test_hostile_cmdline(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    static const char args[] = "\xff\xfe\0\"quoted\" \\\0line\nbreak\0\xc3\0\xe2\x82\xac\0";
    proc_cache_fork(c, 1, 800, 0, SEC);
    proc_cache_exec(c, 800, 0, args, sizeof(args) - 1, 0);
    const char *err;
    json_t *tree = proc_cache_tree(c, 800, &err);
    assert_non_null(tree);
    char *s = json_dumps(tree, JSON_COMPACT);
    assert_non_null(s);
    json_error_t jerr;
    json_t *back = json_loads(s, 0, &jerr);
    assert_non_null(back);
    assert_string_equal(field(back, 0, "cmdline"), "\xEF\xBF\xBD\xEF\xBF\xBD \"quoted\" \\ "
                                                   "line\nbreak \xEF\xBF\xBD \xE2\x82\xAC");
    json_decref(back);
    free(s);
    json_decref(tree);
}

static void check_join(const char *args, size_t len, const char *want)
{
    char *s = proc_args_join(args, len);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void test_args_join(void **state)
{
    check_join("a\0b\0", 4, "a b");
    check_join("a\0b", 3, "a b");
    check_join("a\0\0b\0\0\0", 7, "a  b");
    check_join("", 0, "");
    check_join(NULL, 0, "");
    check_join("\0\0\0", 3, "");
    check_join("\0x", 2, " x");
    check_join("abc", 3, "abc");
}

static void test_username(void **state)
{
    struct fixture *fx = *state;
    const char *a = proc_cache_username(fx->cache, 4000123);
    assert_string_equal(a, "4000123");
    assert_ptr_equal(proc_cache_username(fx->cache, 4000123), a);
    assert_string_equal(proc_cache_username(fx->cache, 0), "root");
    assert_string_equal(proc_cache_username(fx->cache, 4000123 + 64), "4000187");
}

/* Short-lived processes must not accumulate, even with pids wrapping. */
static void test_churn(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    proc_cache_scan(c);
    uint64_t t = 10 * SEC;
    for (uint32_t i = 0; i < 200000; i++) {
        uint32_t pid = 1000 + i % 40000;
        proc_cache_fork(c, 200, pid, 0, t += 1000000);
        proc_cache_exec(c, pid, 0, "true\0", 5, 0);
        if (i % 3 == 0) {
            proc_cache_fork(c, pid, pid + 50000, 0, t += 1000000);
            proc_cache_exit(c, pid);
            proc_cache_exit(c, pid + 50000);
        } else {
            proc_cache_exit(c, pid);
        }
    }
    assert_int_equal(proc_cache_size(c), BASE_PROCS);

    /* Many live at once, then all gone. */
    for (uint32_t pid = 10000; pid < 60000; pid++)
        proc_cache_fork(c, pid == 10000 ? 1 : pid - 1, pid, 0, t += 1000);
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 50000);
    /* A chain deeper than the walk's cap stops with a message, not a hang. */
    const char *err = NULL;
    json_t *tree = proc_cache_tree(c, 14095, &err);
    assert_non_null(tree);
    assert_non_null(strstr(err, "too deep"));
    assert_true(json_array_size(tree) <= 4096);
    json_decref(tree);
    /* Leaves the long chain cached: freed with the cache. */
    for (uint32_t pid = 10000; pid < 59990; pid++)
        proc_cache_exit(c, pid);
    assert_int_equal(proc_cache_size(c), BASE_PROCS + 50000);
    for (uint32_t pid = 59990; pid < 60000; pid++)
        proc_cache_exit(c, pid);
    assert_int_equal(proc_cache_size(c), BASE_PROCS);
}

/* Seeded from /proc/PID/loginuid, inherited at fork as the kernel does,
 * replaced by what the kernel reports; unset and absent mean none. */
/* A process's status with its NSpid line, and its PID namespace link. */
static void fake_ns(const char *root, uint32_t pid, uint32_t ppid, const char *nspid,
                    const char *pidns)
{
    char buf[256], path[256];
    int n = snprintf(buf, sizeof(buf), "Name:\tx\nPPid:\t%u\nUid:\t0\t0\t0\t0\nNSpid:\t%s\n", ppid,
                     nspid);
    write_file(root, pid, "status", buf, (size_t)n);
    snprintf(path, sizeof(path), "%s/%u/ns", root, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%u/ns/pid", root, pid);
    unlink(path);
    assert_int_equal(symlink(pidns, path), 0);
}

static void expect_container(struct proc_cache *c, uint32_t pid, const char *id,
                             const char *runtime, uint32_t ns_pid)
{
    struct proc_container pc;
    assert_int_equal(proc_cache_container(c, pid, &pc), 0);
    if (id) {
        assert_non_null(pc.id);
        assert_string_equal(pc.id, id);
        assert_string_equal(pc.runtime, runtime);
    } else {
        assert_null(pc.id);
        assert_null(pc.runtime);
    }
    assert_int_equal(pc.ns_pid, ns_pid);
}

static json_int_t tree_ns_pid(json_t *tree, size_t i)
{
    json_t *v = json_object_get(json_array_get(tree, i), "ns_pid");
    return v ? json_integer_value(v) : -1;
}

static void test_containers(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    const char *r = fx->root;
    /* conmon (host) and the container's first process, pid 1 inside. */
    FAKE(r, 500, "conmon", 1, 70, 0, "conmon\0");
    write_file(r, 500, "cgroup", "0::/libpod_parent/conmon\n", 25);
    fake_ns(r, 500, 1, "500", HOST_PIDNS);
    FAKE(r, 501, "sh", 500, 71, 0, "sh\0-c\0loop\0");
    write_file(r, 501, "cgroup", PODMAN_CGROUP, strlen(PODMAN_CGROUP));
    fake_ns(r, 501, 500, "501\t1", "pid:[4026532500]");
    proc_cache_scan(c);
    expect_container(c, 100, NULL, NULL, 0);
    expect_container(c, 500, NULL, NULL, 0);
    expect_container(c, 501, CID, "podman", 1);
    json_t *t = check_tree(c, 501, (uint32_t[]){501, 500, 1, 0}, "");
    assert_int_equal(tree_ns_pid(t, 0), 1);
    assert_int_equal(tree_ns_pid(t, 1), -1); /* host processes get none */
    assert_int_equal(tree_ns_pid(t, 2), -1);
    json_decref(t);

    /* A fork inside: the container is inherited, the pid inside read from
     * /proc when the tree is first written. */
    proc_cache_fork(c, 501, 502, 0, 8 * SEC);
    fake_ns(r, 502, 501, "502\t7", "pid:[4026532500]");
    expect_container(c, 502, CID, "podman", 7);
    t = check_tree(c, 502, (uint32_t[]){502, 501, 500, 1, 0}, "");
    assert_int_equal(tree_ns_pid(t, 0), 7);
    assert_int_equal(tree_ns_pid(t, 1), 1);
    json_decref(t);

    /* The runtime's init: forked on the host, joins the container's cgroup
     * and namespace, then execs the container's command. */
    proc_cache_fork(c, 500, 503, 0, 9 * SEC);
    expect_container(c, 503, NULL, NULL, 0);
    write_file(r, 503, "cgroup", PODMAN_CGROUP, strlen(PODMAN_CGROUP));
    fake_ns(r, 503, 500, "503\t1", "pid:[4026532600]");
    proc_cache_exec(c, 503, 0, "nc\0-l\0", 7, 0);
    /* Without BTF the kernel cannot say: the namespace link tells. */
    proc_cache_set_ns_pid(c, 503, PROC_NS_PID_UNKNOWN);
    expect_container(c, 503, CID, "podman", 1);
    t = check_tree(c, 503, (uint32_t[]){503, 500, 1, 0}, "");
    assert_int_equal(tree_ns_pid(t, 0), 1);
    json_decref(t);

    /* A host process that execs stays one: its namespace link is the
     * daemon's, so its status (which would say otherwise) is not read. */
    proc_cache_fork(c, 100, 504, 0, 10 * SEC);
    write_file(r, 504, "cgroup", "0::/user.slice\n", 15);
    fake_ns(r, 504, 100, "504\t3", HOST_PIDNS);
    proc_cache_exec(c, 504, 0, "ls\0", 3, 0);
    proc_cache_set_ns_pid(c, 504, PROC_NS_PID_UNKNOWN);
    expect_container(c, 504, NULL, NULL, 0);

    /* The kernel read the pid inside at exec: /proc is not needed (the
     * process is gone from it already). */
    proc_cache_fork(c, 501, 507, 0, 13 * SEC);
    proc_cache_exec(c, 507, 0, "nc\0", 3, 0);
    proc_cache_set_ns_pid(c, 507, 4);
    expect_container(c, 507, CID, "podman", 4);
    proc_cache_fork(c, 100, 508, 0, 14 * SEC);
    proc_cache_exec(c, 508, 0, "ls\0", 3, 0);
    proc_cache_set_ns_pid(c, 508, 0);
    expect_container(c, 508, NULL, NULL, 0);

    /* Exited before its pid inside was read: the tree goes on without it. */
    proc_cache_fork(c, 501, 505, 0, 11 * SEC);
    proc_cache_fork(c, 505, 506, 0, 12 * SEC);
    fake_ns(r, 506, 505, "506\t9", "pid:[4026532500]");
    proc_cache_exit(c, 505);
    t = check_tree(c, 506, (uint32_t[]){506, 505, 501, 500, 1, 0}, "");
    assert_int_equal(tree_ns_pid(t, 0), 9);
    assert_int_equal(tree_ns_pid(t, 1), -1);
    json_decref(t);
}

static void test_parse_nspid(void **state)
{
    uint32_t ns_pid;
    int levels;
    assert_int_equal(proc_parse_status_nspid("Name:\tx\nNSpid:\t42\n", &ns_pid, &levels), 0);
    assert_int_equal(ns_pid, 42);
    assert_int_equal(levels, 1);
    assert_int_equal(
        proc_parse_status_nspid("Name:\tx\nNSpid:\t42\t7\t1\nNSpgid:\t9\n", &ns_pid, &levels), 0);
    assert_int_equal(ns_pid, 1);
    assert_int_equal(levels, 3);
    assert_int_equal(proc_parse_status_nspid("Name:\tx\nPid:\t42\n", &ns_pid, &levels), -ENOENT);
    assert_int_equal(proc_parse_status_nspid("x\nNSpid:\n", &ns_pid, &levels), -EINVAL);
    assert_int_equal(proc_parse_status_nspid("x\nNSpid:\t4x\n", &ns_pid, &levels), -EINVAL);
    assert_int_equal(proc_parse_status_nspid("x\nNSpid:\t0\n", &ns_pid, &levels), -EINVAL);
    assert_int_equal(proc_parse_status_nspid("x\nNSpid:\t99999999999\n", &ns_pid, &levels),
                     -EINVAL);
}

static void test_loginuid(void **state)
{
    struct fixture *fx = *state;
    struct proc_cache *c = fx->cache;
    write_file(fx->root, 100, "loginuid", "1000", 4);
    write_file(fx->root, 200, "loginuid", "4294967295", 10);
    assert_int_equal(proc_cache_scan(c), BASE_PROCS);
    uint32_t uid = 0;
    assert_int_equal(proc_cache_loginuid(c, 100, &uid), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(proc_cache_loginuid(c, 200, &uid), -ENOENT); /* unset */
    assert_int_equal(proc_cache_loginuid(c, 1, &uid), -ENOENT);   /* no file */
    assert_int_equal(proc_cache_loginuid(c, 999, &uid), -ENOENT); /* unknown pid */

    /* The child of 100 inherits 1000 without any file of its own. */
    proc_cache_fork(c, 100, 300, 4000123, 70 * SEC);
    uid = 0;
    assert_int_equal(proc_cache_loginuid(c, 300, &uid), 0);
    assert_int_equal(uid, 1000);
    /* A login in the child (pam_loginuid) reported by the kernel at exec. */
    proc_cache_set_loginuid(c, 300, 2000);
    assert_int_equal(proc_cache_loginuid(c, 300, &uid), 0);
    assert_int_equal(uid, 2000);
    /* Gone with the process. */
    proc_cache_exit(c, 300);
    assert_int_equal(proc_cache_loginuid(c, 300, &uid), -ENOENT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_scan_and_tree),
        T(test_exited_parent_kept),
        T(test_pid_reuse),
        T(test_scan_replaces_and_drops),
        T(test_exec),
        T(test_missing),
        T(test_hostile_cmdline),
        T(test_args_join),
        T(test_username),
        T(test_churn),
        T(test_loginuid),
        T(test_containers),
        T(test_parse_nspid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
