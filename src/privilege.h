/* privilege: least privilege once the probes are attached.
 *
 * Loading and attaching eBPF programs needs CAP_BPF and CAP_PERFMON,
 * CAP_NET_ADMIN for cgroup socket programs (and
 * CAP_SYS_ADMIN to mount tracefs where nothing did, CAP_SYS_RESOURCE for
 * RLIMIT_MEMLOCK before 5.11); running the loop needs less. privilege_drop()
 * keeps, in the effective, permitted and bounding sets, only
 *
 *   CAP_BPF              bpf() on the map descriptors already held (the
 *                        lost-event counters every tick, -w filter swaps;
 *                        kernels before 6.5 with unprivileged BPF disabled,
 *                        Debian's default, refuse every bpf() command
 *                        without it), and loading programs again on a
 *                        restart (SIGHUP, or a -w change that cannot be
 *                        swapped), which starts a new set of probes beside
 *                        the running one in this process and a new
 *                        compiler helper, which inherits the bounding set.
 *   CAP_PERFMON          attaching those programs on a restart
 *                        (perf_event_open on tracepoints and kprobes).
 *   CAP_NET_ADMIN        loading and attaching cgroup socket programs
 *                        (net_listen, udp_session) on a restart: the
 *                        kernel asks for it for those program types.
 *   CAP_SYS_PTRACE       /proc/PID/fd/N and /proc/PID/ns/net (net_listen
 *                        finds a socket's owner and network namespace) of
 *                        other users' processes and of any process holding
 *                        capabilities the daemon no longer has, such as
 *                        every ordinary root process: a ptrace-mode check
 *                        wants the target's permitted set to be a subset
 *                        of the caller's. Also /proc under hidepid.
 *   CAP_DAC_READ_SEARCH  listing /proc/PID/fd, mode 0500 and owned by the
 *                        process's user, for those same lookups.
 *
 * and, with rules on (PRIVILEGE_KEEP_RULES),
 *
 *   CAP_KILL             a rule's kill, interrupt or stop sent by the daemon
 *                        to another user's process (kernel rules need
 *                        nothing: bpf_send_signal() acts as the task).
 *
 * and only those of them the process had; kernels without CAP_BPF and
 * CAP_PERFMON (before 5.8) get CAP_SYS_ADMIN kept in their place. It empties
 * the inheritable and ambient sets. Lowering the bounding set means nothing
 * this process executes later gets a dropped capability back. RLIMIT_MEMLOCK
 * is raised to unlimited first (where permitted), so that a restart's
 * compiler, which inherits it, needs no CAP_SYS_RESOURCE on old kernels. */
#ifndef PIDTREE_PRIVILEGE_H
#define PIDTREE_PRIVILEGE_H

#include <stddef.h>

#include "error.h"

/* Flags for privilege_drop(). */
#define PRIVILEGE_KEEP_RULES (1u << 0)

/* Drops every capability but the ones above. On success writes the kept
 * set in cap_to_text(3) form ("cap_sys_ptrace,cap_bpf=ep", "=" for none)
 * to `kept`, followed by a note when the bounding set could not be lowered
 * (no CAP_SETPCAP), and returns 0; on failure returns a negative errno,
 * having described it in `err`. */
int privilege_drop(unsigned flags, char *kept, size_t kept_len, struct pt_error *err);

#endif
