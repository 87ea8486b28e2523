/* tcp_connect.bpf.c: one event per outbound TCP connection attempt, in the
 * connecting task's context.
 *
 * Tracepoint form (PT_ATTACH_TRACEPOINT): sock:inet_sock_set_state, the
 * CLOSE -> SYN_SENT transition, which tcp_connect() makes while still in the
 * caller's context. As a raw tracepoint when the daemon has the sock's
 * offsets from BTF (PT_SK_OFF_*): every TCP state change on the host runs
 * the program, and the plain tracepoint first builds its whole record
 * (both addresses, ports, states) for each, which cost more than the
 * program; the raw one compares the two states it is handed and reads the
 * sock only for a connect. Kprobe form: tcp_v4_connect/tcp_v6_connect entry (keep
 * the socket) and return (report when it returned 0), for kernels before 4.16
 * that lack the tracepoint.
 */

#include <net/tcp_states.h>

static __always_inline int tcp_connect_submit(__u16 family, __u16 dport, __u16 sport,
                                              const __u8 *saddr, const __u8 *daddr)
{
    if (pt_filtered(PT_PROBE_ID, family, daddr, dport))
        return 0;
    struct pt_tcp_connect_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->family = family;
    e->dport = dport;
    e->sport = sport;
    e->pad = 0;
    __builtin_memcpy(e->saddr.addr, saddr, 16);
    __builtin_memcpy(e->daddr.addr, daddr, 16);
    pt_events.ringbuf_submit(e, pt_event_flags());
    return 0;
}

#ifdef PT_RULES
/* Kernel rules act in the cgroup connect hooks (attached at the root of
 * the cgroup v2 hierarchy), before the socket leaves CLOSE: a signal sent
 * from inet_sock_set_state's CLOSE -> SYN_SENT comes after tcp_connect()
 * was called, the SYN goes out and a listener on the host accepts the
 * connection (measured: README, "Rules"). Here the connect is refused
 * (EPERM) and the task signalled before anything is sent. Returns 1 to let
 * the connect go on. */
static __always_inline int tcp_connect_guard(struct bpf_sock_addr *ctx, __u16 family,
                                             const __u8 *daddr)
{
    if (ctx->type != PT_SOCK_STREAM || ctx->protocol != PT_IPPROTO_TCP)
        return 1;
    __u16 dport = ntohs((__u16)ctx->user_port);
    /* Not pt_filtered(): its count would see the connect twice. */
    if (pt_port_dropped(PT_PROBE_ID, dport) ||
        pt_subnet_dropped(PT_PROBE_ID, family, daddr, dport) || pt_container_dropped(PT_PROBE_ID) ||
        !pt_rules_apply(PT_PROBE_ID, family, daddr, dport, PT_RULES_IN_CGROUP | PT_RULES_REFUSE))
        return 1;
    /* Refused, it will never reach SYN_SENT: its event is sent from here,
     * without a source address (none is chosen yet). */
    __u8 saddr[16] = {};
    tcp_connect_submit(family, dport, 0, saddr, daddr);
    return 0;
}

int tcp_connect__connect4(struct bpf_sock_addr *ctx)
{
    __u8 daddr[16] = {};
    __u32 ip = ctx->user_ip4;
    __builtin_memcpy(daddr, &ip, 4);
    return tcp_connect_guard(ctx, AF_INET, daddr);
}

int tcp_connect__connect6(struct bpf_sock_addr *ctx)
{
    __u32 ip6[4];
    ip6[0] = ctx->user_ip6[0];
    ip6[1] = ctx->user_ip6[1];
    ip6[2] = ctx->user_ip6[2];
    ip6[3] = ctx->user_ip6[3];
    return tcp_connect_guard(ctx, AF_INET6, (const __u8 *)ip6);
}
#endif

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

int tcp_connect__inet_sock_set_state(void *ctx)
{
    struct tracepoint__sock__inet_sock_set_state *args = ctx;
    if (args->protocol != PT_IPPROTO_TCP || args->oldstate != TCP_CLOSE ||
        args->newstate != TCP_SYN_SENT)
        return 0;
    __u8 saddr[16], daddr[16];
    pt_addr_copy(saddr, args->family, args->saddr, args->saddr_v6);
    pt_addr_copy(daddr, args->family, args->daddr, args->daddr_v6);
    return tcp_connect_submit(args->family, args->dport, args->sport, saddr, daddr);
}

#ifdef PT_SK_OFF_PROTOCOL
/* The same transition from the tracepoint's arguments: (sk, oldstate,
 * newstate). The local port is skc_num, which is what the tracepoint's
 * sport holds (both are set together when the port is chosen). */
int tcp_connect__raw_inet_sock_set_state(struct bpf_raw_tracepoint_args *ctx)
{
    if ((int)ctx->args[1] != TCP_CLOSE || (int)ctx->args[2] != TCP_SYN_SENT)
        return 0;
    const char *sk = (const char *)ctx->args[0];
    __u16 protocol = 0;
    if (bpf_probe_read_kernel(&protocol, sizeof(protocol), sk + PT_SK_OFF_PROTOCOL) ||
        protocol != PT_IPPROTO_TCP)
        return 0;
    struct pt_sock_head head = {};
    __u8 saddr[16], daddr[16];
    if (pt_sock_read(sk, PT_SK_OFF_V6_DADDR, PT_SK_OFF_V6_RCV_SADDR, &head, daddr, saddr))
        return 0;
    return tcp_connect_submit(head.family, ntohs(head.dport), head.num, saddr, daddr);
}
#endif

#else

#include <net/sock.h>

BPF_HASH(tcp_connect_pending, __u64, struct sock *, 10240);

static __always_inline int tcp_connect_entry(struct pt_regs *ctx)
{
    __u64 tid = bpf_get_current_pid_tgid();
    struct sock *sk = (struct sock *)PT_REGS_PARM1(ctx);
    tcp_connect_pending.update(&tid, &sk);
    return 0;
}

/* Only the leading fields of sock_common are read: they are the same in
 * every kernel since 4.x, so mismatched headers cannot shift them. */
static __always_inline int tcp_connect_return(struct pt_regs *ctx)
{
    __u64 tid = bpf_get_current_pid_tgid();
    struct sock **skp = tcp_connect_pending.lookup(&tid);
    if (!skp)
        return 0;
    struct sock *sk = *skp;
    tcp_connect_pending.delete(&tid);
    if (PT_REGS_RC(ctx) != 0)
        return 0;
    struct sock_common skc = {};
    bpf_probe_read_kernel(&skc, sizeof(skc), &sk->__sk_common);
    __u8 saddr[16], daddr[16];
    pt_addr_copy(saddr, skc.skc_family, (const __u8 *)&skc.skc_rcv_saddr,
                 skc.skc_v6_rcv_saddr.s6_addr);
    pt_addr_copy(daddr, skc.skc_family, (const __u8 *)&skc.skc_daddr, skc.skc_v6_daddr.s6_addr);
    return tcp_connect_submit(skc.skc_family, ntohs(skc.skc_dport), skc.skc_num, saddr, daddr);
}

int tcp_connect__tcp_v4_connect(struct pt_regs *ctx)
{
    return tcp_connect_entry(ctx);
}

int tcp_connect__tcp_v4_connect_ret(struct pt_regs *ctx)
{
    return tcp_connect_return(ctx);
}

int tcp_connect__tcp_v6_connect(struct pt_regs *ctx)
{
    return tcp_connect_entry(ctx);
}

int tcp_connect__tcp_v6_connect_ret(struct pt_regs *ctx)
{
    return tcp_connect_return(ctx);
}

#endif
