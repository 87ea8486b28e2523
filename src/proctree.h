/* proctree: process ancestry, from a cache fed by kernel events with /proc as
 * the base.
 *
 * The original read /proc when an event arrived, so a process (or a parent)
 * that had already exited left a hole in the tree. Here the kernel reports
 * every fork, exec and exit through the same ring buffer as the network
 * events, in the order they happened; applying them to this cache before a
 * network event is processed gives the tree exactly as it was when the event
 * fired, whether or not the processes still exist.
 *
 * Entries are reference counted: a process that exited stays in the cache for
 * as long as a cached descendant still points at it, so a long-lived orphan
 * keeps its real ancestry. Children point at their parent entry, never at a
 * pid, so pid reuse cannot graft a process onto the wrong tree.
 */
#ifndef PIDTREE_PROCTREE_H
#define PIDTREE_PROCTREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proc_cache;

/* `proc_root` is "/proc" in production, a fake tree in tests. NULL with errno
 * on failure. */
struct proc_cache *proc_cache_new(const char *proc_root);
void proc_cache_free(struct proc_cache *cache);

/* Reads every /proc/PID into the cache (start-up, and after the kernel
 * reported lost events). Entries for pids that /proc no longer lists are
 * marked exited; entries whose start time differs from /proc are replaced.
 * Returns the number of processes seen, or a negative errno. */
int proc_cache_scan(struct proc_cache *cache);

/* Kernel events, applied in the order they happened. `boot_ns` is the
 * kernel's boot-time clock at the event (bpf_ktime_get_boot_ns). A new
 * process inherits its parent's command line until it execs. */
void proc_cache_fork(struct proc_cache *cache, uint32_t parent_pid, uint32_t child_pid,
                     uint32_t uid, uint64_t boot_ns);
/* `args` holds the arguments as the kernel read them, each NUL-terminated;
 * `truncated` says the kernel stopped before the last one. */
void proc_cache_exec(struct proc_cache *cache, uint32_t pid, uint32_t uid, const char *args,
                     size_t args_len, int truncated);
void proc_cache_exit(struct proc_cache *cache, uint32_t pid);
/* The process's pid in its own PID namespace as the kernel read it at
 * exec: 0 for the daemon's (initial) namespace. PROC_NS_PID_UNKNOWN when
 * the kernel could not say: /proc then tells whether it is in another
 * namespace, and its pid there is read from /proc when first needed. */
#define PROC_NS_PID_UNKNOWN UINT32_MAX
void proc_cache_set_ns_pid(struct proc_cache *cache, uint32_t pid, uint32_t ns_pid);
/* The process's uid at a network event (it may have changed with setuid
 * since exec). */
void proc_cache_set_uid(struct proc_cache *cache, uint32_t pid, uint32_t uid);
/* The uid the cache holds for `pid`: 0, or -ENOENT when not cached. */
int proc_cache_uid(struct proc_cache *cache, uint32_t pid, uint32_t *uid);

/* The audit login uid of `pid` as the kernel reported it at fork or exec
 * (inherited from the parent at fork), or as /proc showed it when the
 * process was read from there. Returns 0 with *loginuid set, or -ENOENT
 * when the process is not cached or no login set one. */
void proc_cache_set_loginuid(struct proc_cache *cache, uint32_t pid, uint32_t loginuid);
int proc_cache_loginuid(struct proc_cache *cache, uint32_t pid, uint32_t *loginuid);

/* The container and PID namespace of `pid` (read from /proc when not
 * cached): `id` and `runtime` from its cgroup, NULL for a host process;
 * `ns_pid` its pid in its own PID namespace when that is not the daemon's,
 * else 0. Read at /proc scans and at exec, inherited at fork; the strings
 * live until the process's next exec or exit. Returns 0 or -ENOENT. */
struct proc_container {
    const char *id;
    const char *runtime;
    uint32_t ns_pid;
};
int proc_cache_container(struct proc_cache *cache, uint32_t pid, struct proc_container *out);

/* Builds `proctree`: a JSON array from `pid` up to PID 1, each entry
 * {"pid", "cmdline", "username"}, with "ns_pid" (after "pid") for a process
 * in another PID namespace than the daemon's, and "truncated": true when
 * the command line was cut. A pid not in the cache is read from /proc (and cached). When
 * the chain breaks (a process gone from both), the array holds what was
 * found and *error (never NULL on return) says what is missing, e.g.
 * "process 1234 not found"; otherwise *error is "". Returns a new
 * reference, or NULL on allocation failure. */
json_t *proc_cache_tree(struct proc_cache *cache, uint32_t pid, const char **error);

/* The same, in at most `max_bytes` of entry text: when the entries do not
 * fit, those from the middle of the chain are left out (the process's end
 * and the root's end are kept) and *truncated is set. */
json_t *proc_cache_tree_bounded(struct proc_cache *cache, uint32_t pid, size_t max_bytes,
                                const char **error, bool *truncated);

/* The same tree as proc_cache_tree_bounded, written by `w`: the entries'
 * text is cached between events. Returns 0 or -ENOMEM. */
struct json_writer;
int proc_cache_tree_text(struct proc_cache *cache, uint32_t pid, size_t max_bytes,
                         struct json_writer *w, const char **error, bool *truncated);

/* Command lines longer than this are cut (on a UTF-8 boundary) and marked
 * "truncated": the tree of a deep chain of huge command lines stays small. */
#define PROC_CACHE_DEFAULT_MAX_CMDLINE 4096
void proc_cache_set_max_cmdline(struct proc_cache *cache, size_t max_bytes);

/* Number of entries (live and exited) held, for memory bounds and tests. */
size_t proc_cache_size(const struct proc_cache *cache);

/* Turns a NUL-separated argument block into one line joined by spaces, with
 * a trailing NUL dropped. The result is raw bytes (not yet UTF-8 checked).
 * Returns a malloc'd string or NULL. */
char *proc_args_join(const char *args, size_t len);

/* Parsers of /proc/PID/stat and /proc/PID/status text (NUL-terminated),
 * pure so that they can be fuzzed. proc_parse_stat writes "[comm]" into
 * `comm` (a kernel thread's command line) and the parent pid and start time
 * (field 22); proc_parse_status_uid the real uid. Each returns 0 or -EINVAL. */
int proc_parse_stat(const char *stat, uint32_t *ppid, uint64_t *start, char *comm, size_t commlen);
int proc_parse_status_uid(const char *status, uint32_t *uid);
/* The NSpid line: the pid in the process's own namespace and how many
 * namespaces it is listed in (1: the reader's). -ENOENT without the line
 * (kernels before 4.1), -EINVAL when malformed. */
int proc_parse_status_nspid(const char *status, uint32_t *ns_pid, int *levels);

/* Name for `uid` from the passwd database, or its decimal form when it has
 * none; cached. The result is valid until the cache is freed. */
const char *proc_cache_username(struct proc_cache *cache, uint32_t uid);

#endif
