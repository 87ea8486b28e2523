#include "privilege.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

/* Why each is kept: privilege.h. CAP_BPF stands for "whatever lets bpf()
 * through" and becomes CAP_SYS_ADMIN on kernels that predate it. */
static const cap_value_t kept_caps[] = {CAP_BPF, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};

static cap_value_t cap_effective_name(cap_value_t cap)
{
    return cap == CAP_BPF && !CAP_IS_SUPPORTED(CAP_BPF) ? CAP_SYS_ADMIN : cap;
}

/* The kept capabilities the process has now, in a set with nothing else. */
static cap_t kept_set(cap_t now)
{
    cap_t next = cap_init();
    if (!next)
        return NULL;
    for (size_t i = 0; i < sizeof(kept_caps) / sizeof(kept_caps[0]); i++) {
        cap_value_t cap = cap_effective_name(kept_caps[i]);
        cap_flag_value_t held = CAP_CLEAR;
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

int privilege_drop(char *kept, size_t kept_len, struct pt_error *err)
{
    int ret = 0;
    cap_t next = NULL;
    char *text = NULL;
    cap_t now = cap_get_proc();
    if (!now) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot read the process's capabilities: %s",
                           strerror(errno));
        goto cleanup;
    }
    next = kept_set(now);
    if (!next) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot build the kept capability set: %s",
                           strerror(errno));
        goto cleanup;
    }
    /* An empty inheritable set also empties the ambient set (capabilities(7)). */
    if (cap_set_proc(next) < 0) {
        ret = pt_error_set(err, errno, NULL, 0, "cannot drop capabilities: %s", strerror(errno));
        goto cleanup;
    }
    text = cap_to_text(next, NULL);
    snprintf(kept, kept_len, "%s", text ? text : "?");
cleanup:
    cap_free(text);
    cap_free(next);
    cap_free(now);
    return ret;
}
