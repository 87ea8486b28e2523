#include "cgroup_hook.h"

#include <errno.h>
#include <linux/bpf.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

static const struct cgroup_hook hooks[] = {
    {"sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE},
    {"post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND},
    {"post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND},
    {"bind4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND},
    {"bind6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_BIND},
    {"connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT},
    {"connect6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT},
    {"sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG},
    {"sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG},
    {"sock_ops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS},
};

const struct cgroup_hook *cgroup_hook_find(const char *name)
{
    for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
        if (strcmp(hooks[i].name, name) == 0)
            return &hooks[i];
    return NULL;
}

int cgroup_hook_root(char *path, size_t len)
{
    FILE *f = setmntent("/proc/self/mounts", "r");
    if (!f)
        return -errno;
    int ret = -ENOENT;
    struct mntent *m;
    while (ret < 0 && (m = getmntent(f)))
        if (strcmp(m->mnt_type, "cgroup2") == 0 && strlen(m->mnt_dir) < len) {
            snprintf(path, len, "%s", m->mnt_dir);
            ret = 0;
        }
    endmntent(f);
    return ret;
}

int cgroup_hook_mount_root(char *err, size_t errlen)
{
    char path[4096];
    if (cgroup_hook_root(path, sizeof(path)) == 0)
        return 0;
    if ((mkdir("/run/pidtree-bcc", 0700) < 0 && errno != EEXIST) ||
        (mkdir(PIDTREE_CGROUP2_MOUNT, 0700) < 0 && errno != EEXIST) ||
        mount("cgroup2", PIDTREE_CGROUP2_MOUNT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
            0) {
        int e = errno;
        snprintf(err, errlen,
                 "no cgroup v2 hierarchy is mounted, and mounting one at %s failed: %s",
                 PIDTREE_CGROUP2_MOUNT, strerror(e));
        return -e;
    }
    return 0;
}
