/* rules_kernel: kernel rules into a module's maps (templates/rules.h).
 *
 * A rule the kernel can evaluate (src/rules.h, `kernel`) becomes a
 * struct pt_krule: its probes as a mask of probe ids, its terms (uid
 * range, comm or comm prefix, one network as IPv4-mapped IPv6 with its
 * mask, one port range), its signal, audit. The set is written into the
 * bank of pt_krules the programs do not read, then pt_krules_ctl switches
 * banks in one write: a program sees the old set or the new one, and a
 * failed write leaves the old one in force.
 */
#ifndef PIDTREE_RULES_KERNEL_H
#define PIDTREE_RULES_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rules.h"
#include "templates/pidtree_common.h"
#include "templates/rules.h"

struct strbuf;

/* A module's kernel-rule maps, and the probes it runs by id. */
struct rules_kernel {
    int rules_fd; /* pt_krules */
    int ctl_fd;   /* pt_krules_ctl */
    const char *const *probe_names;
    size_t n_probes;
    uint32_t daemon_tgid; /* never signalled */
    uint32_t bank;        /* the bank the programs read */
    uint32_t n[2];        /* rules in each bank */
};

/* The rule as the kernel holds it, for the probes of `rk` that evaluate
 * kernel rules. Returns 0, or -ENOENT when none of its probes runs here. */
int rules_kernel_encode(const struct rules_kernel *rk, const struct rule *r, struct pt_krule *out);

/* A rule_kernel_sync_fn (src/rule_engine.h) for `rk`. */
int rules_kernel_sync(void *rk, struct rule *const *rules, size_t n, bool *in_kernel,
                      struct pt_error *err);

/* -p: what the maps will hold, as a C comment: each kernel rule encoded,
 * and each rule left to the daemon with the reason. */
int rules_kernel_describe(const struct rules_kernel *rk, struct rule *const *rules, size_t n,
                          struct strbuf *out);

/* This kernel lets cgroup socket and sock_ops programs call
 * bpf_send_signal() (6.18 does, 6.1 does not): a tiny program of each type
 * is loaded to find out, once. True when that cannot be tried (no
 * privilege: -p as a user). */
bool rules_kernel_cgroup_can_signal(void);

#endif
