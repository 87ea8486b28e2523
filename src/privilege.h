/* privilege: least privilege once the probes are attached.
 *
 * Loading and attaching eBPF programs needs CAP_BPF and CAP_PERFMON (and
 * CAP_SYS_ADMIN to mount tracefs where nothing did); running the loop does
 * not. privilege_drop() keeps, in the effective and permitted sets, only
 *
 *   CAP_BPF              bpf() on the map descriptors already held: the
 *                        lost-event counters every tick, -w filter swaps.
 *                        Kernels before 6.5 with unprivileged BPF disabled
 *                        (Debian's default) refuse every bpf() command
 *                        without it. Kernels without CAP_BPF (before 5.8)
 *                        need CAP_SYS_ADMIN instead, which is then kept.
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
 * and only those of them the process had; it empties the inheritable and
 * ambient sets. The bounding set is left alone: a restart (SIGHUP, or a -w
 * change that cannot be swapped) re-executes the binary, which as root gets
 * the bounding set back to load the programs again; the ceiling is whatever
 * started the daemon allowed (the systemd unit's CapabilityBoundingSet, the
 * container's capabilities). */
#ifndef PIDTREE_PRIVILEGE_H
#define PIDTREE_PRIVILEGE_H

#include <stddef.h>

#include "error.h"

/* Drops every capability but the ones above. On success writes the kept
 * set in cap_to_text(3) form ("cap_sys_ptrace,cap_bpf=ep", "=" for none)
 * to `kept` and returns 0; on failure returns a negative errno, having
 * described it in `err`, and the process keeps what it had. */
int privilege_drop(char *kept, size_t kept_len, struct pt_error *err);

#endif
