/* udp_session: UDP sockets' traffic, one event per session when it ends. */
#include <bcc/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "templates/pidtree_common.h"
#include "probe.h"
#include "timeutil.h"
#include "templates/udp_session.h"
#include "udp_session_table.h"

/* Sessions open at once; the least recently active is ended early (error
 * "session_evicted") to make room. */
#define UDP_SESSION_MAX_OPEN 8192

static const struct probe_attach_point udp_session_tracepoints[] = {
    {PROBE_CGROUP, "connect4", "udp_session__connect4"},
    {PROBE_CGROUP, "connect6", "udp_session__connect6"},
    {PROBE_CGROUP, "sendmsg4", "udp_session__sendmsg4"},
    {PROBE_CGROUP, "sendmsg6", "udp_session__sendmsg6"},
    /* One of the two, as probe_sock_raw_usable() says. */
    {PROBE_TRACEPOINT, "sock/sock_send_length", "udp_session__sock_send_length"},
    {PROBE_RAW_TRACEPOINT, "sock/sock_send_length", "udp_session__raw_sock_send_length"},
    {PROBE_CGROUP, "sock_release", "udp_session__sock_release"},
};

static const struct probe_attach_point udp_session_kprobes[] = {
    {PROBE_KPROBE, "udp_sendmsg", "udp_session__udp_sendmsg"},
    {PROBE_KPROBE, "udpv6_sendmsg", "udp_session__udpv6_sendmsg"},
    {PROBE_CGROUP, "sock_release", "udp_session__sock_release"},
};

static int udp_session_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                       struct strbuf *out)
{
    return probe_sock_raw_render(out);
}

/* Options, in the order of conf->opts. */
enum { UDP_SESSION_MAX_DURATION };
static const struct probe_option udp_session_options[] = {
    /* Read at every tick: -w swaps it. 1 ms to 30 days, default 120 s. */
    [UDP_SESSION_MAX_DURATION] = {.name = "session_max_duration",
                                  .type = POPT_SECONDS,
                                  .flags = POPT_SWAPPABLE,
                                  .min = 1,
                                  .max = 86400ll * 30 * 1000,
                                  .def = 120 * 1000},
};

struct udp_session_state {
    struct udp_session_table table;
    int dests_fd;
};

static int counts_from_map(void *ctx, const struct pt_udp_dest_key *key,
                           struct pt_udp_dest_value *out)
{
    struct udp_session_state *st = ctx;
    return bpf_lookup_elem(st->dests_fd, (void *)key, out) < 0 ? -ENOENT : 0;
}

/* Writes one session's event and frees the kernel's counters for it. */
static void session_end(struct probe_instance *pi, struct udp_session *s, uint64_t now_ns,
                        const char *error)
{
    struct udp_session_state *st = pi->state;
    json_t *dests = udp_session_destinations(s, counts_from_map, st);
    for (size_t i = 0; i < s->n_dests; i++)
        bpf_delete_elem(st->dests_fd, &s->dests[i]);
    json_t *fields = json_object();
    if (dests && fields && json_object_set(fields, "destinations", dests) == 0 &&
        json_object_set_new(fields, "error", json_string(error)) == 0)
        pi->services->emit(pi, s->pid, now_ns, fields);
    json_decref(dests);
    json_decref(fields);
    udp_session_free(s);
}

static void sessions_end(struct probe_instance *pi, struct udp_session **list, size_t n,
                         uint64_t now_ns, const char *error)
{
    for (size_t i = 0; i < n; i++)
        session_end(pi, list[i], now_ns, error);
    free(list);
}

static int udp_session_decode(struct probe_instance *pi, const void *record, size_t size,
                              json_t *event)
{
    const struct pt_udp_session_event *e = record;
    struct udp_session_state *st = pi->state;
    if (!st)
        return -EAGAIN;
    if (e->record == PT_UDP_CLOSE) {
        struct udp_session *s = udp_table_take_sk(&st->table, e->key.sk);
        if (s)
            session_end(pi, s, e->h.boot_ns, "");
        return -EAGAIN;
    }
    struct udp_session *evicted = NULL;
    udp_table_dest_start(&st->table, e->h.pid, &e->key, e->h.boot_ns, counts_from_map, st,
                         &evicted);
    if (evicted)
        session_end(pi, evicted, e->h.boot_ns, "session_evicted");
    return -EAGAIN;
}

static void udp_session_tick(struct probe_instance *pi, uint64_t now_ns)
{
    struct udp_session_state *st = pi->state;
    struct udp_session **idle;
    uint64_t max_idle = (uint64_t)pi->conf->opts[UDP_SESSION_MAX_DURATION].i * 1000000ull;
    size_t n = udp_table_take_idle(&st->table, now_ns, max_idle, counts_from_map, st, &idle);
    sessions_end(pi, idle, n, now_ns, "session_max_duration_exceeded");
}

static void udp_session_process_exit(struct probe_instance *pi, uint32_t pid, uint64_t boot_ns)
{
    struct udp_session_state *st = pi->state;
    struct udp_session **gone;
    if (!st || st->table.n == 0)
        return;
    size_t n = udp_table_take_pid(&st->table, pid, &gone);
    sessions_end(pi, gone, n, boot_ns, "");
}

static int udp_session_start(struct probe_instance *pi)
{
    struct udp_session_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->dests_fd = pi->services->map_fd(pi, "udp_session_dests");
    if (st->dests_fd < 0) {
        free(st);
        return -ENOENT;
    }
    udp_table_init(&st->table, UDP_SESSION_MAX_OPEN);
    pi->state = st;
    return 0;
}

/* Sessions still open when the daemon stops are written out as they stand:
 * what was captured is never dropped. */
static void udp_session_stop(struct probe_instance *pi)
{
    struct udp_session_state *st = pi->state;
    uint64_t now = time_boot_ns();
    while (st->table.n > 0)
        session_end(pi, udp_table_take_sk(&st->table, st->table.sessions[0]->sk), now, "");
    udp_table_release(&st->table);
    free(st);
    pi->state = NULL;
}

static const struct probe_field udp_session_fields[] = {
    {"destinations", PROBE_FIELD_LIST, PROBE_KERNEL_NONE},
    {"destinations.daddr", PROBE_FIELD_ADDR, PROBE_KERNEL_NONE},
    {"destinations.port", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
    {"destinations.duration", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
    {"destinations.msg_count", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_udp_session = {
    .name = "udp_session",
    .header = "udp_session.h",
    .template = "udp_session.bpf.c",
    .tracepoint_form = {udp_session_tracepoints,
                        sizeof(udp_session_tracepoints) / sizeof(udp_session_tracepoints[0])},
    .kprobe_form = {udp_session_kprobes,
                    sizeof(udp_session_kprobes) / sizeof(udp_session_kprobes[0])},
    .record_size = sizeof(struct pt_udp_session_event),
    .schema = PROBE_SCHEMA(udp_session_options),
    .fields = udp_session_fields,
    .n_fields = sizeof(udp_session_fields) / sizeof(udp_session_fields[0]),
    .render_settings = udp_session_render_settings,
    .point_active = probe_sock_raw_point_active,
    .decode = udp_session_decode,
    .start = udp_session_start,
    .tick = udp_session_tick,
    .process_exit = udp_session_process_exit,
    .stop = udp_session_stop,
};
