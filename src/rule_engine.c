#include "rule_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jsonutil.h"
#include "proctree.h"
#include "templates/pidtree_common.h"
#include "templates/rules.h"

/* Kernel hits waiting for the event they belong to (it follows them in the
 * ring buffer, from the same thread). */
#define PENDING_HITS 64
/* A hit this much older than an event is not that event's. */
#define PENDING_MAX_AGE_NS 1000000000ull
/* Probes counted by name, over restarts that change the set. */
#define PROBE_COUNTS_MAX (2 * PT_MAX_PROBES)

struct engine_rule {
    struct rule *rule;
    bool in_kernel;
    uint64_t hits;
    uint64_t actions;
};

struct pending_hit {
    uint32_t tid;
    uint32_t probe_id;
    uint64_t boot_ns;
    json_t *mark; /* NULL: free slot */
};

struct probe_count {
    char name[64];
    uint64_t hits;
    uint64_t actions;
};

struct rule_engine {
    struct engine_rule *rules; /* --rules-dir ones first, then ctl's */
    size_t n;
    uint32_t next_id;
    rule_kernel_sync_fn sync;
    void *sync_ctx;
    char *probe_names[PT_MAX_PROBES];
    struct probe_count counts[PROBE_COUNTS_MAX];
    size_t n_counts;
    struct pending_hit pending[PENDING_HITS];
    unsigned pending_next;
    pid_t self;
};

struct rule_engine *rule_engine_new(void)
{
    struct rule_engine *re = calloc(1, sizeof(*re));
    if (!re)
        return NULL;
    re->next_id = 1;
    re->self = getpid();
    return re;
}

void rule_engine_free(struct rule_engine *re)
{
    if (!re)
        return;
    for (size_t i = 0; i < re->n; i++)
        rule_free(re->rules[i].rule);
    free(re->rules);
    for (size_t i = 0; i < PT_MAX_PROBES; i++)
        free(re->probe_names[i]);
    for (size_t i = 0; i < PENDING_HITS; i++)
        json_decref(re->pending[i].mark);
    free(re);
}

void rule_engine_bind(struct rule_engine *re, const char *const *names, size_t n)
{
    for (size_t i = 0; i < PT_MAX_PROBES; i++) {
        free(re->probe_names[i]);
        re->probe_names[i] = i < n && names[i] ? strdup(names[i]) : NULL;
    }
}

size_t rule_engine_count(const struct rule_engine *re)
{
    return re->n;
}

struct rule *rule_engine_rule(const struct rule_engine *re, size_t i)
{
    return i < re->n ? re->rules[i].rule : NULL;
}

static struct probe_count *probe_count(struct rule_engine *re, const char *probe)
{
    for (size_t i = 0; i < re->n_counts; i++)
        if (strcmp(re->counts[i].name, probe) == 0)
            return &re->counts[i];
    if (re->n_counts == PROBE_COUNTS_MAX)
        return NULL;
    struct probe_count *pc = &re->counts[re->n_counts++];
    snprintf(pc->name, sizeof(pc->name), "%s", probe);
    return pc;
}

void rule_engine_probe_counts(const struct rule_engine *re, const char *probe, uint64_t *hits,
                              uint64_t *actions)
{
    *hits = *actions = 0;
    for (size_t i = 0; i < re->n_counts; i++) {
        if (strcmp(re->counts[i].name, probe) == 0) {
            *hits = re->counts[i].hits;
            *actions = re->counts[i].actions;
        }
    }
}

static void count_hit(struct rule_engine *re, struct engine_rule *er, const char *probe, bool acted)
{
    struct probe_count *pc = probe ? probe_count(re, probe) : NULL;
    if (er) {
        er->hits++;
        er->actions += acted;
    }
    if (pc) {
        pc->hits++;
        pc->actions += acted;
    }
}

/* ---- changing the set ---- */

/* Makes `next` the set in force if the kernel takes it; the array in force
 * before is then the caller's to free. On failure nothing changes and
 * `next` is the caller's to free. */
