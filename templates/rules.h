/* rules.h: kernel rules, as the daemon writes them (src/rules_kernel.c)
 * and the probes' programs read them (rules.bpf.c), and the record a
 * kernel rule's hit sends to the daemon. */
#ifndef PIDTREE_KRULES_SHARED_H
#define PIDTREE_KRULES_SHARED_H

/* Rules per bank. The daemon writes a new set into the bank the programs
 * do not read, then switches banks with one write (pt_krules_ctl): a
 * program sees the old set or the new one, never half of each. */
#define PT_KRULES_MAX 64
#define PT_KRULES_CHUNK 8
#define PT_KRULE_COMM_LEN 16
/* Hit records one event sends at most (the rest are not reported). */
#define PT_KRULE_HITS_MAX 4

enum pt_krule_flags {
    PT_KRULE_UID = 1 << 0,
    PT_KRULE_COMM = 1 << 1,
    PT_KRULE_ADDR = 1 << 2,
    PT_KRULE_PORT = 1 << 3,
    PT_KRULE_AUDIT = 1 << 4, /* report, do nothing */
};

/* Every term is tested, without a branch (templates/rules.bpf.c): a rule
 * without a uid or port term holds the whole range, one without an address
 * or a name an empty mask. Addresses and names are two 64-bit words under a
 * mask. The flags other than AUDIT say which terms were given, for -p. */
struct pt_krule {
    __u32 rule_id;
    __u32 flags;
    __u32 probe_mask; /* 1 << probe id */
    __u32 signal;
    __u32 uid_lo;
    __u32 uid_hi;
    __u16 port_lo;
    __u16 port_hi;
    __u32 pad;
    /* IPv4 as IPv4-mapped IPv6, host bits cleared, and its mask. */
    __u64 addr[2];
    __u64 addr_mask[2];
    /* The name's bytes (and its NUL, for a whole name), and which bytes
     * count: a prefix leaves the rest out. */
    __u64 comm[2];
    __u64 comm_mask[2];
};

struct pt_krules_ctl {
    __u32 bank; /* 0 or 1: the bank the programs read */
    __u32 n[2]; /* rules in each bank */
    __u32 daemon_tgid; /* never signalled, nor refused */
};

enum pt_rule_hit_flags {
    PT_RULE_HIT_AUDIT = 1 << 0,     /* audit: nothing done */
    PT_RULE_HIT_PROTECTED = 1 << 1, /* PID 1 or the daemon: nothing done */
    PT_RULE_HIT_REFUSED = 1 << 2,   /* the connect was refused (EPERM) */
    /* The program could not send the signal (a cgroup program on a kernel
     * without bpf_send_signal there): the daemon sends it. */
    PT_RULE_HIT_DAEMON_SIGNALS = 1 << 3,
};

struct pt_rule_event {
    struct pt_header h; /* PT_EV_RULE, the probe's id */
    __u32 rule_id;
    __u32 signal;
    __s32 result; /* bpf_send_signal's: 0, or a negative errno */
    __u32 flags;
};

#endif
