#include "attach.h"

#include <bcc/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup_hook.h"

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

/* A cgroup hook at the root of the v2 hierarchy, through a BPF link: the
 * program is detached when the link's last fd closes, so a daemon that
 * dies leaves nothing attached (BPF_PROG_ATTACH would keep it there). */
static int attach_cgroup(int prog_fd, const char *target, struct attach_link *link)
{
    const struct cgroup_hook *hook = cgroup_hook_find(target);
    char root[4096];
    if (!hook)
        return -EINVAL;
    int ret = cgroup_hook_root(root, sizeof(root));
    if (ret < 0)
        return ret;
    int cgroup_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_fd < 0)
        return -errno;
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (__u32)prog_fd;
    attr.link_create.target_fd = (__u32)cgroup_fd;
    attr.link_create.attach_type = (__u32)hook->attach_type;
    link->fd = (int)syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
    ret = link->fd < 0 ? -errno : 0;
    close(cgroup_fd);
    return ret;
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
        snprintf(err, errlen, "failed to attach %s %s: %s", probe_attach_kind_name(ap->kind),
                 ap->target, strerror(-ret));
    return ret;
}

void attach_link_destroy(struct attach_link *link)
{
    if (link->fd >= 0 && link->kind == PROBE_CGROUP) {
        close(link->fd);
        link->fd = -1;
    } else if (link->fd >= 0) {
        bpf_close_perf_event_fd(link->fd);
        link->fd = -1;
    }
    if (link->event_name[0]) {
        bpf_detach_kprobe(link->event_name);
        link->event_name[0] = '\0';
    }
}
