#include "attach.h"

#include <bcc/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where every process is: cgroup programs attached here see the host. */
#define CGROUP_V2_ROOT "/sys/fs/cgroup/unified"

static int attach_tracepoint(int prog_fd, const char *target, struct attach_link *link)
{
    char category[64];
    const char *slash = strchr(target, '/');
    if (!slash || (size_t)(slash - target) >= sizeof(category))
        return -EINVAL;
    memcpy(category, target, (size_t)(slash - target));
    category[slash - target] = '\0';
    errno = 0;
    link->fd = bpf_attach_tracepoint(prog_fd, category, slash + 1);
    return link->fd < 0 ? -(errno ? errno : EINVAL) : 0;
}

static int attach_kprobe(int prog_fd, const struct probe_attach_point *ap, struct attach_link *link)
{
    enum bpf_probe_attach_type type =
        ap->kind == PROBE_KRETPROBE ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY;
    /* Named per daemon so two daemons (or a restart racing its old self)
     * never remove each other's kprobe events. */
    snprintf(link->event_name, sizeof(link->event_name), "pidtree_%s_%s_%d",
             type == BPF_PROBE_RETURN ? "r" : "p", ap->target, (int)getpid());
    errno = 0;
    link->fd = bpf_attach_kprobe(prog_fd, type, link->event_name, ap->target, 0, 0);
    if (link->fd < 0) {
        link->event_name[0] = '\0';
        return -(errno ? errno : EINVAL);
    }
    return 0;
}

/* A cgroup program through a BPF link (5.7+): closing the fd detaches it,
 * so a daemon that dies leaves no program behind to refuse connects. On
 * hosts where /sys/fs/cgroup is itself the v2 hierarchy, that is used. */
static int attach_cgroup(int prog_fd, const char *target, struct attach_link *link)
{
    union bpf_attr attr;
    const char *root =
        access(CGROUP_V2_ROOT "/cgroup.procs", F_OK) == 0 ? CGROUP_V2_ROOT : "/sys/fs/cgroup";
    int cgroup = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup < 0)
        return -errno;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (__u32)prog_fd;
    attr.link_create.target_fd = (__u32)cgroup;
    attr.link_create.attach_type =
        strcmp(target, "connect6") == 0 ? BPF_CGROUP_INET6_CONNECT : BPF_CGROUP_INET4_CONNECT;
    link->fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
    int e = errno;
    close(cgroup);
    return link->fd < 0 ? -e : 0;
}

static const char *kind_name(enum probe_attach_kind kind)
{
    static const char *const names[] = {"tracepoint", "kprobe", "kretprobe", "cgroup"};
    return names[kind];
}

int attach_link_create(int prog_fd, const struct probe_attach_point *ap, struct attach_link *link,
                       char *err, size_t errlen)
{
    memset(link, 0, sizeof(*link));
    link->fd = -1;
    link->kind = ap->kind;
    int ret = ap->kind == PROBE_TRACEPOINT ? attach_tracepoint(prog_fd, ap->target, link)
              : ap->kind == PROBE_CGROUP   ? attach_cgroup(prog_fd, ap->target, link)
                                           : attach_kprobe(prog_fd, ap, link);
    if (ret < 0)
        snprintf(err, errlen, "failed to attach %s %s: %s", kind_name(ap->kind), ap->target,
                 strerror(-ret));
    return ret;
}

void attach_link_destroy(struct attach_link *link)
{
    if (link->fd >= 0 && link->kind == PROBE_CGROUP)
        close(link->fd);
    else if (link->fd >= 0)
        bpf_close_perf_event_fd(link->fd);
    link->fd = -1;
    if (link->event_name[0]) {
        bpf_detach_kprobe(link->event_name);
        link->event_name[0] = '\0';
    }
}
