/* common.bpf.c: maps and helpers every probe of the module shares.
 *
 * The renderer places this first, after pidtree_common.h and the settings
 * it defines (PT_RINGBUF_PAGES). One ring buffer carries every event, process
 * lifecycle and network alike, so userland sees them in the order they
 * happened (a perf buffer per CPU would not give that order).
 */
#include <uapi/linux/ptrace.h>
#include <uapi/linux/in6.h>
/* Socket constants spelled out: <linux/socket.h>, <linux/net.h> and
 * <uapi/linux/in.h> (which pulls in the first) would add over a second of
 * compile time to every start-up. These values are ABI. PT_ names keep them
 * apart from the kernel's own, which a kprobe form's headers define. */
#define PT_IPPROTO_TCP 6
#define PT_IPPROTO_UDP 17
struct pt_sockaddr_in {
    __u16 sin_family;
    __be16 sin_port;
    __u8 sin_addr[4];
    __u8 sin_zero[8];
};
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define PT_SOCK_STREAM 1
#define PT_SOCK_DGRAM 2

/* bpf_probe_read_user(_str) under names of their own: at every call of
 * those names BCC 0.26's rewriter reads and indexes all of /proc/kallsyms,
 * to fall back on kernels without them (before 5.5); nine calls were
 * 0.4 s of start-up. The ring buffer this module needs came in 5.8. */
static long (*pt_read_user)(void *dst, __u32 size, const void *src) =
    (void *)BPF_FUNC_probe_read_user;
static long (*pt_read_user_str)(void *dst, __u32 size, const void *src) =
    (void *)BPF_FUNC_probe_read_user_str;

/* One 32-bit field of a cgroup program's context, loaded at its constant
 * offset by one instruction: clang would otherwise share a pointer into
 * the context between fields, which the verifier refuses. */
#define PT_CTX_U32(ctx, field)                                                                     \
    ({                                                                                             \
        __u32 pt_v_;                                                                               \
        asm volatile("%0 = *(u32 *)(%1 + %2)"                                                      \
                     : "=r"(pt_v_)                                                                 \
                     : "r"(ctx), "i"(__builtin_offsetof(__typeof__(*(ctx)), field)));              \
        pt_v_;                                                                                     \
    })

BPF_RINGBUF_OUTPUT(pt_events, PT_RINGBUF_PAGES);

/* Process lifecycle records (fork, exec, exit) wake no reader: the daemon
 * drains them on a timer (LAZY_DRAIN_MS in src/daemon.c). A wakeup per
 * exec, and the reader's work interleaved with the traced tasks', cost a
 * fork+exec storm 11% of its rate. An event record that comes after
 * lifecycle records forces the wakeup, which the kernel's own rule (wake
 * only a reader that has caught up) would not send, so events wait for
 * nothing. One flag for all CPUs, written only when it changes. */
BPF_ARRAY(pt_lazy_pending, __u32, 1);

static __always_inline __u64 pt_lifecycle_flags(void)
{
    __u32 zero = 0;
    __u32 *pending = pt_lazy_pending.lookup(&zero);
    if (pending && !*pending)
        *pending = 1;
    return BPF_RB_NO_WAKEUP;
}

static __always_inline __u64 pt_event_flags(void)
{
    __u32 zero = 0;
    __u32 *pending = pt_lazy_pending.lookup(&zero);
    if (!pending || !*pending)
        return 0;
    *pending = 0;
    return BPF_RB_FORCE_WAKEUP;
}

/* Records the ring buffer had no room for, per probe id. */
BPF_PERCPU_ARRAY(pt_lost, __u64, PT_MAX_PROBES);

BPF_LPM_TRIE(pt_subnets, struct pt_subnet_key, struct pt_subnet_rule, 2 * PT_MAX_SUBNETS);
BPF_HASH(pt_subnet_ports, struct pt_subnet_port_key, __u64, 2 * PT_MAX_SUBNET_PORT_WORDS);
/* Global includeports/excludeports, one bit per port per probe: set = drop. */
BPF_ARRAY(pt_port_bits, __u64, PT_MAX_PROBES *PT_PORT_WORDS);

static __always_inline void pt_count_lost(__u32 probe_id)
{
    __u64 *count = pt_lost.lookup(&probe_id);
    if (count)
        (*count)++;
}

static __always_inline void pt_header_fill(struct pt_header *h, __u16 type, __u16 probe_id)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    h->type = type;
    h->probe_id = probe_id;
    h->pid = pid_tgid >> 32;
    h->tid = (__u32)pid_tgid;
    h->uid = (__u32)bpf_get_current_uid_gid();
    h->boot_ns = bpf_ktime_get_boot_ns();
}

/* Copies an address into the 16-byte layout: IPv4 in the first 4 bytes. */
static __always_inline void pt_addr_copy(__u8 *dst, __u16 family, const __u8 *v4, const __u8 *v6)
{
    if (family == AF_INET) {
        __builtin_memcpy(dst, v4, 4);
        __builtin_memset(dst + 4, 0, 12);
    } else {
        __builtin_memcpy(dst, v6, 16);
    }
}

/* The head of struct sock_common: these leading fields have the same
 * offsets in every kernel since 4.x. What follows them moved, so the IPv6
 * addresses are read at offsets the daemon takes from the running
 * kernel's BTF. */
struct pt_sock_head {
    __be32 daddr;
    __be32 rcv_saddr;
    __u32 hash;
    __be16 dport;
    __u16 num;
    __u16 family;
    __u8 state;
};

/* Reads the head of `sk`, an IPv4 or IPv6 sock, and its peer and local
 * addresses (IPv4 in the first 4 bytes, as pt_addr_copy); `saddr` may be
 * NULL. Returns 0, or -1 when a read fails or the family is another. */
