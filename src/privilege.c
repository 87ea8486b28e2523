#include "privilege.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>

/* Why each is kept: privilege.h. */
static const cap_value_t kept_caps[] = {CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_PTRACE,
                                        CAP_DAC_READ_SEARCH};

/* Before 5.8 the kernel has neither CAP_BPF nor CAP_PERFMON and asks for
 * CAP_SYS_ADMIN instead. */
static cap_value_t cap_on_this_kernel(cap_value_t cap)
{
    return (cap == CAP_BPF || cap == CAP_PERFMON) && !CAP_IS_SUPPORTED(cap) ? CAP_SYS_ADMIN : cap;
}

static bool cap_is_kept(cap_value_t cap, unsigned flags)
{
    if (cap == CAP_KILL && (flags & PRIVILEGE_KEEP_RULES))
        return true;
    for (size_t i = 0; i < sizeof(kept_caps) / sizeof(kept_caps[0]); i++)
        if (cap_on_this_kernel(kept_caps[i]) == cap)
            return true;
    return false;
}

/* The kept capabilities the process has now, in a set with nothing else. */
static cap_t kept_set(cap_t now, unsigned flags)
{
    cap_t next = cap_init();
    if (!next)
        return NULL;
    for (cap_value_t cap = 0; CAP_IS_SUPPORTED(cap); cap++) {
        cap_flag_value_t held = CAP_CLEAR;
        if (!cap_is_kept(cap, flags))
            continue;
        if (cap_get_flag(now, cap, CAP_PERMITTED, &held) < 0 ||
            (held == CAP_SET && (cap_set_flag(next, CAP_PERMITTED, 1, &cap, CAP_SET) < 0 ||
                                 cap_set_flag(next, CAP_EFFECTIVE, 1, &cap, CAP_SET) < 0))) {
            int e = errno;
            cap_free(next);
            errno = e;
            return NULL;
        }
    }
    return next;
}

/* Lowers the bounding set to the kept capabilities. Needs CAP_SETPCAP,
 * which a service manager may already have taken away along with the rest:
 * returns false when something beyond the kept set remains. */
static bool bounding_lower(unsigned flags)
{
    bool lowered = true;
    for (cap_value_t cap = 0; CAP_IS_SUPPORTED(cap); cap++)
        if (!cap_is_kept(cap, flags) && cap_get_bound(cap) == 1 && cap_drop_bound(cap) < 0)
            lowered = false;
    return lowered;
}

int privilege_drop(unsigned flags, char *kept, size_t kept_len, struct pt_error *err)
{
    int ret = 0;
    cap_t next = NULL;
    char *text = NULL;
    /* Best effort: without CAP_SYS_RESOURCE the limit stays as it is. */
    struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    (void)setrlimit(RLIMIT_MEMLOCK, &unlimited);
    cap_t now = cap_get_proc();
    if (!now) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot read the process's capabilities: %s",
                           strerror(errno));
        goto cleanup;
    }
    next = kept_set(now, flags);
    if (!next) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot build the kept capability set: %s",
                           strerror(errno));
        goto cleanup;
    }
    /* Bounding set first: lowering it takes CAP_SETPCAP, dropped next. */
    bool bounded = bounding_lower(flags);
    /* An empty inheritable set also empties the ambient set (capabilities(7)). */
    if (cap_set_proc(next) < 0) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot drop capabilities: %s", strerror(errno));
        goto cleanup;
    }
    text = cap_to_text(next, NULL);
    snprintf(kept, kept_len, "%s%s", text ? text : "?",
             bounded ? "" : " (bounding set not lowered: no CAP_SETPCAP)");
cleanup:
    cap_free(text);
    cap_free(next);
    cap_free(now);
    return ret;
}
