/* cgroup_hook: the cgroup v2 socket hooks a probe can attach to.
 *
 * Syscall tracepoints put every syscall of every task on the kernel's
 * slow path as soon as one of them is attached, so a tracer built on them
 * taxes work it has no interest in. A cgroup socket program runs only where
 * its hook is (an inet socket being released, bound, sending a datagram),
 * and attached at the root of the v2 hierarchy it sees every process. A
 * hook is named in a probe's attach points as "cgroup/NAME". */
#ifndef PIDTREE_CGROUP_HOOK_H
#define PIDTREE_CGROUP_HOOK_H

#include <stdbool.h>
#include <stddef.h>

struct cgroup_hook {
    const char *name; /* e.g. "sock_release" */
    int prog_type;    /* enum bpf_prog_type */
    int attach_type;  /* enum bpf_attach_type, also the expected attach type */
};

/* The hook called `name` ("sock_release", not "cgroup/sock_release"), or
 * NULL. */
const struct cgroup_hook *cgroup_hook_find(const char *name);

/* Whether the kernel lets programs on `hook` ask for the current task's
 * pid and uid, which every probe's record carries: 6.18 does for all of
 * them, 5.10 and 6.12 not for sock_ops. Found by loading a three-
 * instruction program once per program type. Returns false only when the
 * verifier refused it (EINVAL); other failures (no privilege for -p) leave
 * the answer to the real load. */
bool cgroup_hook_has_task_helpers(const struct cgroup_hook *hook);

/* The cgroup v2 mount point to attach at: the first cgroup2 mount in
 * /proc/self/mounts, copied into `path`. Returns 0, or -ENOENT when none is
 * mounted. */
int cgroup_hook_root(char *path, size_t len);

/* Mounts the cgroup v2 hierarchy at PIDTREE_CGROUP2_MOUNT when none is
 * mounted, so that hosts on cgroup v1 alone can still attach. Returns 0 or
 * a negative errno with a message. */
#define PIDTREE_CGROUP2_MOUNT "/run/pidtree-bcc/cgroup2"
int cgroup_hook_mount_root(char *err, size_t errlen);

#endif
