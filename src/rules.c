#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

/* Files read from one rules directory: each may hold many rules. */
#define RULES_DIR_FILES_MAX 256

static const char *const action_names[] = {"log", "kill", "interrupt", "stop"};

const char *rule_action_name(enum rule_action action)
{
    return (unsigned)action < sizeof(action_names) / sizeof(action_names[0]) ? action_names[action]
                                                                             : "?";
}

int rule_action_signal(enum rule_action action)
{
    switch (action) {
    case RULE_KILL:
        return SIGKILL;
    case RULE_INTERRUPT:
        return SIGINT;
    case RULE_STOP:
        return SIGSTOP;
    default:
        return 0;
    }
}

void rule_free(struct rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->description);
    free(r->file);
    for (size_t i = 0; i < r->n_probes; i++)
        free(r->probes[i]);
    free(r->probes);
    rule_cond_free(r->cond);
    json_decref(r->match);
    free(r);
}

void rule_list_release(struct rule_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        rule_free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int rule_list_push(struct rule_list *l, struct rule *r)
{
    struct rule **items = realloc(l->items, (l->n + 1) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    l->items = items;
    items[l->n++] = r;
    return 0;
}

int rule_list_take(struct rule_list *to, struct rule_list *from)
{
    if (!from->n)
        return 0;
    struct rule **items = realloc(to->items, (to->n + from->n) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    memcpy(items + to->n, from->items, from->n * sizeof(*items));
    to->items = items;
    to->n += from->n;
    free(from->items);
    from->items = NULL;
    from->n = 0;
    return 0;
}

struct rule *rule_list_find(const struct rule_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i]->name, name) == 0)
            return l->items[i];
    return NULL;
}

struct rule *rule_list_remove(struct rule_list *l, size_t i)
{
    struct rule *r = l->items[i];
    memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
    l->n--;
    return r;
}

int rule_list_check_names(const struct rule_list *l, struct pt_error *err)
{
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(l->items[i]->name, l->items[j]->name) == 0)
                return pt_error_set(err, EEXIST, l->items[i]->file, l->items[i]->line,
                                    "rule '%s' is already defined at %s:%d", l->items[i]->name,
                                    l->items[j]->file, l->items[j]->line);
    if (l->n > RULES_MAX)
        return pt_error_set(err, E2BIG, l->items[RULES_MAX]->file, l->items[RULES_MAX]->line,
                            "more than %d rules", RULES_MAX);
    return 0;
}

/* ---- one rule ---- */

struct rule_parse {
    rules_probe_fn find;
    void *find_ctx;
    struct rule *rule;
    struct pt_error *err;
};

__attribute__((format(printf, 4, 5))) static int
rule_fail(struct pt_error *err, const struct ynode *n, const char *path, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pt_error_set(err, EINVAL, n->file, n->line, "%s: %s", path, msg);
}

static bool name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > RULE_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int scalar_dup(struct pt_error *err, const struct ynode *v, const char *path, char **out)
{
    if (v->kind != Y_SCALAR)
        return rule_fail(err, v, path, "expected a string");
    if (!(*out = strdup(v->value)))
        return pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    return 0;
}

static int parse_probe_name(struct rule_parse *rp, const struct ynode *v, const char *path)
{
    struct rule *r = rp->rule;
    if (v->kind != Y_SCALAR || !rp->find(rp->find_ctx, v->value))
        return rule_fail(rp->err, v, path,
                         "'%s' is not a probe (built in, or in "
                         "--extra-probe-path)",
                         v->kind == Y_SCALAR ? v->value : "");
    for (size_t i = 0; i < r->n_probes; i++)
        if (strcmp(r->probes[i], v->value) == 0)
            return rule_fail(rp->err, v, path, "'%s' is named twice", v->value);
    char **probes = realloc(r->probes, (r->n_probes + 1) * sizeof(*probes));
    if (!probes)
        return pt_error_set(rp->err, ENOMEM, NULL, 0, "out of memory");
    r->probes = probes;
    return scalar_dup(rp->err, v, path, &r->probes[r->n_probes++]);
}

