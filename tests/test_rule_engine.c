/* The rule engine: events judged against the rules in force, the actions
 * taken on real processes (children of the test), PID 1 and the test
 * itself protected, changes all or nothing, kernel hits marking the event
 * that follows them. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "probe.h"
#include "rule_engine.h"
#include "rules.h"
#include "templates/pidtree_common.h"
#include "templates/rules.h"
#include "timeutil.h"

static const struct probe_ops *find_probe(void *ctx, const char *name)
{
    (void)ctx;
    return probe_builtin_find(name);
}

static void parse(const char *text, struct rule_list *out)
{
    struct pt_error err = {0};
    int ret = rules_load_string(text, strlen(text), "test.yml", find_probe, NULL, out, &err);
    if (ret < 0)
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.msg);
    assert_int_equal(ret, 0);
}

static void add(struct rule_engine *re, const char *text)
{
    struct rule_list l = {0};
    struct pt_error err = {0};
    parse(text, &l);
    assert_int_equal(rule_engine_add(re, &l, &err), 0);
    assert_int_equal(l.n, 0);
}

static struct rule_engine *engine_with(const char *text)
{
    struct rule_engine *re = rule_engine_new();
    assert_non_null(re);
    const char *names[] = {NULL, "tcp_connect", "net_listen"};
    rule_engine_bind(re, names, 3);
    add(re, text);
    return re;
}

/* A child that waits to be signalled; at most 20 s. */
static pid_t child_new(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A test run in the background (CI, nohup) inherits SIGINT
         * ignored; the child must take the rule's signal as a process
         * normally would. */
        signal(SIGINT, SIG_DFL);
        for (int i = 0; i < 200; i++)
            usleep(100000);
        _exit(0);
    }
    return pid;
}

/* How the child ended: the signal that killed or stopped it, else 0 once
 * it is killed by the test. */
static int child_fate(pid_t pid)
{
    int status;
    /* Up to 10 s: under valgrind on a loaded machine the signal can take
     * seconds to show. */
    for (int i = 0; i < 1000; i++) {
        pid_t got = waitpid(pid, &status, WNOHANG | WUNTRACED);
        if (got == pid && WIFSIGNALED(status))
            return WTERMSIG(status);
        if (got == pid && WIFSTOPPED(status)) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return SIGSTOP;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

static json_t *judge(struct rule_engine *re, const char *probe, uint32_t probe_id, uint32_t pid,
                     uint32_t tid, int port)
{
    json_t *fields =
        json_pack("{s:s,s:s,s:i}", "saddr", "127.0.0.1", "daddr", "127.0.0.1", "port", port);
    struct rule_event ev = {.probe_id = probe_id,
                            .probe = probe,
                            .pid = pid,
                            .tid = tid,
                            .uid = 0,
                            .boot_ns = time_boot_ns(),
                            .fields = fields};
    json_t *marks = rule_engine_judge(re, &ev);
    json_decref(fields);
    return marks;
}

static const char *mark_str(json_t *marks, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(marks, i), key));
}

static void test_log_marks_matching_events_only(void **state)
{
    struct rule_engine *re = engine_with("rules:\n"
                                         "  - {name: web, probe: tcp_connect, match: {port: 80}}\n"
                                         "  - {name: any-listen, probe: net_listen}\n");
    json_t *marks = judge(re, "tcp_connect", 1, 4242, 4242, 80);
    assert_int_equal(json_array_size(marks), 1);
    assert_string_equal(mark_str(marks, 0, "name"), "web");
    assert_string_equal(mark_str(marks, 0, "action"), "log");
    assert_string_equal(mark_str(marks, 0, "by"), "daemon");
    assert_string_equal(mark_str(marks, 0, "result"), "done");
    json_decref(marks);
    assert_null(judge(re, "tcp_connect", 1, 4242, 4242, 81));
    /* The rule names one probe: the other's events do not match it. */
    marks = judge(re, "net_listen", 2, 4242, 4242, 80);
    assert_int_equal(json_array_size(marks), 1);
    assert_string_equal(mark_str(marks, 0, "name"), "any-listen");
    json_decref(marks);

    uint64_t hits, actions;
    rule_engine_probe_counts(re, "tcp_connect", &hits, &actions);
    assert_int_equal(hits, 1);
    assert_int_equal(actions, 0); /* log is not an action taken */
    rule_engine_free(re);
}

static void expect_action(const char *action, int sig)
{
    char text[256];
    snprintf(text, sizeof(text), "rules:\n  - {name: a, probe: tcp_connect, action: %s}\n", action);
    struct rule_engine *re = engine_with(text);
    pid_t child = child_new();
    json_t *marks = judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 1);
    assert_string_equal(mark_str(marks, 0, "action"), action);
    assert_string_equal(mark_str(marks, 0, "result"), "done");
    json_decref(marks);
    assert_int_equal(child_fate(child), sig);
    uint64_t hits, actions;
    rule_engine_probe_counts(re, "tcp_connect", &hits, &actions);
    assert_int_equal(hits, 1);
    assert_int_equal(actions, 1);
    rule_engine_free(re);
}

