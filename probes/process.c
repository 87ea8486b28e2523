/* The process lifecycle programs: not a probe of the config, but described
 * like one so the renderer and loader treat every program alike. Their
 * records are applied to the process cache by the dispatcher (src/dispatch.c). */
#include "templates/pidtree_common.h"
#include "probe.h"

static const struct probe_attach_point process_points[] = {
    {PROBE_TRACEPOINT, "task/task_newtask", "pt_process__task_newtask"},
    {PROBE_TRACEPOINT, "sched/sched_process_exec", "pt_process__sched_process_exec"},
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
