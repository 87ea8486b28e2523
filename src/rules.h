/* rules: rule files (README, "Rules"), read with the config's hardened
 * YAML loader (src/yaml_tree.c) into rules whose conditions are compiled
 * (src/rule_match.h):
 *
 *   rules:
 *     - name: no-metadata          # letters, digits, - _ . ; unique
 *       probes: [tcp_connect]      # or one name
 *       match: {daddr: 169.254.169.254, port: 80}
 *       action: kill               # log (the default), kill, interrupt, stop
 *       audit: false               # true: write what it would do, do nothing
 *       description: free text
 *
 * Rules are security settings: an unknown key, a probe that does not
 * exist, a field the probe's events do not have, a value of the wrong type
 * is an error naming the file, line and field, never a warning.
 */
#ifndef PIDTREE_RULES_H
#define PIDTREE_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "probe.h"
#include "rule_match.h"

/* Rules loaded at once, all sources together: every event is matched
 * against each daemon rule in turn. */
#define RULES_MAX 1024
#define RULE_NAME_MAX 64

enum rule_action {
    RULE_LOG = 0, /* the line is marked with the rule's name */
    RULE_KILL,
    RULE_INTERRUPT,
    RULE_STOP,
};

struct rule {
    char *name;
    char *description; /* may be NULL */
    char *file;        /* where it was written, for messages and `ctl ls` */
    int line;
    char **probes;
    size_t n_probes;
    struct rule_cond *cond; /* NULL: every event of its probes */
    json_t *match;          /* the condition as written, for `ctl ls` */
    enum rule_action action;
    bool audit;
    /* Its action is a signal and its conditions are ones the kernel can
     * evaluate at the event, for probes whose programs do (kernel_rules):
     * it is compiled into the kernel programs (src/rules_kernel.h). */
    bool kernel;
    struct rule_kernel_terms kterms;
    const char *why_daemon; /* why not `kernel` (static text) */
    bool from_ctl;          /* added with `ctl add`, not read from --rules-dir */
    uint32_t id;            /* set when installed (src/rule_engine.h) */
};

struct rule_list {
    struct rule **items;
    size_t n;
};

/* How rules find the probes they name: the daemon's probe registry. */
typedef const struct probe_ops *(*rules_probe_fn)(void *ctx, const char *name);

/* Parses a rule file's text; `name` is its path, for messages and relative
 * includes. Appends its rules to `out` (nothing on failure). Returns 0 or a
 * negative errno with the file, line and field in `err`. */
int rules_load_string(const char *text, size_t len, const char *name, rules_probe_fn find,
                      void *find_ctx, struct rule_list *out, struct pt_error *err);
int rules_load_file(const char *path, rules_probe_fn find, void *find_ctx, struct rule_list *out,
                    struct pt_error *err);
/* Every *.yml and *.yaml file in `dir` (not hidden ones), in name order:
 * all or nothing. Rule names must be unique across them. */
int rules_load_dir(const char *dir, rules_probe_fn find, void *find_ctx, struct rule_list *out,
                   struct pt_error *err);

/* Moves every rule of `from` to the end of `to`; returns 0 or -ENOMEM
 * (then nothing moved). */
int rule_list_take(struct rule_list *to, struct rule_list *from);
/* The rule named `name`, or NULL. */
struct rule *rule_list_find(const struct rule_list *l, const char *name);
/* Takes the rule at `i` out of the list (the caller frees it). */
struct rule *rule_list_remove(struct rule_list *l, size_t i);
/* Fails with both places when two rules share a name. */
int rule_list_check_names(const struct rule_list *l, struct pt_error *err);
void rule_list_release(struct rule_list *l);
void rule_free(struct rule *r);

const char *rule_action_name(enum rule_action action);
/* The signal an action sends, 0 for log. */
int rule_action_signal(enum rule_action action);

#endif
