#include "cgroup_hook.h"

#include <errno.h>
#include <linux/bpf.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

bool cgroup_hook_has_task_helpers(const struct cgroup_hook *hook)
{
    static int known[64]; /* by program type: 0 unknown, 1 yes, 2 no */
    if (hook->prog_type < 0 || hook->prog_type >= 64)
        return true;
    if (known[hook->prog_type])
        return known[hook->prog_type] == 1;
    struct bpf_insn insns[] = {
        {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_current_pid_tgid},
        {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_current_uid_gid},
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = (__u32)hook->prog_type;
    attr.expected_attach_type = (__u32)hook->attach_type;
    attr.insns = (__u64)(unsigned long)insns;
    attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
    attr.license = (__u64)(unsigned long)"GPL";
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (fd >= 0) {
        close(fd);
        known[hook->prog_type] = 1;
    } else if (errno == EINVAL) {
        known[hook->prog_type] = 2;
    }
    return fd >= 0 || errno != EINVAL;
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