static __always_inline int pt_sock_read(const char *sk, long v6_daddr_off, long v6_rcv_saddr_off,
                                        struct pt_sock_head *head, __u8 *daddr, __u8 *saddr)
{
    if (!sk || bpf_probe_read_kernel(head, sizeof(*head), sk))
        return -1;
    if (head->family == AF_INET) {
        pt_addr_copy(daddr, AF_INET, (const __u8 *)&head->daddr, 0);
        if (saddr)
            pt_addr_copy(saddr, AF_INET, (const __u8 *)&head->rcv_saddr, 0);
        return 0;
    }
    if (head->family != AF_INET6 || bpf_probe_read_kernel(daddr, 16, sk + v6_daddr_off))
        return -1;
    if (saddr && bpf_probe_read_kernel(saddr, 16, sk + v6_rcv_saddr_off))
        return -1;
    return 0;
}

static __always_inline int pt_is_v4_mapped(const __u8 *a)
{
    for (int i = 0; i < 10; i++)
        if (a[i])
            return 0;
    return a[10] == 0xff && a[11] == 0xff;
}

static __always_inline int pt_port_dropped(__u32 probe_id, __u16 port)
{
    __u32 word = probe_id * PT_PORT_WORDS + (port >> 6);
    __u64 *bits = pt_port_bits.lookup(&word);
    return bits && ((*bits >> (port & 63)) & 1);
}

static __always_inline int pt_subnet_dropped(__u32 probe_id, __u16 family, const __u8 *addr,
                                             __u16 port)
{
    struct pt_subnet_key key = {};
    key.prefixlen = 32 + 128;
    key.probe_id_be[3] = probe_id;
    if (family == AF_INET) {
        key.addr[10] = 0xff;
        key.addr[11] = 0xff;
        __builtin_memcpy(&key.addr[12], addr, 4);
    } else {
        __builtin_memcpy(key.addr, addr, 16);
    }
    struct pt_subnet_rule *rule = pt_subnets.lookup(&key);
    if (!rule)
        return 0;
    if (rule->mode == PT_SUBNET_DROP_ALL)
        return 1;
    struct pt_subnet_port_key pkey = {.rule_id = rule->rule_id, .word = port >> 6};
    __u64 *bits = pt_subnet_ports.lookup(&pkey);
    int listed = bits && ((*bits >> (port & 63)) & 1);
    return rule->mode == PT_SUBNET_EXCEPT_PORTS ? !listed : listed;
}

#ifdef PT_RULES
/* Events the filters dropped, per probe id, for `pidtree-bcc ctl stats`. */
BPF_PERCPU_ARRAY(pt_filtered_count, __u64, PT_MAX_PROBES);
#endif

#ifndef PT_CONTAINER_PROBES
#define PT_CONTAINER_PROBES 0
#endif
#if PT_CONTAINER_PROBES
/* The cgroups of the containers whose labels match some probe's
 * container_labels, each with the bits of those probes; written by the
 * daemon as the container engine reports containers. */
BPF_F_TABLE("hash", __u64, __u32, pt_containers, PT_MAX_CONTAINERS, BPF_F_NO_PREALLOC);
#endif

/* container_labels: for a probe that has them (a bit of
 * PT_CONTAINER_PROBES, a constant: other probes pay nothing), drops the
 * event unless the current task's cgroup, or one above it (a container
 * that made cgroups of its own), is a matching container's. The cgroup id
 * comes from helpers, not from task_struct, whose layout the installed
 * headers may not match. */
static __always_inline int pt_container_dropped(__u32 probe_id)
{
#if PT_CONTAINER_PROBES
    if (!((PT_CONTAINER_PROBES >> probe_id) & 1))
        return 0;
    for (int level = 1; level <= PT_CGROUP_MAX_LEVEL; level++) {
        __u64 id = bpf_get_current_ancestor_cgroup_id(level);
        if (!id)
            break; /* below the task's own cgroup */
        __u32 *bits = pt_containers.lookup(&id);
        if (bits && ((*bits >> probe_id) & 1))
            return 0;
    }
    return 1;
#else
    return 0;
#endif
}

/* The config's filters, in the kernel, before anything is submitted. */
static __always_inline int pt_filtered(__u32 probe_id, __u16 family, const __u8 *addr, __u16 port)
{
    int filtered = pt_port_dropped(probe_id, port) ||
                   pt_subnet_dropped(probe_id, family, addr, port) || pt_container_dropped(probe_id);
#ifdef PT_RULES
    __u64 *count = filtered ? pt_filtered_count.lookup(&probe_id) : 0;
    if (count)
        (*count)++;
#endif
    return filtered;
}

/* Reads an IPv4 or IPv6 sockaddr from user memory. Returns 0 and fills the
 * outputs (port in host order), or -1 for other families or bad memory. */
static __always_inline int pt_read_user_sockaddr(const void *uaddr, __u16 *family, __u16 *port,
                                                 __u8 *addr)
{
    struct sockaddr_in6 sa = {};
    if (!uaddr || pt_read_user(&sa, sizeof(struct pt_sockaddr_in), uaddr))
        return -1;
    *family = sa.sin6_family;
    *port = ntohs(sa.sin6_port);
    if (sa.sin6_family == AF_INET) {
        const struct pt_sockaddr_in *sin = (const struct pt_sockaddr_in *)&sa;
        __builtin_memcpy(addr, sin->sin_addr, 4);
        __builtin_memset(addr + 4, 0, 12);
        return 0;
    }
    if (sa.sin6_family != AF_INET6 || pt_read_user(&sa, sizeof(sa), uaddr))
        return -1;
    __builtin_memcpy(addr, &sa.sin6_addr, 16);
    return 0;
}