static int engine_install(struct rule_engine *re, struct engine_rule *next, size_t n,
                          struct pt_error *err)
{
    struct rule **rules = calloc(n + 1, sizeof(*rules));
    bool *in_kernel = calloc(n + 1, sizeof(*in_kernel));
    int ret = rules && in_kernel ? 0 : pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    for (size_t i = 0; i < n && ret == 0; i++)
        rules[i] = next[i].rule;
    if (ret == 0 && re->sync)
        ret = re->sync(re->sync_ctx, rules, n, in_kernel, err);
    if (ret == 0) {
        for (size_t i = 0; i < n; i++)
            next[i].in_kernel = in_kernel[i];
        re->rules = next;
        re->n = n;
    }
    free(rules);
    free(in_kernel);
    return ret;
}

int rule_engine_set_kernel(struct rule_engine *re, rule_kernel_sync_fn fn, void *ctx,
                           struct pt_error *err)
{
    re->sync = fn;
    re->sync_ctx = ctx;
    struct engine_rule *same = calloc(re->n + 1, sizeof(*same));
    if (!same)
        return pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    if (re->n) /* no memcpy from NULL: an empty set has no array */
        memcpy(same, re->rules, re->n * sizeof(*same));
    struct engine_rule *old = re->rules;
    int ret = engine_install(re, same, re->n, err);
    free(ret < 0 ? same : old);
    return ret;
}

static struct engine_rule *engine_find(const struct rule_engine *re, const char *name)
{
    for (size_t i = 0; i < re->n; i++)
        if (strcmp(re->rules[i].rule->name, name) == 0)
            return &re->rules[i];
    return NULL;
}

static void ids_assign(struct rule_engine *re, struct rule_list *rules)
{
    for (size_t i = 0; i < rules->n; i++)
        rules->items[i]->id = re->next_id++;
}

/* The rules of `old` that `next` no longer holds are freed. */
static void free_dropped(struct engine_rule *old, size_t n_old, const struct engine_rule *next,
                         size_t n_next)
{
    for (size_t i = 0; i < n_old; i++) {
        bool kept = false;
        for (size_t j = 0; j < n_next && !kept; j++)
            kept = next[j].rule == old[i].rule;
        if (!kept)
            rule_free(old[i].rule);
    }
}

/* Installs `next` and, on success, frees what it dropped and empties the
 * caller's list (its rules are in `next`). */
static int engine_commit(struct rule_engine *re, struct engine_rule *next, size_t n,
                         struct rule_list *taken, struct pt_error *err)
{
    if (n > RULES_MAX) {
        free(next);
        return pt_error_set(err, E2BIG, NULL, 0, "more than %d rules", RULES_MAX);
    }
    struct engine_rule *old = re->rules;
    size_t n_old = re->n;
    int ret = engine_install(re, next, n, err);
    if (ret < 0) {
        free(next);
        return ret;
    }
    free_dropped(old, n_old, next, n);
    free(old);
    if (taken) {
        free(taken->items);
        taken->items = NULL;
        taken->n = 0;
    }
    return 0;
}

/* New rules must not take the name of a rule in force from the other
 * source (the rules directory, or ctl). */
static int names_check(const struct rule_engine *re, const struct rule_list *rules, bool from_ctl,
                       struct pt_error *err)
{
    int ret = rule_list_check_names(rules, err);
    for (size_t i = 0; i < rules->n && ret == 0; i++) {
        const struct rule *r = rules->items[i];
        struct engine_rule *er = engine_find(re, r->name);
        if (er && er->rule->from_ctl != from_ctl)
            ret = pt_error_set(err, EEXIST, r->file, r->line,
                               from_ctl ? "rule '%s' is defined in the rules directory (%s:%d)"
                                        : "rule '%s' was added with ctl add (%s:%d); rm it first",
                               r->name, er->rule->file, er->rule->line);
    }
    return ret;
}

/* The room for the set after a change that brings `rules`, checked and
 * numbered; NULL with `err` set when the change is refused. */
