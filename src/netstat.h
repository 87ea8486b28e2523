/* netstat: sockets as /proc shows them, for what the kernel side cannot see
 * (listeners that existed before the daemon, sockets made before it). */
#ifndef PIDTREE_NETSTAT_H
#define PIDTREE_NETSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETSTAT_TCP_LISTEN 0x0A
#define NETSTAT_UDP_UNCONNECTED 0x07

struct netstat_entry {
    int family;        /* AF_INET or AF_INET6 */
    int protocol;      /* IPPROTO_TCP or IPPROTO_UDP */
    uint8_t laddr[16]; /* network order; IPv4 in the first 4 bytes */
    uint16_t lport;
    unsigned state;
    uint64_t inode;
};

/* Parses one data line of /proc/net/{tcp,tcp6,udp,udp6}. Returns 0 or
 * -EINVAL. */
int netstat_parse_line(const char *line, int family, int protocol, struct netstat_entry *out);

typedef int (*netstat_fn)(const struct netstat_entry *e, void *ctx);

/* Calls fn for each socket in `proc_net_dir` (e.g. "/proc/net" or
 * "/proc/PID/net") of the given protocol, both families. Stops early when fn
 * returns non-zero and returns that. */
int netstat_foreach(const char *proc_net_dir, int protocol, netstat_fn fn, void *ctx);

/* The inode of the socket behind /proc/PID/fd/FD, or 0. */
uint64_t netstat_fd_inode(const char *proc_root, pid_t pid, int fd);

/* Finds the entry for `inode` among a process's sockets of `protocol` (in
 * the process's own network namespace). Returns 0 or -ENOENT. */
int netstat_find_inode(const char *proc_root, pid_t pid, int protocol, uint64_t inode,
                       struct netstat_entry *out);

/* Maps socket inodes to the pid holding them, by scanning /proc/PID/fd.
 * `inodes` and `pids` have n entries; pids[i] is set (0 when no owner). */
void netstat_inode_owners(const char *proc_root, const uint64_t *inodes, pid_t *pids, size_t n);

/* The network namespace inode of a process (0 when unreadable). */
uint64_t netstat_netns(const char *proc_root, pid_t pid);

#endif
