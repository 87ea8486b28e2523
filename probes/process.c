/* The process lifecycle programs: not a probe of the config, but described
 * like one so the renderer and loader treat every program alike. Their
 * records are applied to the process cache by the dispatcher (src/dispatch.c). */
#include "templates/pidtree_common.h"
#include "probe.h"

static const struct probe_attach_point process_points[] = {
    {PROBE_TRACEPOINT, "task/task_newtask", "pt_process__task_newtask"},
    {PROBE_TRACEPOINT, "syscalls/sys_enter_execve", "pt_process__sys_enter_execve"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_execve", "pt_process__sys_exit_execve"},
    {PROBE_TRACEPOINT, "syscalls/sys_enter_execveat", "pt_process__sys_enter_execveat"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_execveat", "pt_process__sys_exit_execveat"},
    {PROBE_TRACEPOINT, "sched/sched_process_exit", "pt_process__sched_process_exit"},
};

const struct probe_ops probe_process = {
    .name = "process",
    .template = "process.bpf.c",
    .tracepoint_form = {process_points, sizeof(process_points) / sizeof(process_points[0])},
    /* The lifecycle tracepoints are older than every kernel with BPF ring
     * buffers, so there is no kprobe form to fall back to. */
    .kprobe_form = {process_points, sizeof(process_points) / sizeof(process_points[0])},
    .record_size = sizeof(struct pt_header),
};
