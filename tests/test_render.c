/* Rendering: the module text from the real templates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render.h"
#include "strbuf.h"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static char *render_with(enum attach_mode tcp_mode, const char *template_dir, long loginuid_offset,
                         int *ret)
{
    static struct probe_conf pc = {.name = "tcp_connect"};
    struct render_probe rp[2] = {{&probe_process, NULL, 0, ATTACH_TRACEPOINT},
                                 {&probe_tcp_connect, &pc, 1, tcp_mode}};
    struct render_options opts = {.template_dir = template_dir,
                                  .ringbuf_pages = 2048,
                                  .task_loginuid_offset = loginuid_offset};
    struct strbuf sb = STRBUF_INIT;
    struct pt_error err = {0};
    *ret = render_module(&opts, rp, 2, &sb, &err);
    assert_int_equal(pt_error_is_set(&err), *ret < 0);
    if (*ret < 0) {
        strbuf_release(&sb);
        return strdup(err.msg);
    }
    return strbuf_detach(&sb);
}

static char *render(enum attach_mode tcp_mode, const char *template_dir, int *ret)
{
    return render_with(tcp_mode, template_dir, 0, ret);
}

static void test_tracepoint_form(void **state)
{
    int ret;
    char *text = render(ATTACH_TRACEPOINT, PIDTREE_SOURCE_TEMPLATEDIR, &ret);
    assert_int_equal(ret, 0);
    /* Every file behind a #line marker naming it. */
    assert_non_null(strstr(text, "#line 1 \"" PIDTREE_SOURCE_TEMPLATEDIR "/pidtree_common.h\""));
    assert_non_null(strstr(text, "#line 1 \"" PIDTREE_SOURCE_TEMPLATEDIR "/common.bpf.c\""));
    assert_non_null(strstr(text, "#line 1 \"" PIDTREE_SOURCE_TEMPLATEDIR "/process.bpf.c\""));
    assert_non_null(strstr(text, "#line 1 \"" PIDTREE_SOURCE_TEMPLATEDIR "/tcp_connect.bpf.c\""));
    assert_non_null(strstr(text, "#define PT_RINGBUF_PAGES 2048\n"));
    assert_non_null(
        strstr(text, "#define PT_PROBE_ID 1\n#define PT_ATTACH PT_ATTACH_TRACEPOINT\n"));
    /* One type anchor per tracepoint used. */
    assert_int_equal(count(text, "struct tracepoint__sock__inet_sock_set_state *args) { return"),
                     1);
    assert_int_equal(count(text, "int pt_tp__task__task_newtask("), 1);
    /* No loginuid offset known: the template reports it unknown. */
    assert_null(strstr(text, "#define PT_TASK_LOGINUID_OFFSET"));
    free(text);
}

/* An error says what is wrong, never nothing. */
static void test_bad_tracepoint_named(void **state)
{
    static const struct probe_attach_point points[] = {{PROBE_TRACEPOINT, "noslash", "f"}};
    static const struct probe_ops ops = {
        .name = "bad", .template = "common.bpf.c", .tracepoint_form = {points, 1}};
    struct render_probe rp = {&ops, NULL, 1, ATTACH_TRACEPOINT};
    struct render_options opts = {.template_dir = PIDTREE_SOURCE_TEMPLATEDIR,
                                  .ringbuf_pages = 2048};
    struct strbuf sb = STRBUF_INIT;
    struct pt_error err = {0};
    assert_int_equal(render_module(&opts, &rp, 1, &sb, &err), -EINVAL);
    assert_string_equal(err.msg, "probe 'bad': tracepoint 'noslash' is not category/name");
    strbuf_release(&sb);
}

static void test_loginuid_offset(void **state)
{
    int ret;
    char *text = render_with(ATTACH_TRACEPOINT, PIDTREE_SOURCE_TEMPLATEDIR, 1952, &ret);
    assert_int_equal(ret, 0);
    assert_non_null(strstr(text, "\n#define PT_TASK_LOGINUID_OFFSET 1952\n"));
    free(text);
}

static void test_kprobe_form(void **state)
{
    int ret;
    char *text = render(ATTACH_KPROBE, PIDTREE_SOURCE_TEMPLATEDIR, &ret);
    assert_int_equal(ret, 0);
    assert_non_null(strstr(text, "#define PT_ATTACH PT_ATTACH_KPROBE\n"));
    /* No tracepoint of tcp_connect's, so no anchor for it. */
    assert_null(strstr(text, "pt_tp__sock__inet_sock_set_state"));
    free(text);
}

