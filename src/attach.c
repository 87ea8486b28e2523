#include "attach.h"

#include <bcc/bcc_syms.h>
#include <bcc/libbpf.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdlib.h>
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

/* Attached by the tracepoint's name alone: raw tracepoints have no
 * category. Detached when the fd closes. */
static int attach_raw_tracepoint(int prog_fd, const char *target, struct attach_link *link)
{
    const char *slash = strchr(target, '/');
    if (!slash || !slash[1])
        return -EINVAL;
    errno = 0;
    link->fd = bpf_attach_raw_tracepoint(prog_fd, slash + 1);
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

/* Where SYMBOL is in BINARY, as a file offset: BCC's ELF reader, which
 * libbcc_bpf carries (no LLVM). Debug files are not consulted: the symbols
 * a uprobe needs are the exported ones. */
static int symbol_offset(const char *binary, const char *symbol, uint64_t *offset)
{
    struct bcc_symbol_option opt = {.use_debug_file = 0,
                                    .check_debug_file_crc = 0,
                                    .lazy_symbolize = 1,
                                    .use_symbol_type = (1 << STT_FUNC) | (1 << STT_GNU_IFUNC)};
    struct bcc_symbol sym = {0};
    if (access(binary, R_OK) < 0)
        return -errno;
    int ret = bcc_resolve_symname(binary, symbol, 0, 0, &opt, &sym);
    free((char *)sym.module);
    if (ret < 0)
        return -ENODATA;
    *offset = sym.offset;
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

int attach_uprobe_offset(const char *target, uint64_t *offset)
{
    const char *colon = strrchr(target, ':');
    char binary[4096];
    if (!colon || colon == target || !colon[1] || (size_t)(colon - target) >= sizeof(binary))
        return -EINVAL;
    snprintf(binary, sizeof(binary), "%.*s", (int)(colon - target), target);
    return symbol_offset(binary, colon + 1, offset);
}

static int attach_uprobe(int prog_fd, const struct probe_attach_point *ap, const char *target,
                         struct attach_link *link)
{
    enum bpf_probe_attach_type type =
        ap->kind == PROBE_URETPROBE ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY;
    uint64_t offset = 0;
    int ret = attach_uprobe_offset(target, &offset);
    if (ret < 0)
        return ret;
    char binary[4096];
    snprintf(binary, sizeof(binary), "%.*s", (int)(strrchr(target, ':') - target), target);
    static unsigned seq;
    /* Named per daemon and per link, as kprobe events are. */
    snprintf(link->event_name, sizeof(link->event_name), "pidtree_%s_%d_%u",
             type == BPF_PROBE_RETURN ? "ur" : "up", (int)getpid(), seq++);
    errno = 0;
    link->fd = bpf_attach_uprobe(prog_fd, type, link->event_name, binary, offset, -1, 0);
    if (link->fd < 0) {
        link->event_name[0] = '\0';
        return -(errno ? errno : EINVAL);
    }
    return 0;
}

int attach_link_create(int prog_fd, const struct probe_attach_point *ap, const char *target,
                       struct attach_link *link, char *err, size_t errlen)
{
    memset(link, 0, sizeof(*link));
    link->fd = -1;
    link->kind = ap->kind;
    bool user = ap->kind == PROBE_UPROBE || ap->kind == PROBE_URETPROBE;
    int ret = ap->kind == PROBE_TRACEPOINT       ? attach_tracepoint(prog_fd, target, link)
              : ap->kind == PROBE_RAW_TRACEPOINT ? attach_raw_tracepoint(prog_fd, target, link)
              : ap->kind == PROBE_CGROUP         ? attach_cgroup(prog_fd, target, link)
              : user                             ? attach_uprobe(prog_fd, ap, target, link)
                                                 : attach_kprobe(prog_fd, ap, link);
    if (ret < 0)
        snprintf(err, errlen, "failed to attach %s %s: %s", probe_attach_kind_name(ap->kind),
                 target,
                 user && ret == -ENODATA  ? "no such symbol in the binary"
                 : user && ret == -EINVAL ? "not BINARY:SYMBOL"
                                          : strerror(-ret));
    return ret;
}

void attach_link_destroy(struct attach_link *link)
{
    if (link->fd >= 0 && (link->kind == PROBE_CGROUP || link->kind == PROBE_RAW_TRACEPOINT)) {
        close(link->fd);
        link->fd = -1;
    } else if (link->fd >= 0) {
        bpf_close_perf_event_fd(link->fd);
        link->fd = -1;
    }
    if (link->event_name[0]) {
        if (link->kind == PROBE_UPROBE || link->kind == PROBE_URETPROBE)
            bpf_detach_uprobe(link->event_name);
        else
            bpf_detach_kprobe(link->event_name);
        link->event_name[0] = '\0';
    }
}
