/* The socket tracker (templates/sockets.bpf.c): not a probe of the config;
 * net_listen and udp_session require it. It produces no records. */
#include "templates/pidtree_common.h"
#include "probe.h"

static const struct probe_attach_point sockets_points[] = {
    {PROBE_TRACEPOINT, "syscalls/sys_enter_socket", "pt_sockets__sys_enter_socket"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_socket", "pt_sockets__sys_exit_socket"},
};

const struct probe_ops probe_sockets = {
    .name = "sockets",
    .header = "sockets.h",
    .template = "sockets.bpf.c",
    /* socket(2)'s tracepoints exist wherever syscall tracepoints do. */
    .tracepoint_form = {sockets_points, sizeof(sockets_points) / sizeof(sockets_points[0])},
    .kprobe_form = {sockets_points, sizeof(sockets_points) / sizeof(sockets_points[0])},
    .record_size = sizeof(struct pt_header),
};