static void test_missing_template_dir(void **state)
{
    int ret;
    char *err = render(ATTACH_TRACEPOINT, "/nonexistent-dir", &ret);
    assert_int_equal(ret, -ENOENT);
    assert_non_null(strstr(err, "cannot read template /nonexistent-dir/pidtree_common.h"));
    free(err);
}

/* Many probes declaring many tracepoints (extra probes may declare 16 each,
 * and reuse each other's): one anchor per distinct tracepoint, none lost. */
static void test_many_tracepoint_anchors(void **state)
{
    enum { N_PROBES = 10, N_POINTS = 16 };
    static char targets[N_PROBES][N_POINTS][32];
    static struct probe_attach_point points[N_PROBES][N_POINTS];
    static struct probe_ops ops[N_PROBES];
    struct render_probe rp[N_PROBES];
    for (int i = 0; i < N_PROBES; i++) {
        for (int j = 0; j < N_POINTS; j++) {
            /* Probe i reuses the last half of probe i-1's tracepoints. */
            snprintf(targets[i][j], sizeof(targets[i][j]), "cat/tp%d", i * N_POINTS / 2 + j);
            points[i][j] = (struct probe_attach_point){PROBE_TRACEPOINT, targets[i][j], "f"};
        }
        ops[i] = (struct probe_ops){
            .name = "many", .template = "common.bpf.c", .tracepoint_form = {points[i], N_POINTS}};
        rp[i] = (struct render_probe){&ops[i], NULL, (uint32_t)i + 1, ATTACH_TRACEPOINT};
    }
    struct render_options opts = {.template_dir = PIDTREE_SOURCE_TEMPLATEDIR,
                                  .ringbuf_pages = 2048};
    struct strbuf sb = STRBUF_INIT;
    struct pt_error err = {0};
    assert_int_equal(render_module(&opts, rp, N_PROBES, &sb, &err), 0);
    int distinct = (N_PROBES + 1) * N_POINTS / 2;
    assert_true(distinct > 64);
    assert_int_equal(count(sb.data, "{ return 0; }"), distinct);
    for (int t = 0; t < distinct; t++) {
        char anchor[64];
        snprintf(anchor, sizeof(anchor), "int pt_tp__cat__tp%d(", t);
        assert_int_equal(count(sb.data, anchor), 1);
    }
    strbuf_release(&sb);
}

/* Rules on: the kernel rules' maps and helper, the cgroup connect
 * programs tcp_connect refuses connects in, and whether they may signal;
 * off: none of it. */
static void test_rules(void **state)
{
    static struct probe_conf pc = {.name = "tcp_connect"};
    struct render_probe rp[2] = {{&probe_process, NULL, 0, ATTACH_TRACEPOINT},
                                 {&probe_tcp_connect, &pc, 1, ATTACH_TRACEPOINT}};
    struct render_options opts = {.template_dir = PIDTREE_SOURCE_TEMPLATEDIR,
                                  .ringbuf_pages = 2048,
                                  .rules = true,
                                  .rules_cgroup_signal = false};
    struct strbuf sb = STRBUF_INIT;
    struct pt_error err = {0};
    assert_int_equal(render_module(&opts, rp, 2, &sb, &err), 0);
    assert_int_equal(count(sb.data, "#define PT_RULES 1\n"), 1);
    assert_int_equal(count(sb.data, "#define PT_KRULES_CGROUP_SIGNAL 0\n"), 1);
    assert_int_equal(count(sb.data, "rules.bpf.c\"\n"), 1);
    assert_int_equal(count(sb.data, " * attach cgroup connect4 -> tcp_connect__connect4"), 1);
    assert_int_equal(count(sb.data, " * attach cgroup connect6 -> tcp_connect__connect6"), 1);
    /* rules.h before common.bpf.c, which counts filtered events with it on. */
    assert_true(strstr(sb.data, "rules.h\"\n") < strstr(sb.data, "common.bpf.c\"\n"));
    strbuf_release(&sb);

    opts.rules = false;
    assert_int_equal(render_module(&opts, rp, 2, &sb, &err), 0);
    assert_int_equal(count(sb.data, "PT_RULES 1"), 0);
    assert_int_equal(count(sb.data, "rules.bpf.c"), 0);
    assert_int_equal(count(sb.data, "attach cgroup"), 0);
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracepoint_form),
        cmocka_unit_test(test_kprobe_form),
        cmocka_unit_test(test_missing_template_dir),
        cmocka_unit_test(test_many_tracepoint_anchors),
        cmocka_unit_test(test_loginuid_offset),
        cmocka_unit_test(test_bad_tracepoint_named),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
