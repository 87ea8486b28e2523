#include "netstat.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* /proc/net prints each 32-bit word of an address as a host-order hex
 * number; on a little-endian host "0100007F" is 127.0.0.1. */
static int hex_address(const char *hex, size_t nwords, uint8_t *out)
{
    for (size_t w = 0; w < nwords; w++) {
        char word[9];
        memcpy(word, hex + w * 8, 8);
        word[8] = '\0';
        char *end;
        uint32_t v = (uint32_t)strtoul(word, &end, 16);
        if (*end)
            return -EINVAL;
        memcpy(out + w * 4, &v, 4);
    }
    return 0;
}

int netstat_parse_line(const char *line, int family, int protocol, struct netstat_entry *out)
{
    char laddr[64], raddr[64];
    unsigned lport, state;
    unsigned long long inode;
    /* sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode */
    if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %63[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u %*u %llu",
               laddr, &lport, raddr, &state, &inode) != 5)
        return -EINVAL;
    size_t nwords = family == AF_INET ? 1 : 4;
    if (strlen(laddr) != nwords * 8 || lport > 65535)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (hex_address(laddr, nwords, out->laddr) < 0)
        return -EINVAL;
    out->family = family;
    out->protocol = protocol;
    out->lport = (uint16_t)lport;
    out->state = state;
    out->inode = inode;
    return 0;
}

static int netstat_file(const char *path, int family, int protocol, netstat_fn fn, void *ctx)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno; /* no IPv6 on this host */
    char line[512];
    int ret = 0;
    if (!fgets(line, sizeof(line), f)) /* the header */
        goto out;
    while (ret == 0 && fgets(line, sizeof(line), f)) {
        struct netstat_entry e;
        if (netstat_parse_line(line, family, protocol, &e) == 0)
            ret = fn(&e, ctx);
    }
out:
    fclose(f);
    return ret;
}

int netstat_foreach(const char *proc_net_dir, int protocol, netstat_fn fn, void *ctx)
{
    const char *name = protocol == IPPROTO_TCP ? "tcp" : "udp";
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", proc_net_dir, name);
    int ret = netstat_file(path, AF_INET, protocol, fn, ctx);
    if (ret != 0)
        return ret;
    snprintf(path, sizeof(path), "%s/%s6", proc_net_dir, name);
    return netstat_file(path, AF_INET6, protocol, fn, ctx);
}

static uint64_t socket_link_inode(const char *link_path)
{
    char target[64];
    ssize_t n = readlink(link_path, target, sizeof(target) - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    unsigned long long inode;
    return sscanf(target, "socket:[%llu]", &inode) == 1 ? inode : 0;
}

uint64_t netstat_fd_inode(const char *proc_root, pid_t pid, int fd)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%d/fd/%d", proc_root, (int)pid, fd);
    return socket_link_inode(path);
}

struct inode_search {
    uint64_t inode;
    struct netstat_entry *out;
};

static int match_inode(const struct netstat_entry *e, void *ctx)
{
    struct inode_search *s = ctx;
    if (e->inode != s->inode)
        return 0;
    *s->out = *e;
    return 1;
}

int netstat_find_inode(const char *proc_root, pid_t pid, int protocol, uint64_t inode,
                       struct netstat_entry *out)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/%d/net", proc_root, (int)pid);
    struct inode_search s = {inode, out};
    return inode && netstat_foreach(dir, protocol, match_inode, &s) == 1 ? 0 : -ENOENT;
}

static void owners_of_pid(const char *proc_root, pid_t pid, const uint64_t *inodes, pid_t *pids,
                          size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%d/fd", proc_root, (int)pid);
    DIR *fds = opendir(path);
    if (!fds)
        return;
    struct dirent *de;
    while ((de = readdir(fds))) {
        if (de->d_name[0] == '.')
            continue;
        char link[512];
        snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
        uint64_t inode = socket_link_inode(link);
        for (size_t i = 0; inode && i < n; i++)
            if (inodes[i] == inode && !pids[i])
                pids[i] = pid;
    }
    closedir(fds);
}

void netstat_inode_owners(const char *proc_root, const uint64_t *inodes, pid_t *pids, size_t n)
{
    memset(pids, 0, n * sizeof(*pids));
    DIR *proc = opendir(proc_root);
    if (!proc)
        return;
    struct dirent *de;
    while ((de = readdir(proc))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        owners_of_pid(proc_root, (pid_t)pid, inodes, pids, n);
    }
    closedir(proc);
}

uint64_t netstat_netns(const char *proc_root, pid_t pid)
{
    char path[256];
    struct stat st;
    if (pid)
        snprintf(path, sizeof(path), "%s/%d/ns/net", proc_root, (int)pid);
    else
        snprintf(path, sizeof(path), "%s/self/ns/net", proc_root);
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}
