/* rule_engine: the rules in force, applied to every event.
 *
 * Holds the rules read from --rules-dir and those added with `ctl add`,
 * matches each event of the probes they name against the ones the daemon
 * evaluates, acts (a signal to the event's process), and returns the marks
 * its line carries as "rules". Rules the kernel evaluates (src/rules.h,
 * `kernel`) are handed to a kernel sink (src/rules_kernel.h) whenever the
 * set changes; their hits come back as PT_EV_RULE records, which are
 * counted and mark the event that follows them.
 *
 * A change (a new rules directory, `ctl add`, `ctl rm`) is all or nothing:
 * when it is invalid or the kernel refuses it, the rules in force stay.
 *
 * PID 1 and the daemon itself are never signalled. A process is signalled
 * through a pidfd, and only if it started before the event (a pid reused
 * since is left alone).
 */
#ifndef PIDTREE_RULE_ENGINE_H
#define PIDTREE_RULE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rules.h"

struct proc_cache;
struct rule_engine;

/* NULL when out of memory. */
struct rule_engine *rule_engine_new(void);
void rule_engine_free(struct rule_engine *re);

/* Installs the kernel side of `rules` (n of them, in order): writes the
 * ones it can and sets in_kernel[i] for each. Returns 0, or a negative
 * errno with `err` set, and then the kernel keeps what it had. */
typedef int (*rule_kernel_sync_fn)(void *ctx, struct rule *const *rules, size_t n, bool *in_kernel,
                                   struct pt_error *err);

/* Where kernel rules go (NULL: every rule is evaluated by the daemon). The
 * current set is installed at once. Returns 0 or a negative errno. */
int rule_engine_set_kernel(struct rule_engine *re, rule_kernel_sync_fn fn, void *ctx,
                           struct pt_error *err);

/* The probes of the running daemon, by id (NULL where none): records name
 * the probe by id. The names are copied. */
void rule_engine_bind(struct rule_engine *re, const char *const *names, size_t n);

/* Replaces the rules read from --rules-dir by `rules`, which are taken on
 * success. A name also added with `ctl add` is refused. */
int rule_engine_set_dir_rules(struct rule_engine *re, struct rule_list *rules,
                              struct pt_error *err);
/* Adds rules (`ctl add`), taken on success. A rule with the name of one
 * added earlier with ctl replaces it; a name from --rules-dir is refused. */
int rule_engine_add(struct rule_engine *re, struct rule_list *rules, struct pt_error *err);
/* Removes the named rules, all or none (an unknown name fails). */
int rule_engine_remove(struct rule_engine *re, const char *const *names, size_t n,
                       struct pt_error *err);

size_t rule_engine_count(const struct rule_engine *re);
/* The i-th rule in force (the rules directory's first), or NULL. */
struct rule *rule_engine_rule(const struct rule_engine *re, size_t i);

struct rule_event {
    uint32_t probe_id;
    const char *probe;
    uint32_t pid;
    uint32_t tid; /* 0 when the event is not a record (a session's end) */
    uint32_t uid;
    uint64_t boot_ns;
    json_t *fields;           /* the probe's fields */
    struct proc_cache *cache; /* for tree conditions */
};

/* Matches the event, acts, and returns the marks for its line (a new
 * reference to an array of {name, action, by, result}), or NULL when no
 * rule matched. */
json_t *rule_engine_judge(struct rule_engine *re, const struct rule_event *ev);

/* A PT_EV_RULE record from the kernel. */
void rule_engine_kernel_hit(struct rule_engine *re, const void *data, size_t size);

/* `ctl ls`: the rules in force, each with where it is evaluated and its
 * counts. New reference or NULL. */
json_t *rule_engine_list(const struct rule_engine *re);

/* Rule hits and actions taken for a probe, by name, since the start. */
void rule_engine_probe_counts(const struct rule_engine *re, const char *probe, uint64_t *hits,
                              uint64_t *actions);

#endif
