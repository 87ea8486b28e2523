/* render: the eBPF C text of one module, from templates and typed settings.
 *
 * Every configured probe goes into a single module, compiled once. The text
 * is assembled from files in the template directory, each preceded by a
 * #line marker so a compile error names the template and its line. Settings
 * from the config enter only as #define lines the probes generate from typed
 * values (numbers, known names); filters go into maps at run time.
 */
#ifndef PIDTREE_RENDER_H
#define PIDTREE_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "probe.h"

struct strbuf;

struct render_probe {
    const struct probe_ops *ops;
    const struct probe_conf *conf; /* NULL for the process probe */
    uint32_t id;
    enum attach_mode attach; /* ATTACH_TRACEPOINT or ATTACH_KPROBE */
};

struct render_options {
    const char *template_dir;
    unsigned ringbuf_pages; /* a power of two */
    /* Where task_struct.loginuid is in the running kernel (kernel_btf), as
     * PT_TASK_LOGINUID_OFFSET; 0 when unknown (it is never the first
     * field), and the process records then carry PT_LOGINUID_UNKNOWN. */
    long task_loginuid_offset;
    /* task_struct.mm, mm_struct.arg_start and .arg_end, likewise: as
     * PT_TASK_MM_OFFSET, PT_MM_ARG_START_OFFSET and PT_MM_ARG_END_OFFSET when
     * all three are known. */
    long task_mm_offset, mm_arg_start_offset, mm_arg_end_offset;
    /* The way to a task's pid in its own PID namespace, as
     * PT_TASK_THREAD_PID_OFFSET, PT_PID_LEVEL_OFFSET, PT_PID_NUMBERS_OFFSET,
     * PT_UPID_SIZE; all 0 when unknown (the exec records then carry
     * PT_NS_PID_UNKNOWN). */
    long task_thread_pid_offset, pid_level_offset, pid_numbers_offset, upid_size;
    /* Rules are on: the kernel rules' maps and pt_rules_apply() (PT_RULES),
     * and the probes' rules_form programs. */
    bool rules;
    /* This kernel lets cgroup socket programs send signals. */
    bool rules_cgroup_signal;
};

/* Appends the module's text to `out`. Returns 0, or a negative errno with
 * `err` set (e.g. a template file that cannot be read). */
int render_module(const struct render_options *opts, const struct render_probe *probes,
                  size_t n_probes, struct strbuf *out, struct pt_error *err);

#endif
