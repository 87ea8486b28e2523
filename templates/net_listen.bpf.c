/* net_listen.bpf.c: a process starts listening on a TCP socket, or binds a
 * UDP socket. Only successful calls are reported.
 *
 * Tracepoint form. TCP: the LISTEN state change (sock:inet_sock_set_state,
 * in the listening task) gives the address and port; it also fires for a
 * listen() that then fails to get its port, so the event waits for
 * sys_exit_listen to return 0. UDP: sys_enter_bind reads the address,
 * sys_exit_bind reports it if the call succeeded and the socket is a
 * datagram socket (sockets.bpf.c).
 *
 * Kprobe form: inet_listen and inet_bind/inet6_bind, entry and return.
 *
 * Settings: NET_LISTEN_TCP, NET_LISTEN_UDP, NET_LISTEN_EXCLUDE_RANDOM_BIND.
 */
#include <net/tcp_states.h>

BPF_HASH(net_listen_pending, __u64, struct pt_listen_pending, 4096);

static __always_inline int net_listen_submit(struct pt_listen_pending *p, __u16 protocol, __s32 fd)
{
    if (NET_LISTEN_EXCLUDE_RANDOM_BIND && p->random)
        return 0;
    if (pt_filtered(PT_PROBE_ID, p->family, p->addr.addr, p->port))
        return 0;
#ifdef PT_RULES
    /* In the listening task, once the listen or bind has succeeded. */
    pt_rules_apply(PT_PROBE_ID, p->family, p->addr.addr, p->port, 0);
#endif
    struct pt_net_listen_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->family = p->family;
    e->port = p->port;
    e->protocol = protocol;
    e->pad = 0;
    e->fd = fd;
    e->pad2 = 0;
    __builtin_memcpy(e->laddr.addr, p->addr.addr, 16);
    pt_events.ringbuf_submit(e, 0);
    return 0;
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

int net_listen__sys_enter_listen(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_listen *args = ctx;
    struct pt_listen_pending p = {.fd = args->fd};
    struct pt_sock_info *info = pt_socket_lookup(args->fd);
    /* Listening without bind(), or after bind() to port 0: the kernel
     * picked the port. Unknown sockets are taken as deliberately bound. */
    if (info)
        p.random = !(info->flags & PT_SOCK_BOUND) || (info->flags & PT_SOCK_RANDOM_BIND);
    __u64 tid = bpf_get_current_pid_tgid();
    net_listen_pending.update(&tid, &p);
    return 0;
}

int net_listen__inet_sock_set_state(void *ctx)
{
    struct tracepoint__sock__inet_sock_set_state *args = ctx;
    if (args->protocol != PT_IPPROTO_TCP || args->newstate != TCP_LISTEN)
        return 0;
    __u64 tid = bpf_get_current_pid_tgid();
    struct pt_listen_pending *p = net_listen_pending.lookup(&tid);
    if (!p)
        return 0; /* not from listen(2) */
    p->family = args->family;
    p->port = args->sport;
    pt_addr_copy(p->addr.addr, args->family, args->saddr, args->saddr_v6);
    p->seen_listen = 1;
    p->sk = (__u64)args->skaddr;
    return 0;
}

/* sock_common's skc_num: the local port in host order, at offset 14 since
 * the addresses, hash and destination port ahead of it (a layout every
 * kernel with these tracepoints shares). */
#define PT_SKC_NUM_OFFSET 14

/* A listen() without bind() enters the LISTEN state before the kernel
 * picks its port; once the call has returned, the socket holds it. */
static __always_inline void net_listen_chosen_port(struct pt_listen_pending *p)
{
    __u16 num = 0;
    if (p->port == 0 && p->sk &&
        bpf_probe_read_kernel(&num, sizeof(num), (void *)(p->sk + PT_SKC_NUM_OFFSET)) == 0)
        p->port = num;
}

int net_listen__sys_exit_listen(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_listen *args = ctx;
    __u64 tid = bpf_get_current_pid_tgid();
    struct pt_listen_pending *p = net_listen_pending.lookup(&tid);
    if (!p)
        return 0;
    if (args->ret == 0 && p->seen_listen && NET_LISTEN_TCP) {
        net_listen_chosen_port(p);
        net_listen_submit(p, PT_LISTEN_TCP, -1);
    }
    net_listen_pending.delete(&tid);
    return 0;
}

int net_listen__sys_enter_bind(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_bind *args = ctx;
    struct pt_listen_pending p = {.fd = args->fd};
    if (pt_read_user_sockaddr(args->umyaddr, &p.family, &p.port, p.addr.addr) < 0)
        return 0;
    p.random = p.port == 0;
    __u64 tid = bpf_get_current_pid_tgid();
    net_listen_pending.update(&tid, &p);
    return 0;
}

int net_listen__sys_exit_bind(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_bind *args = ctx;
    __u64 tid = bpf_get_current_pid_tgid();
    struct pt_listen_pending *p = net_listen_pending.lookup(&tid);
    if (!p)
        return 0;
    struct pt_sock_info *info = pt_socket_lookup(p->fd);
    if (args->ret == 0 && info)
        info->flags |= PT_SOCK_BOUND | (p->port == 0 ? PT_SOCK_RANDOM_BIND : 0);
    /* TCP sockets are reported when they listen. */
    if (args->ret == 0 && NET_LISTEN_UDP && (!info || info->type == PT_SOCK_DGRAM))
        net_listen_submit(p, info ? PT_LISTEN_UDP : PT_LISTEN_UNKNOWN, p->fd);
    net_listen_pending.delete(&tid);
    return 0;
}

#else

#include <net/sock.h>

struct net_listen_call {
    struct sock *sk;
    struct pt_listen_pending p;
};
BPF_HASH(net_listen_calls, __u64, struct net_listen_call, 4096);
/* Sockets bound to port 0 (the kernel chose the port), so that listen() on
 * them later counts as a random bind too. LRU: a closed socket just ages. */
BPF_TABLE("lru_hash", __u64, __u8, net_listen_random_sks, 10240);

/* The kprobe form reads sock_common's leading fields only (stable). */
static __always_inline void net_listen_from_sock(struct sock *sk, struct pt_listen_pending *p)
{
    struct sock_common skc = {};
    bpf_probe_read_kernel(&skc, sizeof(skc), &sk->__sk_common);
    p->family = skc.skc_family;
    p->port = skc.skc_num;
    pt_addr_copy(p->addr.addr, skc.skc_family, (const __u8 *)&skc.skc_rcv_saddr,
                 skc.skc_v6_rcv_saddr.s6_addr);
}

int net_listen__inet_listen(struct pt_regs *ctx)
{
    struct socket *sock = (struct socket *)PT_REGS_PARM1(ctx);
    struct net_listen_call call = {};
    bpf_probe_read_kernel(&call.sk, sizeof(call.sk), &sock->sk);
    /* No local port yet: listen() will pick one, as bind() to port 0 did. */
    struct sock_common skc = {};
    bpf_probe_read_kernel(&skc, sizeof(skc), &call.sk->__sk_common);
    __u64 key = (__u64)call.sk;
    call.p.random = skc.skc_num == 0 || net_listen_random_sks.lookup(&key) != NULL;
    __u64 tid = bpf_get_current_pid_tgid();
    net_listen_calls.update(&tid, &call);
    return 0;
}

int net_listen__inet_listen_ret(struct pt_regs *ctx)
{
    __u64 tid = bpf_get_current_pid_tgid();
    struct net_listen_call *call = net_listen_calls.lookup(&tid);
    if (!call)
        return 0;
    if (PT_REGS_RC(ctx) == 0 && NET_LISTEN_TCP) {
        net_listen_from_sock(call->sk, &call->p);
        net_listen_submit(&call->p, PT_LISTEN_TCP, -1);
    }
    net_listen_calls.delete(&tid);
    return 0;
}

int net_listen__inet_bind(struct pt_regs *ctx)
{
    struct socket *sock = (struct socket *)PT_REGS_PARM1(ctx);
    struct sockaddr *uaddr = (struct sockaddr *)PT_REGS_PARM2(ctx);
    struct net_listen_call call = {};
    bpf_probe_read_kernel(&call.sk, sizeof(call.sk), &sock->sk);
    struct sockaddr_in sin = {};
    bpf_probe_read_kernel(&sin, sizeof(sin), uaddr);
    call.p.random = sin.sin_port == 0;
    __u64 tid = bpf_get_current_pid_tgid();
    net_listen_calls.update(&tid, &call);
    return 0;
}

int net_listen__inet_bind_ret(struct pt_regs *ctx)
{
    __u64 tid = bpf_get_current_pid_tgid();
    struct net_listen_call *call = net_listen_calls.lookup(&tid);
    if (!call)
        return 0;
    __u16 protocol = 0;
    bpf_probe_read_kernel(&protocol, sizeof(protocol), &call->sk->sk_protocol);
    if (PT_REGS_RC(ctx) == 0 && call->p.random) {
        __u64 key = (__u64)call->sk;
        __u8 one = 1;
        net_listen_random_sks.update(&key, &one);
    }
    if (PT_REGS_RC(ctx) == 0 && NET_LISTEN_UDP && protocol == PT_IPPROTO_UDP) {
        net_listen_from_sock(call->sk, &call->p);
        net_listen_submit(&call->p, PT_LISTEN_UDP, -1);
    }
    net_listen_calls.delete(&tid);
    return 0;
}

#endif
