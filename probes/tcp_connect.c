/* tcp_connect: outbound TCP connection attempts. */
#include <errno.h>
#include <netinet/in.h>

#include "jsonutil.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "templates/tcp_connect.h"

/* One of the two, as probe_sock_raw_usable() says. */
static const struct probe_attach_point tcp_connect_tracepoints[] = {
    {PROBE_TRACEPOINT, "sock/inet_sock_set_state", "tcp_connect__inet_sock_set_state"},
    {PROBE_RAW_TRACEPOINT, "sock/inet_sock_set_state", "tcp_connect__raw_inet_sock_set_state"},
};

static int tcp_connect_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                       struct strbuf *out)
{
    return probe_sock_raw_render(out);
}

static const struct probe_attach_point tcp_connect_kprobes[] = {
    {PROBE_KPROBE, "tcp_v4_connect", "tcp_connect__tcp_v4_connect"},
    {PROBE_KRETPROBE, "tcp_v4_connect", "tcp_connect__tcp_v4_connect_ret"},
    {PROBE_KPROBE, "tcp_v6_connect", "tcp_connect__tcp_v6_connect"},
    {PROBE_KRETPROBE, "tcp_v6_connect", "tcp_connect__tcp_v6_connect_ret"},
};

/* Kernel rules act in the cgroup connect hooks, before the SYN is sent: a
 * signal from the inet_sock_set_state program comes too late, the SYN is
 * already on its way and a listener sees the connection (README, "Rules"). */
static const struct probe_attach_point tcp_connect_rule_points[] = {
    {PROBE_CGROUP, "connect4", "tcp_connect__connect4"},
    {PROBE_CGROUP, "connect6", "tcp_connect__connect6"},
};

static const struct probe_field tcp_connect_fields[] = {
    {"saddr", PROBE_FIELD_ADDR, PROBE_KERNEL_NONE},
    {"daddr", PROBE_FIELD_ADDR, PROBE_KERNEL_ADDR},
    {"port", PROBE_FIELD_NUMBER, PROBE_KERNEL_PORT},
};

static int tcp_connect_decode(struct probe_instance *pi, const void *record, size_t size,
                              json_t *event)
{
    const struct pt_tcp_connect_event *e = record;
    char saddr[INET6_ADDRSTRLEN], daddr[INET6_ADDRSTRLEN];
    probe_addr_format(e->family, e->saddr.addr, saddr);
    probe_addr_format(e->family, e->daddr.addr, daddr);
    if (json_object_set_new(event, "saddr", json_string(saddr)) ||
        json_object_set_new(event, "daddr", json_string(daddr)) ||
        json_object_set_new(event, "port", json_integer(e->dport)))
        return -ENOMEM;
    return 0;
}

const struct probe_ops probe_tcp_connect = {
    .name = "tcp_connect",
    .header = "tcp_connect.h",
    .template = "tcp_connect.bpf.c",
    .tracepoint_form = {tcp_connect_tracepoints,
                        sizeof(tcp_connect_tracepoints) / sizeof(tcp_connect_tracepoints[0])},
    .kprobe_form = {tcp_connect_kprobes,
                    sizeof(tcp_connect_kprobes) / sizeof(tcp_connect_kprobes[0])},
    .record_size = sizeof(struct pt_tcp_connect_event),
    .fields = tcp_connect_fields,
    .n_fields = sizeof(tcp_connect_fields) / sizeof(tcp_connect_fields[0]),
    .kernel_rules = true,
    .rules_form = {tcp_connect_rule_points,
                   sizeof(tcp_connect_rule_points) / sizeof(tcp_connect_rule_points[0])},
    .render_settings = tcp_connect_render_settings,
    .point_active = probe_sock_raw_point_active,
    .decode = tcp_connect_decode,
};
