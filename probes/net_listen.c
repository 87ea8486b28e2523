/* net_listen: TCP listeners and UDP binds, plus periodic snapshots of every
 * listening socket on the host. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filter.h"
#include "netstat.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "templates/net_listen.h"
#include "strbuf.h"
#include "timeutil.h"

#define NET_LISTEN_SNAPSHOT_MAX 4096

/* The "tracepoint" form has no tracepoint: cgroup socket hooks serve
 * better (templates/net_listen.bpf.c), on every kernel since 5.9. */
static const struct probe_attach_point net_listen_tracepoints[] = {
    {PROBE_CGROUP, "bind4", "net_listen__bind4"},
    {PROBE_CGROUP, "bind6", "net_listen__bind6"},
    {PROBE_CGROUP, "post_bind4", "net_listen__post_bind4"},
    {PROBE_CGROUP, "post_bind6", "net_listen__post_bind6"},
    {PROBE_CGROUP, "sock_ops", "net_listen__sock_ops"},
};

static const struct probe_attach_point net_listen_kprobes[] = {
    {PROBE_KPROBE, "inet_listen", "net_listen__inet_listen"},
    {PROBE_KRETPROBE, "inet_listen", "net_listen__inet_listen_ret"},
    {PROBE_KPROBE, "inet_bind", "net_listen__inet_bind"},
    {PROBE_KRETPROBE, "inet_bind", "net_listen__inet_bind_ret"},
    {PROBE_KPROBE, "inet6_bind", "net_listen__inet_bind"},
    {PROBE_KRETPROBE, "inet6_bind", "net_listen__inet_bind_ret"},
};

/* Options, in the order of conf->opts. */
enum { NL_PROTOCOLS, NL_SNAPSHOT_PERIODICITY, NL_SAME_NAMESPACE_ONLY, NL_EXCLUDE_RANDOM_BIND };
enum { NL_TCP = 1 << 0, NL_UDP = 1 << 1 }; /* bits of protocols */
static const char *const net_listen_protocols[] = {"tcp", "udp", NULL};

static const struct probe_option net_listen_options[] = {
    [NL_PROTOCOLS] = {.name = "protocols",
                      .type = POPT_NAMES,
                      .names = net_listen_protocols,
                      .def = NL_TCP},
    /* Read at every tick and event: -w swaps them. */
    [NL_SNAPSHOT_PERIODICITY] = {.name = "snapshot_periodicity",
                                 .type = POPT_INT,
                                 .flags = POPT_OFF_IS_ZERO | POPT_SWAPPABLE,
                                 .min = 0,
                                 .max = 86400 * 365},
    [NL_SAME_NAMESPACE_ONLY] = {.name = "same_namespace_only",
                                .type = POPT_BOOL,
                                .flags = POPT_SWAPPABLE},
    [NL_EXCLUDE_RANDOM_BIND] = {.name = "exclude_random_bind", .type = POPT_BOOL},
};

struct net_listen_state {
    uint64_t own_netns;
    uint64_t next_snapshot_ns;
};

static int net_listen_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                      struct strbuf *out)
{
    return strbuf_printf(out,
                         "#define NET_LISTEN_TCP %d\n#define NET_LISTEN_UDP %d\n"
                         "#define NET_LISTEN_EXCLUDE_RANDOM_BIND %d\n",
                         (conf->opts[NL_PROTOCOLS].i & NL_TCP) != 0,
                         (conf->opts[NL_PROTOCOLS].i & NL_UDP) != 0,
                         conf->opts[NL_EXCLUDE_RANDOM_BIND].i ? 1 : 0);
}

static int listen_fields(json_t *event, int family, const uint8_t *addr, uint16_t port,
                         int protocol)
{
    char laddr[INET6_ADDRSTRLEN];
    probe_addr_format(family, addr, laddr);
    if (json_object_set_new(event, "laddr", json_string(laddr)) ||
        json_object_set_new(event, "port", json_integer(port)) ||
        json_object_set_new(event, "protocol",
                            json_string(protocol == IPPROTO_UDP ? "udp" : "tcp")))
        return -ENOMEM;
    return 0;
}

static int net_listen_decode(struct probe_instance *pi, const void *record, size_t size,
                             json_t *event)
{
    const struct pt_net_listen_event *e = record;
    struct net_listen_state *st = pi->state;
    if (pi->conf->opts[NL_SAME_NAMESPACE_ONLY].i && st) {
        uint64_t ns = netstat_netns("/proc", (pid_t)e->h.pid);
        if (ns && ns != st->own_netns)
            return -EAGAIN;
    }
    int protocol = e->protocol == PT_LISTEN_TCP ? IPPROTO_TCP : IPPROTO_UDP;
    return listen_fields(event, e->family, e->laddr.addr, e->port, protocol);
}