static void test_actions_signal_the_process(void **state)
{
    expect_action("kill", SIGKILL);
    expect_action("interrupt", SIGINT);
    expect_action("stop", SIGSTOP);
}

static void test_audit_does_nothing(void **state)
{
    struct rule_engine *re =
        engine_with("rules:\n  - {name: a, probe: tcp_connect, action: kill, audit: true}\n");
    pid_t child = child_new();
    json_t *marks = judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 1);
    assert_string_equal(mark_str(marks, 0, "action"), "kill");
    assert_string_equal(mark_str(marks, 0, "result"), "audit");
    json_decref(marks);
    assert_int_equal(child_fate(child), 0); /* still running: the test killed it */
    uint64_t hits, actions;
    rule_engine_probe_counts(re, "tcp_connect", &hits, &actions);
    assert_int_equal(hits, 1);
    assert_int_equal(actions, 0);
    rule_engine_free(re);
}

static void test_pid1_and_self_protected(void **state)
{
    struct rule_engine *re =
        engine_with("rules:\n  - {name: a, probe: tcp_connect, action: stop}\n");
    json_t *marks = judge(re, "tcp_connect", 1, 1, 1, 1);
    assert_string_equal(mark_str(marks, 0, "result"), "protected");
    json_decref(marks);
    /* Were this not protected, the test would stop here. */
    marks = judge(re, "tcp_connect", 1, (uint32_t)getpid(), (uint32_t)getpid(), 1);
    assert_string_equal(mark_str(marks, 0, "result"), "protected");
    json_decref(marks);
    rule_engine_free(re);
}

static void test_gone_and_reused_pids(void **state)
{
    struct rule_engine *re =
        engine_with("rules:\n  - {name: a, probe: tcp_connect, action: kill}\n");
    /* Exited and reaped: nothing to signal. */
    pid_t child = child_new();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    json_t *marks = judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 1);
    assert_string_equal(mark_str(marks, 0, "result"), "gone");
    json_decref(marks);

    /* A process that started after the event is not the event's, even
     * with its pid: left alone. */
    uint64_t then = time_boot_ns();
    usleep(50000);
    child = child_new();
    json_t *fields = json_pack("{s:i}", "port", 1);
    struct rule_event ev = {.probe_id = 1,
                            .probe = "tcp_connect",
                            .pid = (uint32_t)child,
                            .boot_ns = then,
                            .fields = fields};
    marks = rule_engine_judge(re, &ev);
    assert_string_equal(mark_str(marks, 0, "result"), "gone");
    json_decref(marks);
    json_decref(fields);
    assert_int_equal(child_fate(child), 0);
    rule_engine_free(re);
}

/* ---- changes ---- */

static int failing_sync(void *ctx, struct rule *const *rules, size_t n, bool *in_kernel,
                        struct pt_error *err)
{
    int *fail = ctx;
    for (size_t i = 0; i < n; i++)
        in_kernel[i] = rules[i]->kernel;
    return *fail ? pt_error_set(err, ENOSPC, NULL, 0, "the kernel said no") : 0;
}

static bool has_rule(struct rule_engine *re, const char *name)
{
    json_t *list = rule_engine_list(re);
    size_t i;
    json_t *r;
    bool found = false;
    json_array_foreach(list, i, r) found |=
        strcmp(json_string_value(json_object_get(r, "name")), name) == 0;
    json_decref(list);
    return found;
}

