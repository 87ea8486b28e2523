/* udp_session.bpf.c: UDP datagrams counted per socket and destination.
 *
 * Tracepoint form: the cgroup sendmsg4/sendmsg6 hooks run inside every UDP
 * send that names its destination, with the socket, and count it there.
 * Sends on connected sockets (write(), send()) name none and do not reach
 * those hooks: sock:sock_send_length, which fires after every socket send,
 * counts them with the socket's peer, and returns at once for the others.
 * Only the first datagram to a destination, and the release of the socket
 * (the cgroup sock_release hook, in both forms), reach userland; every
 * other datagram is a hash lookup and two stores. A datagram is counted
 * when the socket takes it, whether or not it then leaves the host. No
 * syscall tracepoint is used: one would put every syscall of the host on
 * the kernel's slow path.
 *
 * Kprobe form: udp_sendmsg/udpv6_sendmsg (msg_name or the connected peer).
 */

#include <net/tcp_states.h>

/* LRU: a session whose socket is never released in our time ages out; live
 * sessions are the recently used. */
BPF_TABLE("lru_hash", struct pt_udp_dest_key, struct pt_udp_dest_value, udp_session_dests,
          UDP_SESSION_MAX_DESTS);
BPF_HASH(udp_session_sends, __u64, struct pt_udp_send, 4096);
/* UDP sockets with a live session or a connect, by kernel address: a
 * release finds what it must end in one lookup (and most releases, of
 * sockets with neither, find nothing), and is the entry's end, so an
 * address reused by a new socket starts afresh. Sessions themselves are
 * keyed by cookie (tracepoint form), never reused, because userland ends
 * them after the release. LRU: a socket never released in our time just
 * ages out. */
BPF_TABLE("lru_hash", __u64, struct pt_udp_sock, udp_session_sks, UDP_SESSION_MAX_DESTS);

static __always_inline void udp_session_submit(__u32 record, const struct pt_udp_dest_key *key)
{
    struct pt_udp_session_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->record = record;
    e->pad = 0;
    __builtin_memcpy(&e->key, key, sizeof(*key));
    pt_events.ringbuf_submit(e, pt_event_flags());
}

/* The socket at `addr` has a live session, counted under key->sk. */
static __always_inline void udp_session_live(__u64 addr, const struct pt_udp_dest_key *key)
{
    struct pt_udp_sock *s = udp_session_sks.lookup(&addr);
    if (s) {
        s->live = 1;
        return;
    }
    struct pt_udp_sock n = {.id = key->sk, .live = 1};
    udp_session_sks.update(&addr, &n);
}

/* One datagram from the socket at `addr` to a destination: counted, or a
 * new destination. The filter comes first, and a filtered destination
 * leaves no entry: one per socket and destination kept the LRU map full
 * under socket churn, and its evictions and cache misses cost a UDP storm
 * 10% of its rate; the filter's array and trie lookups cost less than a
 * lookup in that map. */
static __always_inline void udp_session_count_kept(__u64 addr, struct pt_udp_dest_key *key)
{
    __u64 now = bpf_ktime_get_boot_ns();
    struct pt_udp_dest_value *v = udp_session_dests.lookup(key);
    if (v) {
        __sync_fetch_and_add(&v->msg_count, 1);
        v->last_ns = now;
        return;
    }
    struct pt_udp_dest_value nv = {.msg_count = 1, .first_ns = now, .last_ns = now};
    if (udp_session_dests.insert(key, &nv))
        return; /* another CPU inserted it first and counted this datagram */
    udp_session_live(addr, key);
    udp_session_submit(PT_UDP_DEST_START, key);
}

