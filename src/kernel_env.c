#include "kernel_env.h"

#include "cgroup_hook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *const tracefs_paths[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

const char *kernel_env_tracefs(void)
{
    for (size_t i = 0; i < sizeof(tracefs_paths) / sizeof(tracefs_paths[0]); i++) {
        char probe[256];
        snprintf(probe, sizeof(probe), "%s/events", tracefs_paths[i]);
        if (access(probe, F_OK) == 0)
            return tracefs_paths[i];
    }
    return NULL;
}

int kernel_env_mount_tracefs(char *err, size_t errlen)
{
    if (access("/sys/kernel/debug/tracing", F_OK) != 0 &&
        mount("nodev", "/sys/kernel/debug", "debugfs", 0, NULL) != 0 && errno != EBUSY) {
        /* Not fatal: tracefs alone is enough for the daemon itself. */
    }
    if (kernel_env_tracefs())
        return 0;
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0) {
        int e = errno;
        snprintf(err, errlen,
                 "tracefs is not mounted and mounting it failed: %s; mount it with "
                 "'mount -t tracefs nodev /sys/kernel/tracing'",
                 strerror(e));
        return -e;
    }
    return 0;
}

bool kernel_env_has_tracepoint(const char *category_slash_name)
{
    const char *root = kernel_env_tracefs();
    if (!root)
        return false;
    char path[512];
    snprintf(path, sizeof(path), "%s/events/%s/format", root, category_slash_name);
    return access(path, R_OK) == 0;
}

bool kernel_env_has_kprobes(void)
{
    const char *root = kernel_env_tracefs();
    if (!root)
        return false;
    char path[512];
    snprintf(path, sizeof(path), "%s/kprobe_events", root);
    return access(path, F_OK) == 0;
}

int kernel_env_check_headers(char *err, size_t errlen)
{
    struct utsname u;
    if (uname(&u) != 0)
        return -errno;
    /* Debian splits headers: build/ holds the generated ones, source/ the
     * rest; other distributions put everything in build/. */
    char build[512], source[512];
    snprintf(build, sizeof(build), "/lib/modules/%s/build/include/linux/kconfig.h", u.release);
    snprintf(source, sizeof(source), "/lib/modules/%s/source/include/linux/kconfig.h", u.release);
    if (access(build, R_OK) == 0 || access(source, R_OK) == 0 || getenv("BCC_KERNEL_SOURCE"))
        return 0;
    snprintf(err, errlen,
             "no kernel headers for %s: BCC compiles the probes against "
             "/lib/modules/%s/build; install them with scripts/install-deps.sh "
             "(or the linux-headers package for this kernel)",
             u.release, u.release);
    return -ENOENT;
}

/* Why the tracepoint form cannot attach here, or NULL: a tracepoint this
 * kernel lacks, no cgroup v2 hierarchy, or cgroup hooks whose programs
 * may not ask for the current task (5.10 and 6.12's sock_ops). */
static const char *form_missing_tracepoint(const struct probe_ops *ops)
{
    static char why[256];
    char root[4096];
    for (size_t i = 0; i < ops->tracepoint_form.n_points; i++) {
        const struct probe_attach_point *ap = &ops->tracepoint_form.points[i];
        if ((ap->kind == PROBE_TRACEPOINT || ap->kind == PROBE_RAW_TRACEPOINT) &&
            !kernel_env_has_tracepoint(ap->target))
            return snprintf(why, sizeof(why), "tracepoint %s does not exist on this kernel",
                            ap->target) > 0
                       ? why
                       : ap->target;
        if (ap->kind == PROBE_CGROUP && cgroup_hook_root(root, sizeof(root)) < 0)
            return "no cgroup v2 hierarchy is mounted";
        const struct cgroup_hook *hook =
            ap->kind == PROBE_CGROUP ? cgroup_hook_find(ap->target) : NULL;
        if (hook && !cgroup_hook_has_task_helpers(hook))
            return "its cgroup hooks' programs may not read the current task's pid here";
    }
    return NULL;
}

/* A kprobe form made of uprobes alone (bashreadline) runs without kprobes. */
static bool form_needs_kprobes(const struct probe_ops *ops)
{
    for (size_t i = 0; i < ops->kprobe_form.n_points; i++)
        if (ops->kprobe_form.points[i].kind == PROBE_KPROBE ||
            ops->kprobe_form.points[i].kind == PROBE_KRETPROBE)
            return true;
    return false;
}

int kernel_env_choose_form(const struct probe_ops *ops, enum attach_mode wanted, bool probing,
                           enum attach_mode *chosen, char *err, size_t errlen)
{
    /* For the kernel-matrix tests: run a whole suite in one form without
     * editing its configs. Only `attach: auto` is overridden. */
    const char *forced = getenv("PIDTREE_FORCE_ATTACH");
    if (wanted == ATTACH_AUTO && forced)
        wanted = strcmp(forced, "kprobe") == 0       ? ATTACH_KPROBE
                 : strcmp(forced, "tracepoint") == 0 ? ATTACH_TRACEPOINT
                                                     : ATTACH_AUTO;
    if (!probing) {
        *chosen = wanted == ATTACH_KPROBE ? ATTACH_KPROBE : ATTACH_TRACEPOINT;
        return 0;
    }
    const char *missing = form_missing_tracepoint(ops);
    if (wanted == ATTACH_TRACEPOINT || (wanted == ATTACH_AUTO && !missing)) {
        if (missing) {
            snprintf(err, errlen, "probe '%s': its tracepoint form cannot attach: %s", ops->name,
                     missing);
            return -ENOENT;
        }
        *chosen = ATTACH_TRACEPOINT;
        return 0;
    }
    if (form_needs_kprobes(ops) && !kernel_env_has_kprobes()) {
        snprintf(err, errlen,
                 "probe '%s': %s; and this kernel has no kprobes (CONFIG_KPROBES) for its "
                 "kprobe form",
                 ops->name,
                 missing ? "its tracepoint form cannot attach" : "kprobe form requested");
        return -ENOTSUP;
    }
    *chosen = ATTACH_KPROBE;
    return 0;
}
