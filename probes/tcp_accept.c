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
 * running kernel lays them out. */
static const struct {
    const char *define, *struct_name, *member;
} btf_fields[] = {
    {"TASK_FILES", "task_struct", "files"},
    {"FILES_FDT", "files_struct", "fdt"},
    {"FDT_MAX_FDS", "fdtable", "max_fds"},
    {"FDT_FD", "fdtable", "fd"},
    {"FILE_PRIVATE_DATA", "file", "private_data"},
    {"SOCKET_TYPE", "socket", "type"},
    {"SOCKET_SK", "socket", "sk"},
    {"SKC_V6_DADDR", "sock_common", "skc_v6_daddr"},
    {"SKC_V6_RCV_SADDR", "sock_common", "skc_v6_rcv_saddr"},
};

/* All the offsets from BTF, or none: the template then takes every one
 * from the headers, which on such a host are the running kernel's own. */
static int tcp_accept_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                      struct strbuf *out)
{
    long off[sizeof(btf_fields) / sizeof(btf_fields[0])];
    size_t n = sizeof(btf_fields) / sizeof(btf_fields[0]);
    for (size_t i = 0; i < n; i++) {
        off[i] = kernel_btf_file_member_offset(KERNEL_BTF_PATH, btf_fields[i].struct_name,
                                               btf_fields[i].member);
        if (off[i] < 0) {
            fprintf(stderr,
                    "pidtree-bcc: warning: %s: no offset of %s.%s (%s); tcp_accept takes the "
                    "kernel headers' layout\n",
                    KERNEL_BTF_PATH, btf_fields[i].struct_name, btf_fields[i].member,
                    strerror((int)-off[i]));
            return 0;
        }
    }
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = strbuf_printf(out, "#define TCP_ACCEPT_OFF_%s %ld\n", btf_fields[i].define, off[i]);
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

const struct probe_ops probe_tcp_accept = {
    .name = "tcp_accept",
    .header = "tcp_accept.h",
    .template = "tcp_accept.bpf.c",
    .tracepoint_form = {tcp_accept_tracepoints,
                        sizeof(tcp_accept_tracepoints) / sizeof(tcp_accept_tracepoints[0])},
    .kprobe_form = {tcp_accept_kprobes, sizeof(tcp_accept_kprobes) / sizeof(tcp_accept_kprobes[0])},
    .record_size = sizeof(struct pt_tcp_accept_event),
    .render_settings = tcp_accept_render_settings,
    .decode = tcp_accept_decode,
};