static __always_inline void udp_session_count(__u64 addr, struct pt_udp_dest_key *key)
{
    if (!pt_filtered(PT_PROBE_ID, key->family, key->daddr, key->dport))
        udp_session_count_kept(addr, key);
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

/* Where struct sock_common keeps the IPv6 peer on x86_64 (after the head,
 * bound_dev_if, bind_node, prot and net), for the plain tracepoint's
 * program, which runs where the daemon had no BTF: fixed here so that it
 * needs no kernel struct headers (which may not match the running kernel,
 * and cost a second of compile time). */
#define UDP_SESSION_FIXED_V6_DADDR 56
#define UDP_SESSION_FIXED_V6_RCV_SADDR 72

/* A send that names its destination. Counted here, unless the socket is
 * also connected (rare): sock_send_length counts that one, with the
 * destination remembered for it. Each family's hook may read only its own
 * address fields. Returns 1: the send goes on. */
static __always_inline int udp_session_sendmsg(struct bpf_sock_addr *ctx,
                                               struct pt_udp_dest_key *key)
{
    struct bpf_sock *sk = ctx->sk;
    if (!sk)
        return 1;
    key->dport = ntohs(ctx->user_port);
    if (sk->state != TCP_ESTABLISHED) {
        /* Filtered first: the socket's first cookie request allocates one. */
        if (!pt_filtered(PT_PROBE_ID, key->family, key->daddr, key->dport)) {
            key->sk = bpf_get_socket_cookie(ctx);
            udp_session_count_kept((__u64)sk, key);
        }
        return 1;
    }
    struct pt_udp_send s = {.family = key->family, .dport = key->dport};
    __builtin_memcpy(s.daddr, key->daddr, 16);
    __u64 tid = bpf_get_current_pid_tgid();
    udp_session_sends.update(&tid, &s);
    return 1;
}

/* A UDP connect(): sock_send_length, which sees the connected socket's
 * sends, has its address only, and finds its cookie here. A socket that
 * has an entry already (a session before the connect) has its cookie
 * there. */
static __always_inline int udp_session_connect(struct bpf_sock_addr *ctx)
{
    struct bpf_sock *sk = ctx->sk;
    if (!sk || sk->protocol != PT_IPPROTO_UDP)
        return 1;
    __u64 addr = (__u64)sk;
    if (udp_session_sks.lookup(&addr))
        return 1;
    struct pt_udp_sock n = {.id = bpf_get_socket_cookie(ctx)};
    udp_session_sks.update(&addr, &n);
    return 1;
}

int udp_session__connect4(struct bpf_sock_addr *ctx)
{
    return udp_session_connect(ctx);
}

int udp_session__connect6(struct bpf_sock_addr *ctx)
{
    return udp_session_connect(ctx);
}

int udp_session__sendmsg4(struct bpf_sock_addr *ctx)
{
    struct pt_udp_dest_key key = {.family = AF_INET};
    __u32 ip4 = ctx->user_ip4;
    __builtin_memcpy(key.daddr, &ip4, 4);
    return udp_session_sendmsg(ctx, &key);
}

int udp_session__sendmsg6(struct bpf_sock_addr *ctx)
{
    struct pt_udp_dest_key key = {.family = AF_INET6};
    __u32 ip6[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    __builtin_memcpy(key.daddr, ip6, 16);
    return udp_session_sendmsg(ctx, &key);
}

/* A send of `ret` bytes on the connected UDP socket `sk`, whose peer
 * (`family`, `dport` in network order, `daddr`) is the destination unless
 * the sendmsg hook remembered the one the send named. */
static __always_inline void udp_session_connected_sent(const void *sk, int ret, __u16 family,
                                                       __be16 dport, const __u8 *daddr)
{
    /* A socket connected before the daemon started has no cookie here: its
     * kernel address stands in (a kernel address is far above any cookie,
     * which counts up from 1). */
    __u64 addr = (__u64)sk;
    struct pt_udp_sock *known = udp_session_sks.lookup(&addr);
    struct pt_udp_dest_key key = {.sk = known ? known->id : addr, .family = family};
    __u64 tid = bpf_get_current_pid_tgid();
    struct pt_udp_send *s = udp_session_sends.lookup(&tid);
    if (s) {
        key.family = s->family;
        key.dport = s->dport;
        __builtin_memcpy(key.daddr, s->daddr, 16);
        udp_session_sends.delete(&tid);
    } else {
        key.dport = ntohs(dport);
        __builtin_memcpy(key.daddr, daddr, 16);
    }
    if (ret > 0 && key.dport != 0)
        udp_session_count(addr, &key);
}

int udp_session__sock_send_length(void *ctx)
{
    struct tracepoint__sock__sock_send_length *args = ctx;
    if (args->protocol != PT_IPPROTO_UDP)
        return 0;
    struct pt_sock_head head = {};
    __u8 daddr[16];
    if (pt_sock_read((const char *)args->sk, UDP_SESSION_FIXED_V6_DADDR,
                     UDP_SESSION_FIXED_V6_RCV_SADDR, &head, daddr, 0) ||
        head.state != TCP_ESTABLISHED)
        return 0; /* not connected: counted by the sendmsg hook */
    udp_session_connected_sent(args->sk, args->ret, head.family, head.dport, daddr);
    return 0;
}

#ifdef PT_SK_OFF_PROTOCOL
/* The same from the tracepoint's arguments (sk, ret, flags), as a raw
 * tracepoint when the daemon has the sock's offsets from BTF: the plain
 * one builds its record for every socket send on the host, TCP included,
 * which cost four times its program. Here a send on anything but a
 * connected UDP socket costs one or two reads of the sock. */
int udp_session__raw_sock_send_length(struct bpf_raw_tracepoint_args *ctx)
{
    const char *sk = (const char *)ctx->args[0];
    int ret = (int)ctx->args[1];
    __u16 protocol = 0;
    /* A failed send goes on too: it consumes what the sendmsg hook
     * remembered for it (udp_session_connected_sent counts only ret > 0). */
    if (bpf_probe_read_kernel(&protocol, sizeof(protocol), sk + PT_SK_OFF_PROTOCOL) ||
        protocol != PT_IPPROTO_UDP)
        return 0;
    struct pt_sock_head head = {};
    __u8 daddr[16];
    if (pt_sock_read(sk, PT_SK_OFF_V6_DADDR, PT_SK_OFF_V6_RCV_SADDR, &head, daddr, 0) ||
        head.state != TCP_ESTABLISHED)
        return 0; /* not connected: counted by the sendmsg hook */
    udp_session_connected_sent(sk, ret, head.family, head.dport, daddr);
    return 0;
}
#endif

#else

#include <net/sock.h>

static __always_inline int udp_session_kprobe(struct pt_regs *ctx, __u16 family)
{
    struct sock *sk = (struct sock *)PT_REGS_PARM1(ctx);
    struct msghdr *msg = (struct msghdr *)PT_REGS_PARM2(ctx);
    struct pt_udp_dest_key key = {.sk = (__u64)sk, .family = family};
    void *name = NULL;
    bpf_probe_read_kernel(&name, sizeof(name), &msg->msg_name);
    if (name) {
        struct sockaddr_in6 sa = {};
        bpf_probe_read_kernel(&sa, sizeof(sa), name);
        key.family = sa.sin6_family;
        key.dport = ntohs(sa.sin6_port);
        if (sa.sin6_family == AF_INET)
            __builtin_memcpy(key.daddr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
        else
            __builtin_memcpy(key.daddr, &sa.sin6_addr, 16);
    } else {
        struct sock_common skc = {};
        bpf_probe_read_kernel(&skc, sizeof(skc), &sk->__sk_common);
        key.dport = ntohs(skc.skc_dport);
        pt_addr_copy(key.daddr, family, (const __u8 *)&skc.skc_daddr, skc.skc_v6_daddr.s6_addr);
    }
    if (key.dport == 0)
        return 0;
    /* udpv6_sendmsg hands IPv4-mapped destinations to udp_sendmsg, whose
     * probe counts them: counting here too would report each twice. */
    if (family == AF_INET6 && pt_is_v4_mapped(key.daddr))
        return 0;
    udp_session_count(key.sk, &key);
    return 0;
}

int udp_session__udp_sendmsg(struct pt_regs *ctx)
{
    return udp_session_kprobe(ctx, AF_INET);
}

int udp_session__udpv6_sendmsg(struct pt_regs *ctx)
{
    return udp_session_kprobe(ctx, AF_INET6);
}

#endif

/* Both forms: the release of a UDP socket ends its live session, under
 * the id its sends used, and its entry. The program's context is the
 * socket itself. */
int udp_session__sock_release(struct bpf_sock *sk)
{
    if (sk->protocol != PT_IPPROTO_UDP)
        return 1;
    __u64 addr = (__u64)sk;
    /* Looked up first: a delete takes the bucket's lock even for a key
     * that is not there, and most UDP sockets have no entry. */
    struct pt_udp_sock *s = udp_session_sks.lookup(&addr);
    if (!s)
        return 1;
    struct pt_udp_dest_key key = {.sk = s->id};
    __u8 live = s->live;
    udp_session_sks.delete(&addr);
    if (live)
        udp_session_submit(PT_UDP_CLOSE, &key);
    return 1;
}
