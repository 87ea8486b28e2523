/* pidtree_common.h: what the kernel side and the daemon share.
 *
 * Compiled twice: into the eBPF module (the renderer inlines it, with PT_BPF
 * defined) and into the daemon. Fixed-width types only, and every layout is
 * padded explicitly so both compilers agree on it.
 */
#ifndef PIDTREE_COMMON_H
#define PIDTREE_COMMON_H

#ifndef PT_BPF
#include <linux/types.h>
#endif

/* Probe ids index the shared filter and counter maps. Id 0 is the process
 * lifecycle program set, which every module carries. */
#define PT_PROCESS_PROBE_ID 0
#define PT_MAX_PROBES 16

/* What a config may hold in all its probes together: subnets (one LPM
 * trie for every probe) and words of subnet port bitmaps (64 ports each:
 * a range of 64,512 ports is 1,008 words; 16 subnets may each list every
 * port). The maps are twice as large, so that a -w swap can write the new
 * entries before it deletes the old ones. */
#define PT_MAX_SUBNETS 4096
#define PT_MAX_SUBNET_PORT_WORDS 16384
#define PT_PORT_WORDS 1024 /* 65536 ports, one bit each */

/* container_labels (src/container_filter.c): at most this many matching
 * containers at once, each a cgroup id mapped to the bits of the probes it
 * matches; the kernel looks for them this many levels down the current
 * task's cgroup v2 path. */
#define PT_MAX_CONTAINERS 8192
#define PT_CGROUP_MAX_LEVEL 16

/* Command lines captured at exec: the new program's arguments as the
 * kernel laid them out (NUL-separated), at most PT_ARGS_SIZE bytes. Longer
 * ones are marked truncated and the daemon reads the rest from /proc when
 * it still can. The path executed is kept up to PT_FILENAME_MAX bytes. */
#define PT_ARGS_SIZE 4096
#define PT_FILENAME_MAX 512

enum pt_event_type {
    PT_EV_FORK = 1,
    PT_EV_EXEC = 2, /* a successful exec, in the new program */
    PT_EV_EXIT = 4,
    PT_EV_RULE = 5,   /* a kernel rule matched (templates/rules.h) */
    PT_EV_PROBE = 16, /* a network probe's event; probe_id says which */
};

struct pt_header {
    __u16 type;
    __u16 probe_id;
    __u32 pid; /* thread group id: what userland calls a pid */
    __u32 tid;
    __u32 uid;
    __u64 boot_ns; /* bpf_ktime_get_boot_ns() */
};

/* The audit login uid (who logged in, kept across su and sudo) as the
 * kernel holds it: PT_LOGINUID_UNSET when no login set it, and
 * PT_LOGINUID_UNKNOWN when the module could not read it (no BTF). */
#define PT_LOGINUID_UNSET 0xffffffffu
#define PT_LOGINUID_UNKNOWN 0xfffffffeu

struct pt_fork_event {
    struct pt_header h;
    __u32 child_pid;
    __u32 loginuid; /* the parent's now, which the child inherits */
};

#define PT_NS_PID_UNKNOWN 0xffffffffu

/* Sent with only as many bytes of `args` as it holds. uid in the header is
 * the one the new program runs with (setuid applied). */
struct pt_exec_event {
    struct pt_header h;
    __u32 args_len;
    __u32 truncated;
    __u32 loginuid;
    /* The pid in the task's own (innermost) PID namespace: the one the
     * exec'd program sees; PT_NS_PID_UNKNOWN when the module could not read
     * it (no BTF), 0 in the initial namespace. */
    __u32 ns_pid;
    __u32 pad;
    __u32 filename_len; /* bytes in filename, without its NUL */
    char filename[PT_FILENAME_MAX];
    char args[PT_ARGS_SIZE];
};

struct pt_exit_event {
    struct pt_header h;
};

/* An address in one layout for both families: IPv4 uses addr[0..3]. */
struct pt_inet_addr {
    __u8 addr[16];
};

/* LPM trie key: the probe id (big-endian, always fully matched) followed by
 * the address, IPv4 written as IPv4-mapped IPv6 (::ffff:a.b.c.d) so that one
 * trie serves both families and v4-mapped peers of dual-stack sockets match
 * IPv4 filters. prefixlen = 32 + 128-bit-address prefix length. */
struct pt_subnet_key {
    __u32 prefixlen;
    __u8 probe_id_be[4];
    __u8 addr[16];
};

enum pt_subnet_mode {
    PT_SUBNET_DROP_ALL = 0,      /* every port of the subnet is filtered */
    PT_SUBNET_EXCEPT_PORTS = 1,  /* filtered unless the port is listed */
    PT_SUBNET_INCLUDE_PORTS = 2, /* filtered only when the port is listed */
};

struct pt_subnet_rule {
    __u32 rule_id; /* unique in the module; keys pt_subnet_ports */
    __u32 mode;
};

/* One 64-bit word of a rule's port bitmap: bit (port & 63) of the word
 * port >> 6. Words with no bit set are not stored. */
struct pt_subnet_port_key {
    __u32 rule_id;
    __u32 word;
};

#endif
