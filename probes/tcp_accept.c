/* tcp_accept: inbound TCP connections, in the accepting process. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "kernel_layout.h"
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
static const struct {
    enum kernel_field field;
    const char *define;
} btf_fields[] = {
    {KF_TASK_FILES, "TASK_FILES"},
    {KF_FILES_FDT, "FILES_FDT"},
    {KF_FDT_MAX_FDS, "FDT_MAX_FDS"},
    {KF_FDT_FD, "FDT_FD"},
    {KF_FILE_PRIVATE_DATA, "FILE_PRIVATE_DATA"},
    {KF_SOCKET_TYPE, "SOCKET_TYPE"},
    {KF_SOCKET_SK, "SOCKET_SK"},
    {KF_SKC_V6_DADDR, "SKC_V6_DADDR"},
    {KF_SKC_V6_RCV_SADDR, "SKC_V6_RCV_SADDR"},
};

/* All the offsets from BTF, or none: the template then takes every one
 * from the headers, which on such a host are the running kernel's own. */
static int tcp_accept_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                      struct strbuf *out)
{
    size_t n = sizeof(btf_fields) / sizeof(btf_fields[0]);
    for (size_t i = 0; i < n; i++) {
        long off = kernel_layout_offset(btf_fields[i].field);
        if (off < 0) {
            fprintf(stderr,
                    "pidtree-bcc: warning: %s: no offset of %s (%s); tcp_accept takes the "
                    "kernel headers' layout\n",
                    kernel_layout_path(), kernel_layout_name(btf_fields[i].field),
                    strerror((int)-off));
            return 0;
        }
    }
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = strbuf_printf(out, "#define TCP_ACCEPT_OFF_%s %ld\n", btf_fields[i].define,
                            kernel_layout_offset(btf_fields[i].field));
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
