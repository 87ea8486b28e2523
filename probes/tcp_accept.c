/* tcp_accept: inbound TCP connections, in the accepting process. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "kernel_btf.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "strbuf.h"
#include "templates/tcp_accept.h"

static const struct probe_attach_point tcp_accept_tracepoints[] = {
    {PROBE_TRACEPOINT, "syscalls/sys_exit_accept", "tcp_accept__sys_exit_accept"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_accept4", "tcp_accept__sys_exit_accept"},
};

static const struct probe_attach_point tcp_accept_kprobes[] = {
    {PROBE_KRETPROBE, "inet_csk_accept", "tcp_accept__inet_csk_accept_ret"},
};

/* The fields the template follows from a descriptor to its socket, as the
 * running kernel lays them out: TCP_ACCEPT_OFF_<define>. */
static const char *const btf_defines[] = {
    "TASK_FILES",  "FILES_FDT", "FDT_MAX_FDS",  "FDT_FD",           "FILE_PRIVATE_DATA",
    "SOCKET_TYPE", "SOCKET_SK", "SKC_V6_DADDR", "SKC_V6_RCV_SADDR",
};

/* All the offsets from BTF, or none: the template then takes every one
 * from the headers, which on such a host are the running kernel's own. */
static int tcp_accept_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                      struct strbuf *out)
{
    struct kernel_btf_query q[] = {
        {"task_struct", "files", 0},
        {"files_struct", "fdt", 0},
        {"fdtable", "max_fds", 0},
        {"fdtable", "fd", 0},
        {"file", "private_data", 0},
        {"socket", "type", 0},
        {"socket", "sk", 0},
        {"sock_common", "skc_v6_daddr", 0},
        {"sock_common", "skc_v6_rcv_saddr", 0},
    };
    size_t n = sizeof(q) / sizeof(q[0]);
    _Static_assert(sizeof(q) / sizeof(q[0]) == sizeof(btf_defines) / sizeof(btf_defines[0]),
                   "one define per query");
    kernel_btf_file_member_offsets(KERNEL_BTF_PATH, q, n);
    for (size_t i = 0; i < n; i++)
        if (q[i].offset < 0) {
            fprintf(stderr,
                    "pidtree-bcc: warning: %s: no offset of %s.%s (%s); tcp_accept takes the "
                    "kernel headers' layout\n",
                    KERNEL_BTF_PATH, q[i].struct_name, q[i].member, strerror((int)-q[i].offset));
            return 0;
        }
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = strbuf_printf(out, "#define TCP_ACCEPT_OFF_%s %ld\n", btf_defines[i], q[i].offset);
    return ret;
}

static int tcp_accept_decode(struct probe_instance *pi, const void *record, size_t size,
                             json_t *event)
{
    const struct pt_tcp_accept_event *e = record;
    char laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
    probe_addr_format(e->family, e->laddr.addr, laddr);
    probe_addr_format(e->family, e->raddr.addr, raddr);
    if (json_object_set_new(event, "laddr", json_string(laddr)) ||
        json_object_set_new(event, "lport", json_integer(e->lport)) ||
        json_object_set_new(event, "raddr", json_string(raddr)) ||
        json_object_set_new(event, "rport", json_integer(e->rport)))
        return -ENOMEM;
    return 0;
}

/* For rules (src/rules.h). */
static const struct probe_field tcp_accept_fields[] = {
    {"laddr", PROBE_FIELD_ADDR, PROBE_KERNEL_NONE},
    {"lport", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
    {"raddr", PROBE_FIELD_ADDR, PROBE_KERNEL_NONE},
    {"rport", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_tcp_accept = {
    .name = "tcp_accept",
    .header = "tcp_accept.h",
    .template = "tcp_accept.bpf.c",
    .tracepoint_form = {tcp_accept_tracepoints,
                        sizeof(tcp_accept_tracepoints) / sizeof(tcp_accept_tracepoints[0])},
    .kprobe_form = {tcp_accept_kprobes, sizeof(tcp_accept_kprobes) / sizeof(tcp_accept_kprobes[0])},
    .record_size = sizeof(struct pt_tcp_accept_event),
    .fields = tcp_accept_fields,
    .n_fields = sizeof(tcp_accept_fields) / sizeof(tcp_accept_fields[0]),
    .render_settings = tcp_accept_render_settings,
    .decode = tcp_accept_decode,
};