struct snapshot {
    struct probe_instance *pi;
    struct netstat_entry *entries;
    size_t n;
};

static int snapshot_collect(const struct netstat_entry *e, void *ctx)
{
    struct snapshot *s = ctx;
    bool listening = e->protocol == IPPROTO_TCP ? e->state == NETSTAT_TCP_LISTEN
                                                : e->state == NETSTAT_UDP_UNCONNECTED && e->lport;
    if (!listening || s->n == NET_LISTEN_SNAPSHOT_MAX)
        return 0;
    if (s->pi->filters && filter_tables_drop(s->pi->filters, e->family, e->laddr, e->lport))
        return 0;
    s->entries[s->n++] = *e;
    return 0;
}

/* One event per listening socket of the daemon's network namespace, with
 * its owner's tree; the same filters as the kernel applies. */
static void net_listen_snapshot(struct probe_instance *pi, uint64_t now_ns)
{
    struct snapshot s = {pi, calloc(NET_LISTEN_SNAPSHOT_MAX, sizeof(*s.entries)), 0};
    uint64_t *inodes = calloc(NET_LISTEN_SNAPSHOT_MAX, sizeof(*inodes));
    pid_t *owners = calloc(NET_LISTEN_SNAPSHOT_MAX, sizeof(*owners));
    if (!s.entries || !inodes || !owners)
        goto out;
    if (pi->conf->opts[NL_PROTOCOLS].i & NL_TCP)
        netstat_foreach("/proc/net", IPPROTO_TCP, snapshot_collect, &s);
    if (pi->conf->opts[NL_PROTOCOLS].i & NL_UDP)
        netstat_foreach("/proc/net", IPPROTO_UDP, snapshot_collect, &s);
    for (size_t i = 0; i < s.n; i++)
        inodes[i] = s.entries[i].inode;
    netstat_inode_owners("/proc", inodes, owners, s.n);
    for (size_t i = 0; i < s.n; i++) {
        json_t *fields = json_object();
        if (owners[i] && fields && pi->services->container_allowed(pi, (uint32_t)owners[i]) &&
            listen_fields(fields, s.entries[i].family, s.entries[i].laddr, s.entries[i].lport,
                          s.entries[i].protocol) == 0)
            pi->services->emit(pi, (uint32_t)owners[i], now_ns, fields);
        json_decref(fields);
    }
out:
    free(s.entries);
    free(inodes);
    free(owners);
}

static int net_listen_start(struct probe_instance *pi)
{
    struct net_listen_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->own_netns = netstat_netns("/proc", 0);
    st->next_snapshot_ns = time_boot_ns(); /* the first snapshot at start-up */
    pi->state = st;
    return 0;
}

static void net_listen_tick(struct probe_instance *pi, uint64_t now_ns)
{
    struct net_listen_state *st = pi->state;
    long long period = pi->conf->opts[NL_SNAPSHOT_PERIODICITY].i;
    if (!st || !period || now_ns < st->next_snapshot_ns)
        return;
    st->next_snapshot_ns = now_ns + (uint64_t)period * 1000000000ull;
    net_listen_snapshot(pi, now_ns);
}

static void net_listen_stop(struct probe_instance *pi)
{
    free(pi->state);
    pi->state = NULL;
}

static const struct probe_field net_listen_fields[] = {
    {"laddr", PROBE_FIELD_ADDR, PROBE_KERNEL_ADDR},
    {"port", PROBE_FIELD_NUMBER, PROBE_KERNEL_PORT},
    {"protocol", PROBE_FIELD_STRING, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_net_listen = {
    .name = "net_listen",
    .header = "net_listen.h",
    .template = "net_listen.bpf.c",
    .tracepoint_form = {net_listen_tracepoints,
                        sizeof(net_listen_tracepoints) / sizeof(net_listen_tracepoints[0])},
    .kprobe_form = {net_listen_kprobes, sizeof(net_listen_kprobes) / sizeof(net_listen_kprobes[0])},
    .record_size = sizeof(struct pt_net_listen_event),
    .schema = PROBE_SCHEMA(net_listen_options),
    .fields = net_listen_fields,
    .n_fields = sizeof(net_listen_fields) / sizeof(net_listen_fields[0]),
    .kernel_rules = true,
    .render_settings = net_listen_render_settings,
    .decode = net_listen_decode,
    .start = net_listen_start,
    .tick = net_listen_tick,
    .stop = net_listen_stop,
};
