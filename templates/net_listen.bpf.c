/* net_listen.bpf.c: a process starts listening on a TCP socket, or binds a
 * UDP socket. Only successful calls are reported.
 *
 * Tracepoint form: cgroup socket hooks at the root of the v2 hierarchy,
 * which run only for inet sockets (syscall tracepoints would slow every
 * syscall on the host). bind4/bind6 note whether the caller asked for a
 * port; post_bind4/post_bind6 report UDP binds once the port is held; the
 * sock_ops TCP_LISTEN_CB callback, which runs in the listening task after
 * listen() got its port, reports TCP listeners.
 *
 * Kprobe form: inet_listen and inet_bind/inet6_bind, entry and return.
 *
 * Settings: NET_LISTEN_TCP, NET_LISTEN_UDP, NET_LISTEN_EXCLUDE_RANDOM_BIND.
 */
#include <net/tcp_states.h>

static __always_inline int net_listen_submit(struct pt_listen_pending *p, __u16 protocol)
{
    if (NET_LISTEN_EXCLUDE_RANDOM_BIND && p->random)
        return 0;
    if (pt_filtered(PT_PROBE_ID, p->family, p->addr.addr, p->port))
        return 0;
#ifdef PT_RULES
    /* In the listening task, once the listen or bind has succeeded: the
     * tracepoint form's programs are cgroup socket programs. */
    pt_rules_apply(PT_PROBE_ID, p->family, p->addr.addr, p->port,
                   PT_ATTACH == PT_ATTACH_TRACEPOINT ? PT_RULES_IN_CGROUP : 0);
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
    __builtin_memcpy(e->laddr.addr, p->addr.addr, 16);
    pt_events.ringbuf_submit(e, pt_event_flags());
    return 0;
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

/* Sockets bound in this daemon's time, by socket cookie (never reused):
 * 1 when bound to port 0 (the kernel chose the port), 0 when to a port of
 * the caller's choosing. LRU: sockets that bind and never listen age out. */
BPF_TABLE("lru_hash", __u64, __u8, net_listen_binds, 65536);

/* Cgroup socket programs return 1 to let the call go on. */
static __always_inline int net_listen_bind(struct bpf_sock_addr *ctx)
{
    __u64 cookie = bpf_get_socket_cookie(ctx);
    __u8 random = ctx->user_port == 0;
    net_listen_binds.update(&cookie, &random);
    return 1;
}

int net_listen__bind4(struct bpf_sock_addr *ctx)
{
    return net_listen_bind(ctx);
}

int net_listen__bind6(struct bpf_sock_addr *ctx)
{
    return net_listen_bind(ctx);
}

/* Listening without bind() (the kernel picks the port then) counts as a
 * random bind; so does a socket bound before the daemon started, which
 * cannot be told apart from it here. */
static __always_inline __u32 net_listen_random(__u64 cookie)
{
    __u8 *random = net_listen_binds.lookup(&cookie);
    __u32 r = random ? *random : 1;
    if (random)
        net_listen_binds.delete(&cookie);
    return r;
}

/* post_bind runs once the port is held: the bind succeeded. Each family's
 * hook may read only its own address fields. */
static __always_inline int net_listen_post_bind(struct bpf_sock *sk, struct pt_listen_pending *p)
{
    p->family = sk->family;
    p->port = sk->src_port;
    p->random = net_listen_random(bpf_get_socket_cookie(sk));
    net_listen_submit(p, PT_LISTEN_UDP);
    return 1;
}

int net_listen__post_bind4(struct bpf_sock *sk)
{
    if (!NET_LISTEN_UDP || sk->protocol != PT_IPPROTO_UDP)
        return 1;
    struct pt_listen_pending p = {};
    __u32 ip4 = sk->src_ip4;
    __builtin_memcpy(p.addr.addr, &ip4, 4);
    return net_listen_post_bind(sk, &p);
}

int net_listen__post_bind6(struct bpf_sock *sk)
{
    if (!NET_LISTEN_UDP || sk->protocol != PT_IPPROTO_UDP)
        return 1;
    struct pt_listen_pending p = {};
    __u32 ip6[4] = {sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]};
    __builtin_memcpy(p.addr.addr, ip6, 16);
    return net_listen_post_bind(sk, &p);
}

/* TCP_LISTEN_CB: listen() succeeded and the socket holds its port. Every
 * other sock_ops callback (a few per TCP connection) returns at once. */
int net_listen__sock_ops(struct bpf_sock_ops *ctx)
{
    if (ctx->op != BPF_SOCK_OPS_TCP_LISTEN_CB || !NET_LISTEN_TCP)
        return 1;
    struct pt_listen_pending p = {.family = ctx->family, .port = ctx->local_port};
    __u32 a[4] = {PT_CTX_U32(ctx, local_ip4), 0, 0, 0};
    if (p.family == AF_INET6) {
        a[0] = PT_CTX_U32(ctx, local_ip6[0]);
        a[1] = PT_CTX_U32(ctx, local_ip6[1]);
        a[2] = PT_CTX_U32(ctx, local_ip6[2]);
        a[3] = PT_CTX_U32(ctx, local_ip6[3]);
    }
    __builtin_memcpy(p.addr.addr, a, 16); /* IPv4: a[1..3] are 0 */
    p.random = net_listen_random(bpf_get_socket_cookie(ctx));
    net_listen_submit(&p, PT_LISTEN_TCP);
    return 1;
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
        net_listen_submit(&call->p, PT_LISTEN_TCP);
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
        net_listen_submit(&call->p, PT_LISTEN_UDP);
    }
    net_listen_calls.delete(&tid);
    return 0;
}

#endif