static void test_changes_all_or_nothing(void **state)
{
    struct rule_engine *re = engine_with("rules:\n  - {name: one, probe: tcp_connect}\n");
    struct pt_error err = {0};
    struct rule_list l = {0};

    /* The rules directory's set, beside ctl's. */
    parse("rules:\n  - {name: dir-a, probe: tcp_connect}\n  - {name: dir-b, probe: net_listen}\n",
          &l);
    assert_int_equal(rule_engine_set_dir_rules(re, &l, &err), 0);
    assert_int_equal(rule_engine_count(re), 3);
    /* ctl add with a directory rule's name: refused, nothing changes. */
    parse("rules:\n  - {name: fresh, probe: tcp_connect}\n  - {name: dir-a, probe: tcp_connect}\n",
          &l);
    assert_true(rule_engine_add(re, &l, &err) < 0);
    assert_non_null(strstr(err.msg, "rule 'dir-a' is defined in the rules directory"));
    assert_int_equal(l.n, 2); /* still the caller's */
    rule_list_release(&l);
    assert_false(has_rule(re, "fresh"));
    /* A new directory set with a ctl rule's name: refused. */
    memset(&err, 0, sizeof(err));
    parse("rules:\n  - {name: one, probe: tcp_connect}\n", &l);
    assert_true(rule_engine_set_dir_rules(re, &l, &err) < 0);
    assert_non_null(strstr(err.msg, "was added with ctl add"));
    rule_list_release(&l);
    assert_int_equal(rule_engine_count(re), 3);

    /* ctl add of an existing ctl name replaces it. */
    add(re, "rules:\n  - {name: one, probe: net_listen, action: stop}\n");
    assert_int_equal(rule_engine_count(re), 3);
    json_t *list = rule_engine_list(re);
    json_t *one = json_array_get(list, 2);
    assert_string_equal(json_string_value(json_object_get(one, "action")), "stop");
    assert_string_equal(json_string_value(json_object_get(one, "source")), "ctl");
    json_decref(list);

    /* rm: an unknown name fails and removes nothing. */
    memset(&err, 0, sizeof(err));
    const char *names[] = {"one", "nope"};
    assert_true(rule_engine_remove(re, names, 2, &err) < 0);
    assert_non_null(strstr(err.msg, "no rule named 'nope'"));
    assert_true(has_rule(re, "one"));
    assert_int_equal(rule_engine_remove(re, names, 1, &err), 0);
    assert_false(has_rule(re, "one"));
    assert_int_equal(rule_engine_count(re), 2);

    /* The kernel refuses the new set: the old one stays. */
    int fail = 0;
    assert_int_equal(rule_engine_set_kernel(re, failing_sync, &fail, &err), 0);
    fail = 1;
    memset(&err, 0, sizeof(err));
    parse("rules:\n  - {name: k, probe: tcp_connect, action: kill, match: {port: 9}}\n", &l);
    assert_true(rule_engine_add(re, &l, &err) < 0);
    assert_string_equal(err.msg, "the kernel said no");
    rule_list_release(&l);
    assert_false(has_rule(re, "k"));
    assert_true(has_rule(re, "dir-a"));
    rule_engine_free(re);
}

/* A kernel rule is not evaluated again by the daemon: its hit comes as a
 * record and marks the event of the same thread that follows it. */
static void test_kernel_hits(void **state)
{
    int fail = 0;
    struct pt_error err = {0};
    struct rule_engine *re = engine_with("rules:\n  - {name: k, probe: tcp_connect, action: kill, "
                                         "match: {port: 9}}\n");
    assert_int_equal(rule_engine_set_kernel(re, failing_sync, &fail, &err), 0);
    json_t *list = rule_engine_list(re);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "where")),
                        "kernel");
    uint32_t id = (uint32_t)json_integer_value(json_object_get(json_array_get(list, 0), "id"));
    json_decref(list);
    (void)id;

    /* No record: the daemon does not act on its own. */
    pid_t child = child_new();
    assert_null(judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 9));

    struct pt_rule_event hit = {.h = {.type = PT_EV_RULE,
                                      .probe_id = 1,
                                      .pid = (uint32_t)child,
                                      .tid = (uint32_t)child,
                                      .boot_ns = time_boot_ns()},
                                .rule_id = 1,
                                .signal = SIGKILL,
                                .result = 0,
                                .flags = PT_RULE_HIT_REFUSED};
    rule_engine_kernel_hit(re, &hit, sizeof(hit));
    /* Another thread's event does not take it. */
    assert_null(judge(re, "tcp_connect", 1, 77, 77, 9));
    json_t *marks = judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 9);
    assert_int_equal(json_array_size(marks), 1);
    assert_string_equal(mark_str(marks, 0, "name"), "k");
    assert_string_equal(mark_str(marks, 0, "by"), "kernel");
    assert_string_equal(mark_str(marks, 0, "result"), "done");
    assert_true(json_is_true(json_object_get(json_array_get(marks, 0), "refused")));
    json_decref(marks);
    /* Taken once. */
    assert_null(judge(re, "tcp_connect", 1, (uint32_t)child, (uint32_t)child, 9));

    /* A kernel that cannot signal from the hook leaves the signal to the
     * daemon. */
    hit.flags = PT_RULE_HIT_REFUSED | PT_RULE_HIT_DAEMON_SIGNALS;
    hit.h.boot_ns = time_boot_ns();
    rule_engine_kernel_hit(re, &hit, sizeof(hit));
    assert_int_equal(child_fate(child), SIGKILL);

    /* Short records are ignored. */
    rule_engine_kernel_hit(re, &hit, sizeof(hit) - 1);
    uint64_t hits, actions;
    rule_engine_probe_counts(re, "tcp_connect", &hits, &actions);
    assert_int_equal(hits, 2);
    assert_int_equal(actions, 2);
    rule_engine_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_marks_matching_events_only),
        cmocka_unit_test(test_actions_signal_the_process),
        cmocka_unit_test(test_audit_does_nothing),
        cmocka_unit_test(test_pid1_and_self_protected),
        cmocka_unit_test(test_gone_and_reused_pids),
        cmocka_unit_test(test_changes_all_or_nothing),
        cmocka_unit_test(test_kernel_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