static struct engine_rule *change_begin(struct rule_engine *re, struct rule_list *rules,
                                        bool from_ctl, struct pt_error *err)
{
    if (names_check(re, rules, from_ctl, err) < 0)
        return NULL;
    struct engine_rule *next = calloc(rules->n + re->n + 1, sizeof(*next));
    if (!next) {
        pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
        return NULL;
    }
    ids_assign(re, rules);
    return next;
}

int rule_engine_set_dir_rules(struct rule_engine *re, struct rule_list *rules, struct pt_error *err)
{
    struct engine_rule *next = change_begin(re, rules, false, err);
    if (!next)
        return -EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < rules->n; i++)
        next[n++].rule = rules->items[i];
    for (size_t i = 0; i < re->n; i++)
        if (re->rules[i].rule->from_ctl)
            next[n++] = re->rules[i];
    return engine_commit(re, next, n, rules, err);
}

int rule_engine_add(struct rule_engine *re, struct rule_list *rules, struct pt_error *err)
{
    struct engine_rule *next = change_begin(re, rules, true, err);
    if (!next)
        return -EINVAL;
    if (re->n)
        memcpy(next, re->rules, re->n * sizeof(*next));
    size_t n = re->n;
    for (size_t i = 0; i < rules->n; i++) {
        struct engine_rule fresh = {.rule = rules->items[i]};
        fresh.rule->from_ctl = true;
        size_t at = n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(next[j].rule->name, fresh.rule->name) == 0)
                at = j;
        next[at] = fresh;
        n += at == n;
    }
    return engine_commit(re, next, n, rules, err);
}

int rule_engine_remove(struct rule_engine *re, const char *const *names, size_t n_names,
                       struct pt_error *err)
{
    for (size_t i = 0; i < n_names; i++)
        if (!engine_find(re, names[i]))
            return pt_error_set(err, ENOENT, NULL, 0, "no rule named '%s'", names[i]);
    struct engine_rule *next = calloc(re->n + 1, sizeof(*next));
    if (!next)
        return pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < re->n; i++) {
        bool drop = false;
        for (size_t j = 0; j < n_names && !drop; j++)
            drop = strcmp(re->rules[i].rule->name, names[j]) == 0;
        if (!drop)
            next[n++] = re->rules[i];
    }
    return engine_commit(re, next, n, NULL, err);
}

/* ---- acting ---- */

/* Started after the event: the pid was reused, not the process to act on.
 * /proc/PID/stat's start time and the event share the boot clock. */
static bool started_after(uint32_t pid, uint64_t event_boot_ns)
{
    char path[64], buf[1024], comm[64];
    uint32_t ppid;
    uint64_t start;
    snprintf(path, sizeof(path), "/proc/%u/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    if (proc_parse_stat(buf, &ppid, &start, comm, sizeof(comm)) < 0)
        return true;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick_ns = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
    return start * tick_ns > event_boot_ns + tick_ns;
}

static const char *signal_result(int ret, char *buf, size_t len)
{
    if (ret == 0)
        return "done";
    if (errno == ESRCH)
        return "gone";
    snprintf(buf, len, "failed: %s", strerror(errno));
    return buf;
}

/* Sends `sig` to the event's process; says what came of it. Through a
 * pidfd, so that the process checked is the one signalled; where there is
 * no pidfd_open (kernels before 5.3, valgrind), kill() after the same
 * check. */
static const char *signal_process(const struct rule_engine *re, uint32_t pid, uint64_t boot_ns,
                                  int sig, char *buf, size_t len)
{
    if (pid <= 1 || pid == (uint32_t)re->self)
        return "protected";
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0 && errno != ENOSYS)
        return signal_result(-1, buf, len);
    if (started_after(pid, boot_ns)) {
        if (fd >= 0)
            close(fd);
        return "gone";
    }
    if (fd < 0)
        return signal_result(kill((pid_t)pid, sig), buf, len);
    const char *result =
        signal_result((int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0), buf, len);
    close(fd);
    return result;
}

