/* rule_match: the conditions of a rule (README, "Rules"), compiled from
 * YAML and matched against one event.
 *
 * A condition is a mapping whose entries must all hold:
 *
 *   FIELD: VALUE           the event's FIELD compared with VALUE, by the
 *                          field's type: a string with a glob (fnmatch(3);
 *                          equality when VALUE has no * ? [); a number
 *                          with N or "LOW-HIGH" (inclusive); an address
 *                          with "ADDR" or "ADDR/LEN" (an IPv4 network also
 *                          matches IPv4-mapped IPv6 addresses, as filters
 *                          do)
 *   FIELD: [V1, V2]        any of the values
 *   LIST: {CONDITION}      some element of a list field satisfies the
 *                          condition (`ancestor`, udp_session's
 *                          `destinations`)
 *   all: [COND, ...]       every condition holds
 *   any: [COND, ...]       at least one holds
 *   not: COND              the condition does not hold
 *
 * Fields of every event: pid, uid, comm (the task's name), cmdline and
 * username (the process's own, from its tree), depth (how many ancestors
 * it has: 0 for PID 1) and ancestor (the tree above the process: each
 * entry has pid, cmdline and username). The probe's own fields come from
 * its field table (probe.h), which also says which of them its kernel
 * programs hand to kernel rules.
 *
 * Pure: no kernel, no /proc. The subject supplies the tree and the comm
 * through callbacks, called only when a condition needs them.
 */
#ifndef PIDTREE_RULE_MATCH_H
#define PIDTREE_RULE_MATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "probe.h"
#include "yaml_tree.h"

struct rule_field_info {
    enum probe_field_type type; /* 0: unknown, typed from the value compared */
    enum probe_field_kernel kernel;
};

/* Finds a probe field (not one of every event's) for the probes a rule
 * names. Returns 0 and fills `info`, or a negative errno with the reason in
 * `why` (-ENOENT: no such field; -EINVAL: the probes disagree on it). */
typedef int (*rule_field_fn)(void *ctx, const char *name, struct rule_field_info *info, char *why,
                             size_t whylen);

struct rule_cond;

/* snprintf for the field paths of messages ("rules[0].match.port"): a path
 * too long for `buf` is cut. */
void rule_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Compiles the condition `n` (a mapping; `path` names it in messages, e.g.
 * "rules[0].match"). Returns 0 and sets *out, or a negative errno with the
 * file, line and field in `err`. */
int rule_cond_compile(const struct ynode *n, const char *path, rule_field_fn lookup, void *ctx,
                      struct rule_cond **out, struct pt_error *err);
void rule_cond_free(struct rule_cond *c);

/* The event a condition is matched against. */
struct rule_subject {
    uint32_t pid;
    uint32_t uid;
    json_t *fields; /* the probe's fields (borrowed) */
    /* The process tree (an array of {pid, cmdline, username}, the process
     * first), borrowed; NULL when unknown. Called at most once per match
     * call that needs it; the caller may cache. */
    json_t *(*tree)(void *ctx);
    /* The task's comm, or NULL when unknown. */
    const char *(*comm)(void *ctx);
    void *ctx;
};

/* True when `c` holds for the subject. NULL holds for every event. */
bool rule_cond_match(const struct rule_cond *c, const struct rule_subject *s);

/* What a kernel rule can test at the event (templates/rules.h): uid,
 * comm (whole or a prefix), one address network, one port range. */
enum {
    RULE_KT_UID = 1u << 0,
    RULE_KT_COMM = 1u << 1,
    RULE_KT_COMM_PREFIX = 1u << 2,
    RULE_KT_ADDR = 1u << 3,
    RULE_KT_PORT = 1u << 4,
};

#define RULE_KT_COMM_MAX 16 /* TASK_COMM_LEN, with its NUL */

struct rule_kernel_terms {
    unsigned flags;
    uint32_t uid_lo, uid_hi;
    char comm[RULE_KT_COMM_MAX];
    size_t comm_len;
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefixlen;
    uint16_t port_lo, port_hi;
};

/* True when the kernel can evaluate `c` at the event, and then fills
 * `out`: a conjunction of at most one test each on uid, comm, the probe's
 * kernel address and its kernel port, without lists, `any` or `not`. */
bool rule_cond_kernel_terms(const struct rule_cond *c, struct rule_kernel_terms *out);

#endif