static int parse_probes(struct rule_parse *rp, const struct ynode *v, const char *path)
{
    if (v->kind == Y_SCALAR)
        return parse_probe_name(rp, v, path);
    if (v->kind != Y_SEQ || v->n == 0)
        return rule_fail(rp->err, v, path, "expected a probe name or a list of them");
    for (size_t i = 0; i < v->n; i++) {
        char sub[128];
        rule_path(sub, sizeof(sub), "%s[%zu]", path, i);
        int ret = parse_probe_name(rp, v->items[i], sub);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int parse_action(struct rule_parse *rp, const struct ynode *v, const char *path)
{
    for (size_t i = 0; v->kind == Y_SCALAR && i < sizeof(action_names) / sizeof(action_names[0]);
         i++) {
        if (strcmp(v->value, action_names[i]) == 0) {
            rp->rule->action = (enum rule_action)i;
            return 0;
        }
    }
    return rule_fail(rp->err, v, path, "expected log, kill, interrupt or stop");
}

static int parse_audit(struct rule_parse *rp, const struct ynode *v, const char *path)
{
    if (v->kind == Y_SCALAR && strcmp(v->value, "true") == 0)
        rp->rule->audit = true;
    else if (!(v->kind == Y_SCALAR && strcmp(v->value, "false") == 0))
        return rule_fail(rp->err, v, path, "expected true or false");
    return 0;
}

static const char *field_type_name(enum probe_field_type t)
{
    static const char *const names[] = {"", "string", "number", "address", "list"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void fields_list(const struct probe_ops *ops, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ops->n_fields && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", ops->fields[i].name);
}

/* One field across the rule's probes: every probe that declares its
 * fields must have it, with one type. */
static int field_lookup(void *ctx, const char *name, struct rule_field_info *info, char *why,
                        size_t whylen)
{
    struct rule_parse *rp = ctx;
    bool first = true;
    for (size_t p = 0; p < rp->rule->n_probes; p++) {
        const struct probe_ops *ops = rp->find(rp->find_ctx, rp->rule->probes[p]);
        if (!ops || !ops->fields)
            continue;
        const struct probe_field *f = NULL;
        for (size_t i = 0; i < ops->n_fields && !f; i++)
            if (strcmp(ops->fields[i].name, name) == 0)
                f = &ops->fields[i];
        if (!f) {
            char list[512];
            fields_list(ops, list, sizeof(list));
            snprintf(why, whylen,
                     "probe '%s' has no field '%s' (its fields: %s; every event's: pid, uid, "
                     "comm, cmdline, username, depth, ancestor)",
                     ops->name, name, list);
            return -ENOENT;
        }
        if (!first && f->type != info->type) {
            snprintf(why, whylen, "'%s' is a %s in probe '%s' but a %s in another", name,
                     field_type_name(f->type), ops->name, field_type_name(info->type));
            return -EINVAL;
        }
        /* The kernel can test it only where every probe hands it over. */
        info->kernel = first || info->kernel == f->kernel ? f->kernel : PROBE_KERNEL_NONE;
        info->type = f->type;
        first = false;
    }
    return 0;
}

static int parse_match(struct rule_parse *rp, const struct ynode *v, const char *path)
{
    if (!rp->rule->n_probes)
        return rule_fail(rp->err, v, path, "give the rule's probes before its match");
    int ret = rule_cond_compile(v, path, field_lookup, rp, &rp->rule->cond, rp->err);
    if (ret == 0 && !(rp->rule->match = ynode_to_json(v)))
        ret = pt_error_set(rp->err, ENOMEM, NULL, 0, "out of memory");
    return ret;
}

/* The kernel can act for it: a signal, and conditions every one of its
 * probes' kernel programs can test. */
static void rule_classify(struct rule_parse *rp)
{
    struct rule *r = rp->rule;
    r->kernel = false;
    if (r->action == RULE_LOG) {
        r->why_daemon = "log: nothing for the kernel to do";
        return;
    }
    if (!rule_cond_kernel_terms(r->cond, &r->kterms)) {
        r->why_daemon = "conditions the kernel cannot test (it tests, all together, uid, comm or "
                        "a comm prefix, one network of the probe's address, one port range)";
        return;
    }
    for (size_t p = 0; p < r->n_probes; p++) {
        const struct probe_ops *ops = rp->find(rp->find_ctx, r->probes[p]);
        if (!ops || !ops->kernel_rules) {
            r->why_daemon = "a probe whose programs do not evaluate kernel rules";
            return;
        }
    }
    r->kernel = true;
    r->why_daemon = NULL;
}

static int parse_entry(struct rule_parse *rp, const struct ynode *key, const struct ynode *v,
                       const char *path)
{
    struct rule *r = rp->rule;
    char sub[160];
    rule_path(sub, sizeof(sub), "%s.%s", path, key->value);
    if (strcmp(key->value, "name") == 0) {
        if (v->kind != Y_SCALAR || !name_valid(v->value))
            return rule_fail(rp->err, v, sub,
                             "expected at most %d letters, digits, '-', '_' or '.'", RULE_NAME_MAX);
        return scalar_dup(rp->err, v, sub, &r->name);
    }
    if (strcmp(key->value, "description") == 0)
        return scalar_dup(rp->err, v, sub, &r->description);
    if (strcmp(key->value, "probes") == 0 || strcmp(key->value, "probe") == 0)
        return parse_probes(rp, v, sub);
    if (strcmp(key->value, "action") == 0)
        return parse_action(rp, v, sub);
    if (strcmp(key->value, "audit") == 0)
        return parse_audit(rp, v, sub);
    if (strcmp(key->value, "match") == 0)
        return 0; /* after the probes, whatever the order written */
    return rule_fail(rp->err, key, sub,
                     "unknown key (a rule has name, probes, match, action, audit, description)");
}

static int parse_rule(rules_probe_fn find, void *find_ctx, const struct ynode *n, const char *path,
                      struct rule **out, struct pt_error *err)
{
    if (n->kind != Y_MAP)
        return rule_fail(err, n, path,
                         "expected a rule: a mapping with name, probes, match and "
                         "action");
    struct rule *r = calloc(1, sizeof(*r));
    if (!r || !(r->file = strdup(n->file ? n->file : "")))
        return free(r), pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    r->line = n->line;
    struct rule_parse rp = {find, find_ctx, r, err};
    int ret = 0;
    for (size_t i = 0; i < n->n && ret == 0; i += 2)
        ret = parse_entry(&rp, n->items[i], n->items[i + 1], path);
    if (ret == 0 && !r->name)
        ret = rule_fail(err, n, path, "a rule needs a name");
    if (ret == 0 && !r->n_probes)
        ret = rule_fail(err, n, path, "rule '%s' names no probes (probes: [tcp_connect, ...])",
                        r->name);
    const struct ynode *match = ynode_map_get(n, "match");
    if (ret == 0 && match) {
        char sub[160];
        rule_path(sub, sizeof(sub), "%s.match", path);
        ret = parse_match(&rp, match, sub);
    }
    if (ret < 0) {
        rule_free(r);
        return ret;
    }
    rule_classify(&rp);
    *out = r;
    return 0;
}

/* ---- files ---- */

/* Rules read (when `ret` is 0) join `out` if their names are unique. */
static int list_commit(struct rule_list *got, struct rule_list *out, int ret, struct pt_error *err)
{
    if (ret == 0)
        ret = rule_list_check_names(got, err);
    if (ret == 0 && rule_list_take(out, got) < 0)
        ret = pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    rule_list_release(got);
    return ret;
}

static int parse_tree(const struct yaml_tree *t, const char *name, rules_probe_fn find,
                      void *find_ctx, struct rule_list *out, struct pt_error *err)
{
    const struct ynode *root = t->root;
    const struct ynode *rules = ynode_map_get(root, "rules");
    for (size_t i = 0; root->kind == Y_MAP && i < root->n; i += 2) {
        const char *k = root->items[i]->value;
        if (strcmp(k, "rules") != 0 && k[0] != '_')
            return rule_fail(err, root->items[i], k,
                             "unknown key (a rule file has 'rules:', and keys starting with _ "
                             "for anchors)");
    }
    if (!rules || rules->kind != Y_SEQ)
        return pt_error_set(err, EINVAL, name, rules ? rules->line : 1,
                            "expected 'rules:' with a list of rules");
    struct rule_list got = {0};
    int ret = 0;
    for (size_t i = 0; i < rules->n && ret == 0; i++) {
        char path[32];
        struct rule *r = NULL;
        rule_path(path, sizeof(path), "rules[%zu]", i);
        ret = parse_rule(find, find_ctx, rules->items[i], path, &r, err);
        if (ret == 0 && rule_list_push(&got, r) < 0) {
            rule_free(r);
            ret = pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
        }
    }
    return list_commit(&got, out, ret, err);
}

int rules_load_string(const char *text, size_t len, const char *name, rules_probe_fn find,
                      void *find_ctx, struct rule_list *out, struct pt_error *err)
{
    struct yaml_tree t;
    int ret = yaml_tree_load_string(text, len, name, &t, NULL, err);
    if (ret < 0)
        return ret;
    ret = parse_tree(&t, name, find, find_ctx, out, err);
    yaml_tree_release(&t);
    return ret;
}

int rules_load_file(const char *path, rules_probe_fn find, void *find_ctx, struct rule_list *out,
                    struct pt_error *err)
{
    struct yaml_tree t;
    int ret = yaml_tree_load_file(path, &t, NULL, err);
    if (ret < 0)
        return ret;
    ret = parse_tree(&t, path, find, find_ctx, out, err);
    yaml_tree_release(&t);
    return ret;
}

static bool rule_file_name(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && ((len > 4 && strcmp(name + len - 4, ".yml") == 0) ||
                              (len > 5 && strcmp(name + len - 5, ".yaml") == 0));
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rule files' names, sorted. */
static int dir_list(const char *dir, char ***names, size_t *n, struct pt_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return pt_error_set(err, errno, dir, 0, "cannot read the rules directory: %s",
                            strerror(errno));
    struct dirent *de;
    int ret = 0;
    while ((de = readdir(d))) {
        if (!rule_file_name(de->d_name))
            continue;
        if (*n == RULES_DIR_FILES_MAX) {
            ret = pt_error_set(err, E2BIG, dir, 0, "more than %d rule files", RULES_DIR_FILES_MAX);
            break;
        }
        char **grown = realloc(*names, (*n + 1) * sizeof(**names));
        if (grown)
            *names = grown;
        if (!grown || !(grown[*n] = strdup(de->d_name))) {
            ret = pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (ret == 0 && *n)
        qsort(*names, *n, sizeof(**names), name_cmp);
    return ret;
}

int rules_load_dir(const char *dir, rules_probe_fn find, void *find_ctx, struct rule_list *out,
                   struct pt_error *err)
{
    char **names;
    size_t n;
    int ret = dir_list(dir, &names, &n, err);
    struct rule_list got = {0};
    for (size_t i = 0; i < n && ret == 0; i++) {
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
            ret = pt_error_set(err, ENAMETOOLONG, dir, 0, "path too long: %s", names[i]);
        else
            ret = rules_load_file(path, find, find_ctx, &got, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return list_commit(&got, out, ret, err);
}
