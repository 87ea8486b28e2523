/* rules.bpf.c: kernel rules (rules.h), evaluated at the event by the
 * probes' programs that call pt_rules_apply(). Rendered after common.bpf.c
 * when rules are on (PT_RULES). The rules are map entries the daemon
 * writes (src/rules_kernel.c): adding or removing one loads nothing.
 *
 * PT_KRULES_CGROUP_SIGNAL says whether this kernel lets a cgroup socket
 * program call bpf_send_signal() (6.18 does; 6.1 does not): where it does
 * not, such a program leaves the signal to the daemon, which sends it when
 * it reads the hit (a connect is still refused in the kernel).
 */

/* How pt_rules_apply() is called: from a cgroup socket program (the
 * signal may have to come from the daemon), and whether that program
 * refuses the call when a rule acts (a connect). */
#define PT_RULES_IN_CGROUP 1
#define PT_RULES_REFUSE 2

/* Two banks of PT_KRULES_MAX: the programs read the one pt_krules_ctl
 * names; the daemon fills the other, then switches. */
BPF_ARRAY(pt_krules, struct pt_krule, 2 * PT_KRULES_MAX);
BPF_ARRAY(pt_krules_ctl, struct pt_krules_ctl, 1);

/* Not zero when `v` is outside lo..hi: without a branch, as all of the
 * match is (a unit of the verifier's walk per branch and per rule is what
 * limits how many rules fit). */
static __always_inline __u64 pt_krule_outside(__u32 v, __u32 lo, __u32 hi)
{
    return ((__u64)(__u32)(hi - lo) - (__u64)(__u32)(v - lo)) >> 63;
}

/* Zero when the rule matches. A rule without a term holds the whole range
 * or an empty mask for it (src/rules_kernel.c), so every term is always
 * computed. */
static __always_inline __u64 pt_krule_mismatch(const struct pt_krule *r, __u32 probe_id,
                                               __u32 uid, const __u64 *comm,
                                               const __u64 *addr, __u16 port)
{
    return ((~r->probe_mask >> probe_id) & 1) | pt_krule_outside(uid, r->uid_lo, r->uid_hi) |
           pt_krule_outside(port, r->port_lo, r->port_hi) |
           ((addr[0] & r->addr_mask[0]) ^ r->addr[0]) |
           ((addr[1] & r->addr_mask[1]) ^ r->addr[1]) |
           ((comm[0] & r->comm_mask[0]) ^ r->comm[0]) | ((comm[1] & r->comm_mask[1]) ^ r->comm[1]);
}

/* Tells the daemon: the event that follows was matched by this rule. */
static __always_inline void pt_rule_hit(__u32 probe_id, const struct pt_krule *r, __u32 flags,
                                        __s32 result)
{
    struct pt_rule_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(probe_id);
        return;
    }
    pt_header_fill(&e->h, PT_EV_RULE, probe_id);
    e->rule_id = r->rule_id;
    e->signal = r->signal;
    e->result = result;
    e->flags = flags;
    pt_events.ringbuf_submit(e, pt_event_flags());
}

/* What one event's rules share: kept in a map, not on the stack, so that
 * the verifier does not follow each value through every iteration of the
 * loop below. The loop only finds the rules that match; acting on them is
 * a second, short loop: with both in one, 64 rules took the verifier past
 * its limits. */
struct pt_krules_scratch {
    __u64 addr[2];
    __u64 comm[2];
    __u32 hits;
    __u32 slots[PT_KRULE_HITS_MAX];
};
BPF_PERCPU_ARRAY(pt_krules_scratch, struct pt_krules_scratch, 1);

/* Acts on one matching rule and reports it. Returns 1 when it acted. */
static __always_inline int pt_rule_act(__u32 probe_id, const struct pt_krules_ctl *ctl,
                                       const struct pt_krule *r, int how)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u32 flags = 0;
    __s32 result = 0;
    int acted = 0;
    if (r->flags & PT_KRULE_AUDIT) {
        flags = PT_RULE_HIT_AUDIT;
    } else if (tgid <= 1 || tgid == ctl->daemon_tgid) {
        flags = PT_RULE_HIT_PROTECTED;
    } else {
        acted = 1;
        flags = (how & PT_RULES_REFUSE) ? PT_RULE_HIT_REFUSED : 0;
        if ((how & PT_RULES_IN_CGROUP) && !PT_KRULES_CGROUP_SIGNAL)
            flags |= PT_RULE_HIT_DAEMON_SIGNALS;
        else
            result = bpf_send_signal(r->signal);
    }
    pt_rule_hit(probe_id, r, flags, result);
    return acted;
}

/* Every kernel rule of the probe that matches the current task and the
 * event's address and port acts (the first PT_KRULE_HITS_MAX of them): its
 * signal is sent to the task (not to PID 1 nor the daemon), and a hit
 * record goes to the daemon. `how`: PT_RULES_* above. Returns 1 when a rule
 * acted: a program that refuses (PT_RULES_REFUSE) then refuses the call. */
static __always_inline int pt_rules_apply(__u32 probe_id, __u16 family, const __u8 *event_addr,
                                          __u16 port, int how)
{
    __u32 zero = 0;
    struct pt_krules_ctl *ctl = pt_krules_ctl.lookup(&zero);
    struct pt_krules_scratch *sc = pt_krules_scratch.lookup(&zero);
    if (!ctl || !sc)
        return 0;
    __u32 bank = ctl->bank & 1;
    __u32 n = bank ? ctl->n[1] : ctl->n[0];
    if (!n)
        return 0;
    /* IPv4 as IPv4-mapped IPv6, as the rules are written. */
    __u8 *addr = (__u8 *)sc->addr;
    if (family == AF_INET) {
        sc->addr[0] = 0;
        __builtin_memset(addr + 8, 0, 2);
        addr[10] = 0xff;
        addr[11] = 0xff;
        __builtin_memcpy(addr + 12, event_addr, 4);
    } else {
        __builtin_memcpy(addr, event_addr, 16);
    }
    bpf_get_current_comm(sc->comm, sizeof(sc->comm));
    sc->hits = 0;
    __u32 uid = (__u32)bpf_get_current_uid_gid();
    /* Rules come in chunks of PT_KRULES_CHUNK, the bank's unused slots
     * zeroed (a zero probe mask never matches): the number of rules is
     * checked once per chunk, which keeps the verifier's walk short (a
     * check per rule made an unbounded-looking loop of it). */
    for (__u32 c = 0; c < PT_KRULES_MAX / PT_KRULES_CHUNK; c++) {
        if (c * PT_KRULES_CHUNK >= n)
            break;
#pragma unroll
        for (__u32 k = 0; k < PT_KRULES_CHUNK; k++) {
            __u32 slot = bank * PT_KRULES_MAX + c * PT_KRULES_CHUNK + k;
            struct pt_krule *r = pt_krules.lookup(&slot);
            if (!r || pt_krule_mismatch(r, probe_id, uid, sc->comm, sc->addr, port))
                continue;
            __u32 hit = sc->hits;
            if (hit < PT_KRULE_HITS_MAX) {
                sc->slots[hit & (PT_KRULE_HITS_MAX - 1)] = slot;
                sc->hits = hit + 1;
            }
        }
    }
    int acted = 0;
    for (__u32 j = 0; j < PT_KRULE_HITS_MAX; j++) {
        if (j >= sc->hits)
            break;
        __u32 slot = sc->slots[j];
        struct pt_krule *r = pt_krules.lookup(&slot);
        if (r)
            acted |= pt_rule_act(probe_id, ctl, r, how);
    }
    return acted;
}