static json_t *mark_new(const char *name, enum rule_action action, const char *by,
                        const char *result)
{
    json_t *m = json_object();
    if (m && (json_object_set_new(m, "name", json_string(name)) ||
              json_object_set_new(m, "action", json_string(rule_action_name(action))) ||
              json_object_set_new(m, "by", json_string(by)) ||
              json_object_set_new(m, "result", json_string(result)))) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static bool rule_names_probe(const struct rule *r, const char *probe)
{
    for (size_t i = 0; i < r->n_probes; i++)
        if (strcmp(r->probes[i], probe) == 0)
            return true;
    return false;
}

/* What the conditions of one event's rules share: its tree and its comm,
 * fetched once, when a condition first needs them. */
struct judge_ctx {
    const struct rule_event *ev;
    json_t *tree;
    bool tree_done;
    char comm[32];
    int comm_state; /* 0: not read, 1: read, -1: unknown */
};

static json_t *judge_tree(void *ctx)
{
    struct judge_ctx *jc = ctx;
    if (!jc->tree_done && jc->ev->cache) {
        const char *error;
        jc->tree = proc_cache_tree(jc->ev->cache, jc->ev->pid, &error);
    }
    jc->tree_done = true;
    return jc->tree;
}

static const char *judge_comm(void *ctx)
{
    struct judge_ctx *jc = ctx;
    if (jc->comm_state == 0) {
        char path[64];
        if (jc->ev->tid)
            snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", jc->ev->pid, jc->ev->tid);
        else
            snprintf(path, sizeof(path), "/proc/%u/comm", jc->ev->pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, jc->comm, sizeof(jc->comm) - 1) : -1;
        if (fd >= 0)
            close(fd);
        jc->comm_state = n > 0 ? 1 : -1;
        if (n > 0)
            jc->comm[jc->comm[n - 1] == '\n' ? n - 1 : n] = '\0';
    }
    return jc->comm_state == 1 ? jc->comm : NULL;
}

static int marks_push(json_t **marks, json_t *mark)
{
    if (!mark)
        return -ENOMEM;
    if (!*marks && !(*marks = json_array())) {
        json_decref(mark);
        return -ENOMEM;
    }
    return json_array_append_new(*marks, mark) ? -ENOMEM : 0;
}

static void judge_rule(struct rule_engine *re, struct engine_rule *er, const struct rule_event *ev,
                       json_t **marks)
{
    const struct rule *r = er->rule;
    char buf[128];
    const char *result = "done";
    int sig = rule_action_signal(r->action);
    if (r->audit && sig)
        result = "audit";
    else if (sig)
        result = signal_process(re, ev->pid, ev->boot_ns, sig, buf, sizeof(buf));
    count_hit(re, er, ev->probe, sig && strcmp(result, "done") == 0);
    if (marks_push(marks, mark_new(r->name, r->action, "daemon", result)) < 0)
        fprintf(stderr, "pidtree-bcc: rule '%s': out of memory marking the event\n", r->name);
}

/* The kernel's hits on this event: recorded just before it, by its thread. */
static void take_pending(struct rule_engine *re, const struct rule_event *ev, json_t **marks)
{
    for (size_t i = 0; i < PENDING_HITS && ev->tid; i++) {
        struct pending_hit *p = &re->pending[i];
        if (!p->mark || p->tid != ev->tid || p->probe_id != ev->probe_id ||
            p->boot_ns > ev->boot_ns || ev->boot_ns - p->boot_ns > PENDING_MAX_AGE_NS)
            continue;
        if (marks_push(marks, p->mark) < 0)
            fprintf(stderr, "pidtree-bcc: out of memory marking an event\n");
        p->mark = NULL;
    }
}

json_t *rule_engine_judge(struct rule_engine *re, const struct rule_event *ev)
{
    json_t *marks = NULL;
    take_pending(re, ev, &marks);
    struct judge_ctx jc = {.ev = ev};
    struct rule_subject s = {.pid = ev->pid,
                             .uid = ev->uid,
                             .fields = ev->fields,
                             .tree = judge_tree,
                             .comm = judge_comm,
                             .ctx = &jc};
    for (size_t i = 0; i < re->n; i++) {
        struct engine_rule *er = &re->rules[i];
        if (er->in_kernel || !rule_names_probe(er->rule, ev->probe) ||
            !rule_cond_match(er->rule->cond, &s))
            continue;
        judge_rule(re, er, ev, &marks);
    }
    json_decref(jc.tree);
    return marks;
}

static struct engine_rule *engine_find_id(struct rule_engine *re, uint32_t id)
{
    for (size_t i = 0; i < re->n; i++)
        if (re->rules[i].rule->id == id)
            return &re->rules[i];
    return NULL;
}

static const char *kernel_result(struct rule_engine *re, const struct pt_rule_event *e, char *buf,
                                 size_t len)
{
    if (e->flags & PT_RULE_HIT_AUDIT)
        return "audit";
    if (e->flags & PT_RULE_HIT_PROTECTED)
        return "protected";
    if (e->flags & PT_RULE_HIT_DAEMON_SIGNALS)
        return signal_process(re, e->h.pid, e->h.boot_ns, (int)e->signal, buf, len);
    if (e->result == 0)
        return "done";
    if (e->result == -ESRCH)
        return "gone";
    snprintf(buf, len, "failed: %s", strerror(-e->result));
    return buf;
}

void rule_engine_kernel_hit(struct rule_engine *re, const void *data, size_t size)
{
    if (size < sizeof(struct pt_rule_event))
        return;
    const struct pt_rule_event *e = data;
    struct engine_rule *er = engine_find_id(re, e->rule_id);
    const char *probe = e->h.probe_id < PT_MAX_PROBES ? re->probe_names[e->h.probe_id] : NULL;
    char buf[128], name[32];
    const char *result = kernel_result(re, e, buf, sizeof(buf));
    count_hit(re, er, probe, strcmp(result, "done") == 0);
    /* A rule removed since the kernel matched it is named by its id. */
    snprintf(name, sizeof(name), "#%u", e->rule_id);
    json_t *mark =
        mark_new(er ? er->rule->name : name, er ? er->rule->action : RULE_LOG, "kernel", result);
    if (mark && (e->flags & PT_RULE_HIT_REFUSED) &&
        json_object_set_new(mark, "refused", json_true())) {
        json_decref(mark);
        mark = NULL;
    }
    struct pending_hit *p = &re->pending[re->pending_next];
    re->pending_next = (re->pending_next + 1) % PENDING_HITS;
    json_decref(p->mark);
    *p = (struct pending_hit){e->h.tid, e->h.probe_id, e->h.boot_ns, mark};
}

/* ---- reporting ---- */

static json_t *rule_describe(const struct engine_rule *er)
{
    const struct rule *r = er->rule;
    json_t *o = json_object(), *probes = json_array();
    int bad = !o || !probes;
    for (size_t i = 0; i < r->n_probes && !bad; i++)
        bad = json_array_append_new(probes, json_string(r->probes[i]));
    bad = bad || json_object_set_new(o, "name", json_string(r->name)) ||
          json_object_set(o, "probes", probes) ||
          json_object_set_new(o, "action", json_string(rule_action_name(r->action))) ||
          json_object_set_new(o, "audit", json_boolean(r->audit)) ||
          json_object_set_new(o, "where", json_string(er->in_kernel ? "kernel" : "daemon")) ||
          json_object_set_new(o, "source", json_string(r->from_ctl ? "ctl" : "rules-dir")) ||
          json_object_set_lossy(o, "file", r->file) ||
          json_object_set_new(o, "line", json_integer(r->line)) ||
          json_object_set(o, "match", r->match ? r->match : json_null()) ||
          json_object_set_new(o, "hits", json_integer((json_int_t)er->hits)) ||
          json_object_set_new(o, "actions", json_integer((json_int_t)er->actions)) ||
          (r->description && json_object_set_new(o, "description", json_string(r->description))) ||
          (!er->in_kernel &&
           json_object_set_new(o, "why",
                               json_string(r->kernel ? "more kernel rules than the maps "
                                                       "hold, or no probe of it runs"
                                                     : r->why_daemon)));
    json_decref(probes);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *rule_engine_list(const struct rule_engine *re)
{
    json_t *list = json_array();
    for (size_t i = 0; i < re->n && list; i++) {
        json_t *o = rule_describe(&re->rules[i]);
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}
