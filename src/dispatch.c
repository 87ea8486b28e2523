#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"
#include "plugin_loader.h"
#include "rule_engine.h"
#include "timeutil.h"
#include "uid_budget.h"

struct dispatch {
    struct proc_cache *cache;
    struct output *out;
    struct probe_instance *probes[PT_MAX_PROBES]; /* by probe id */
    struct plugin_set *plugins[PT_MAX_PROBES];    /* by probe id; may be NULL; owned */
    int64_t boot_to_realtime_ns;
    unsigned long lost_event_telemetry;
    uint64_t (*lost_reader)(void *ctx, uint32_t probe_id);
    int (*map_fd)(void *ctx, const char *name);
    const char *(*container_name)(void *ctx, const char *id);
    bool (*container_allowed)(void *ctx, uint32_t probe_id, uint32_t pid);
    void *env_ctx;

    struct dispatch_stats stats;
    int output_error; /* the first write error, a negative errno */
    struct strbuf line;
    struct strbuf scratch; /* tree_budget's */

    /* Bounds against a user who makes huge trees or floods: see README
     * "Faults and hostile input". */
    size_t max_line;           /* the tree is cut to keep lines within it */
    struct uid_budget *budget; /* NULL: no per-user limit; the caller's */
    uint64_t accept_from_ns[PT_MAX_PROBES], accept_until_ns[PT_MAX_PROBES];

    struct rule_engine *rules; /* NULL: none; the caller's */
    void (*tap)(void *ctx, const struct dispatch_line *line);
    void *tap_ctx;
    /* The record being handled, for the rules: its thread and uid. */
    const struct pt_header *record;
    bool judged; /* the event being handled already has its marks */
};

static const struct probe_services dispatch_services;

struct dispatch *dispatch_new(const struct dispatch_env *env)
{
    struct dispatch *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cache = env->cache;
    d->out = env->out;
    d->budget = env->budget;
    d->lost_event_telemetry = env->lost_event_telemetry;
    d->lost_reader = env->lost_reader;
    d->map_fd = env->map_fd;
    d->container_name = env->container_name;
    d->container_allowed = env->container_allowed;
    d->env_ctx = env->ctx;
    d->boot_to_realtime_ns = time_boot_to_realtime_offset();
    d->max_line = DISPATCH_DEFAULT_MAX_LINE;
    d->rules = env->rules;
    d->tap = env->tap;
    d->tap_ctx = env->tap_ctx;
    return d;
}

void dispatch_free(struct dispatch *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < PT_MAX_PROBES; i++)
        plugin_set_free(d->plugins[i]);
    strbuf_release(&d->line);
    strbuf_release(&d->scratch);
    free(d);
}

void dispatch_add_probe(struct dispatch *d, struct probe_instance *pi, struct plugin_set *plugins)
{
    d->probes[pi->id] = pi;
    d->plugins[pi->id] = plugins;
    pi->services = &dispatch_services;
    pi->services_ctx = d;
}

void dispatch_set_clock(struct dispatch *d, int64_t boot_to_realtime_ns)
{
    d->boot_to_realtime_ns = boot_to_realtime_ns;
}

void dispatch_accept_from(struct dispatch *d, uint32_t probe_id, uint64_t from_ns)
{
    d->accept_from_ns[probe_id] = from_ns;
}

void dispatch_accept_until(struct dispatch *d, uint32_t probe_id, uint64_t until_ns)
{
    d->accept_until_ns[probe_id] = until_ns;
}

void dispatch_tick(struct dispatch *d, uint64_t now_ns)
{
    for (size_t i = 0; i < PT_MAX_PROBES; i++)
        plugin_set_tick(d->plugins[i], now_ns);
}

int dispatch_output_error(const struct dispatch *d)
{
    return d->output_error;
}

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *stats)
{
    *stats = d->stats;
}

/* ---- process lifecycle ---- */

/* A successful exec: the record is sent only once the exec cannot fail. */
static void on_exec(struct dispatch *d, const struct pt_exec_event *e, size_t size)
{
    size_t avail = size - offsetof(struct pt_exec_event, args);
    size_t len = e->args_len < avail ? e->args_len : avail;
    proc_cache_exec(d->cache, e->h.pid, e->h.uid, e->args, len, e->truncated || len < e->args_len);
    if (e->loginuid != PT_LOGINUID_UNKNOWN)
        proc_cache_set_loginuid(d->cache, e->h.pid, e->loginuid);
    proc_cache_set_ns_pid(d->cache, e->h.pid,
                          e->ns_pid == PT_NS_PID_UNKNOWN ? PROC_NS_PID_UNKNOWN : e->ns_pid);
}

/* The fork is seen in the parent: its loginuid now, which the child
 * inherits, and which tells a parent that logged in since its exec. */
static void on_fork(struct dispatch *d, const struct pt_fork_event *e)
{
    if (e->loginuid != PT_LOGINUID_UNKNOWN)
        proc_cache_set_loginuid(d->cache, e->h.pid, e->loginuid);
    proc_cache_fork(d->cache, e->h.pid, e->child_pid, e->h.uid, e->h.boot_ns);
    if (e->loginuid != PT_LOGINUID_UNKNOWN)
        proc_cache_set_loginuid(d->cache, e->child_pid, e->loginuid);
}

static int on_lifecycle(struct dispatch *d, const struct pt_header *h, const void *data,
                        size_t size)
{
    switch (h->type) {
    case PT_EV_FORK:
        if (size < sizeof(struct pt_fork_event))
            return -EINVAL;
        on_fork(d, data);
        return 0;
    case PT_EV_EXEC:
        if (size < offsetof(struct pt_exec_event, args))
            return -EINVAL;
        on_exec(d, data, size);
        return 0;
    case PT_EV_EXIT:
        for (size_t i = 0; i < PT_MAX_PROBES; i++) {
            struct probe_instance *pi = d->probes[i];
            if (pi && pi->ops->process_exit)
                pi->ops->process_exit(pi, h->pid, h->boot_ns);
        }
        proc_cache_exit(d->cache, h->pid);
        return 0;
    default:
        return -EINVAL;
    }
}

/* ---- events ---- */

static void put_timestamp(struct dispatch *d, struct json_writer *w, uint64_t boot_ns)
{
    char ts[40];
    /* Unsigned: a corrupt record's boot_ns must wrap, not overflow. */
    time_format_iso8601(boot_ns + (uint64_t)d->boot_to_realtime_ns, ts, sizeof(ts));
    json_writer_name(w, "timestamp");
    json_writer_cstring(w, ts);
}

/* Every line goes out here. A line that could not be built (no memory) is
 * lost, counted, and the daemon goes on; only a broken output is fatal. */
static int line_finish(struct dispatch *d, struct json_writer *w, unsigned tag)
{
    if (json_writer_error(w) < 0) {
        d->stats.unbuilt++;
        return 0;
    }
    int ret = output_line(d->out, tag, d->line.data, d->line.len);
    if (ret < 0 && ret != -ENOMEM && !d->output_error)
        d->output_error = ret;
    if (ret == -ENOMEM)
        d->stats.unbuilt++;
    return ret == -ENOMEM ? 0 : ret;
}

static int emit_lost_telemetry(struct dispatch *d, struct probe_instance *pi)
{
    uint64_t lost = d->lost_reader ? d->lost_reader(d->env_ctx, pi->id) : 0;
    struct json_writer w;
    d->line.len = 0;
    json_writer_init(&w, &d->line);
    json_writer_start_object(&w);
    json_writer_name(&w, "type");
    json_writer_cstring(&w, "lost_event_telemetry");
    json_writer_name(&w, "count");
    json_writer_uint(&w, lost);
    put_timestamp(d, &w, time_boot_ns());
    json_writer_name(&w, "probe");
    json_writer_cstring(&w, pi->ops->name);
    json_writer_end_object(&w);
    return line_finish(d, &w, DISPATCH_TAG_DAEMON);
}

/* The bytes the tree may take: what the line's bound leaves after the
 * probe's fields and the common members (timestamp, probe, pid, error,
 * truncated: DISPATCH_LINE_RESERVE). The same for both paths, so both
 * keep the same entries. */
static size_t tree_budget(struct dispatch *d, json_t *fields)
{
    /* A buffer kept from event to event: no allocation per event. */
    strbuf_reset(&d->scratch);
    struct json_writer w;
    json_writer_init(&w, &d->scratch);
    json_writer_value(&w, fields);
    size_t used = d->scratch.len + DISPATCH_LINE_RESERVE;
    return d->max_line > used ? d->max_line - used : 0;
}

/* Who the event's process is beyond its host pid: its pid in its own PID
 * namespace, its container and, when the engine said, the container's
 * name. All empty for a host process. */
struct event_identity {
    uint32_t ns_pid; /* 0: none */
    const char *container_id, *container_name, *container_runtime;
};

static void event_identity(struct dispatch *d, uint32_t pid, struct event_identity *id)
{
    struct proc_container pc;
    memset(id, 0, sizeof(*id));
    if (proc_cache_container(d->cache, pid, &pc) < 0)
        return;
    id->ns_pid = pc.ns_pid;
    id->container_id = pc.id;
    id->container_runtime = pc.runtime;
    if (pc.id && d->container_name)
        id->container_name = d->container_name(d->env_ctx, pc.id);
}

static void identity_write(struct json_writer *w, const struct event_identity *id)
{
    if (id->ns_pid) {
        json_writer_name(w, "ns_pid");
        json_writer_uint(w, id->ns_pid);
    }
    if (!id->container_id)
        return;
    json_writer_name(w, "container_id");
    json_writer_cstring(w, id->container_id);
    if (id->container_name) {
        json_writer_name(w, "container_name");
        json_writer_cstring(w, id->container_name);
    }
    json_writer_name(w, "container_runtime");
    json_writer_cstring(w, id->container_runtime);
}

static int identity_set(json_t *obj, const struct event_identity *id)
{
    if (id->ns_pid && json_object_set_new(obj, "ns_pid", json_integer(id->ns_pid)) < 0)
        return -ENOMEM;
    if (!id->container_id)
        return 0;
    if (json_object_set_new(obj, "container_id", json_string(id->container_id)) < 0 ||
        (id->container_name &&
         json_object_set_new(obj, "container_name", json_string(id->container_name)) < 0) ||
        json_object_set_new(obj, "container_runtime", json_string(id->container_runtime)) < 0)
        return -ENOMEM;
    return 0;
}

/* The probe's own error wins over the tree's. */
static const char *event_error(json_t *fields, const char *tree_error)
{
    const char *probe_error = json_string_value(json_object_get(fields, "error"));
    return probe_error && probe_error[0] ? probe_error : tree_error;
}

/* The event as a jansson tree, for the plugins: the same members in the
 * same order as event_write(). */
static json_t *event_build(struct dispatch *d, struct probe_instance *pi, uint32_t pid,
                           uint64_t boot_ns, json_t *fields)
{
    const char *tree_error = "";
    bool truncated = false;
    char ts[40];
    struct event_identity ident;
    event_identity(d, pid, &ident);
    json_t *obj = json_object();
    json_t *tree =
        proc_cache_tree_bounded(d->cache, pid, tree_budget(d, fields), &tree_error, &truncated);
    /* The tree's entries are shared with the process cache; plugins may
     * change them, so theirs is a copy. */
    json_t *copy = tree ? json_deep_copy(tree) : NULL;
    json_decref(tree);
    time_format_iso8601(boot_ns + (uint64_t)d->boot_to_realtime_ns, ts, sizeof(ts));
    if (!obj || !copy || json_object_set_new(obj, "timestamp", json_string(ts)) ||
        json_object_set_new(obj, "probe", json_string(pi->ops->name)) ||
        json_object_set_new(obj, "pid", json_integer(pid)) || identity_set(obj, &ident) ||
        json_object_set(obj, "proctree", copy) || json_object_update(obj, fields) ||
        json_object_set_new(obj, "error", json_string(event_error(fields, tree_error))) ||
        (truncated && json_object_set_new(obj, "truncated", json_true()))) {
        json_decref(copy);
        json_decref(obj);
        return NULL;
    }
    json_decref(copy);
    return obj;
}

/* The line, streamed straight from the process cache's serialised entries:
 * no tree built, no ancestor's command line re-encoded for every event. */
static void event_write(struct dispatch *d, struct json_writer *w, struct probe_instance *pi,
                        uint32_t pid, uint64_t boot_ns, json_t *fields)
{
    const char *tree_error = "", *key;
    bool truncated = false, error_written = false;
    json_t *value;
    size_t budget = tree_budget(d, fields);
    struct event_identity ident;
    event_identity(d, pid, &ident);
    json_writer_start_object(w);
    put_timestamp(d, w, boot_ns);
    json_writer_name(w, "probe");
    json_writer_cstring(w, pi->ops->name);
    json_writer_name(w, "pid");
    json_writer_uint(w, pid);
    identity_write(w, &ident);
    json_writer_name(w, "proctree");
    proc_cache_tree_text(d->cache, pid, budget, w, &tree_error, &truncated);
    json_object_foreach(fields, key, value)
    {
        json_writer_name(w, key);
        if (strcmp(key, "error") == 0) {
            json_writer_cstring(w, event_error(fields, tree_error));
            error_written = true;
        } else {
            json_writer_value(w, value);
        }
    }
    if (!error_written) {
        json_writer_name(w, "error");
        json_writer_cstring(w, tree_error);
    }
    if (truncated) {
        json_writer_name(w, "truncated");
        json_writer_bool(w, true);
    }
    json_writer_end_object(w);
}

/* The record being handled, when the event is its own. */
static const struct pt_header *event_record(const struct dispatch *d, uint32_t pid)
{
    return d->record && d->record->pid == pid ? d->record : NULL;
}

static uint32_t event_uid(struct dispatch *d, uint32_t pid)
{
    const struct pt_header *h = event_record(d, pid);
    uint32_t uid = 0;
    if (h)
        uid = h->uid;
    else if (proc_cache_uid(d->cache, pid, &uid) < 0)
        uid = 0;
    return uid;
}

/* The rules' verdict on the event, added to its fields as "rules"; true
 * when a rule matched. Once per event. */
static bool event_judge(struct dispatch *d, struct probe_instance *pi, uint32_t pid,
                        uint64_t boot_ns, json_t *fields)
{
    if (!d->rules || d->judged)
        return d->judged;
    const struct pt_header *h = event_record(d, pid);
    struct rule_event ev = {.probe_id = pi->id,
                            .probe = pi->ops->name,
                            .pid = pid,
                            .tid = h ? h->tid : 0,
                            .uid = event_uid(d, pid),
                            .boot_ns = boot_ns,
                            .fields = fields,
                            .cache = d->cache};
    json_t *marks = rule_engine_judge(d->rules, &ev);
    d->judged = marks != NULL;
    if (marks && json_object_set_new(fields, "rules", marks) < 0)
        d->stats.unbuilt++;
    return d->judged;
}

int dispatch_emit(struct dispatch *d, struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                  json_t *fields)
{
    struct plugin_set *plugins = d->plugins[pi->id];
    struct json_writer w;
    event_judge(d, pi, pid, boot_ns, fields);
    d->judged = false;
    d->line.len = 0;
    json_writer_init(&w, &d->line);
    if (plugins) {
        json_t *obj = event_build(d, pi, pid, boot_ns, fields);
        if (obj) {
            plugin_set_process(plugins, obj);
            json_writer_value(&w, obj);
            json_decref(obj);
        } else {
            w.error = -ENOMEM;
        }
    } else {
        event_write(d, &w, pi, pid, boot_ns, fields);
    }
    int ret = line_finish(d, &w, pi->id);
    if (d->tap && json_writer_error(&w) == 0) {
        struct dispatch_line line = {pi, pid, event_uid(d, pid), fields, d->line.data, d->line.len};
        d->tap(d->tap_ctx, &line);
    }
    uint64_t now = time_boot_ns();
    if (now > boot_ns) {
        d->stats.latency_sum_ns += now - boot_ns;
        if (now - boot_ns > d->stats.latency_max_ns)
            d->stats.latency_max_ns = now - boot_ns;
    }
    d->stats.events[pi->id]++;
    if (ret == 0 && d->lost_event_telemetry &&
        d->stats.events[pi->id] % d->lost_event_telemetry == 0)
        ret = emit_lost_telemetry(d, pi);
    return ret;
}

static int emit_rate_limited(uint32_t uid, uint64_t dropped, void *ctx)
{
    struct dispatch *d = ctx;
    struct json_writer w;
    d->line.len = 0;
    json_writer_init(&w, &d->line);
    json_writer_start_object(&w);
    json_writer_name(&w, "type");
    json_writer_cstring(&w, "rate_limited");
    put_timestamp(d, &w, time_boot_ns());
    json_writer_name(&w, "uid");
    json_writer_uint(&w, uid);
    json_writer_name(&w, "username");
    json_writer_cstring(&w, proc_cache_username(d->cache, uid));
    json_writer_name(&w, "dropped");
    json_writer_uint(&w, dropped);
    json_writer_end_object(&w);
    return line_finish(d, &w, DISPATCH_TAG_DAEMON);
}

int dispatch_report_drops(struct dispatch *d)
{
    return uid_budget_drain_drops(d->budget, emit_rate_limited, d);
}

static int emit_from_services(struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                              json_t *event)
{
    return dispatch_emit(pi->services_ctx, pi, pid, boot_ns, event);
}

static int map_fd_from_services(struct probe_instance *pi, const char *name)
{
    struct dispatch *d = pi->services_ctx;
    return d->map_fd ? d->map_fd(d->env_ctx, name) : -ENOENT;
}

static bool container_allowed_from_services(struct probe_instance *pi, uint32_t pid)
{
    struct dispatch *d = pi->services_ctx;
    return !d->container_allowed || d->container_allowed(d->env_ctx, pi->id, pid);
}

static const struct probe_services dispatch_services = {
    .emit = emit_from_services,
    .map_fd = map_fd_from_services,
    .container_allowed = container_allowed_from_services,
};

typedef int (*fields_fn)(struct probe_instance *pi, const void *record, size_t size, json_t *event);

/* One record made into one event of `pi` by `fill` (its decoder, or its
 * exec hook): the restart hand-over's window, the user's budget, the line. */
static int probe_event(struct dispatch *d, struct probe_instance *pi, const struct pt_header *h,
                       fields_fn fill, const void *data, size_t size)
{
    if (h->boot_ns < d->accept_from_ns[pi->id] ||
        (d->accept_until_ns[pi->id] && h->boot_ns >= d->accept_until_ns[pi->id]))
        return 0;
    /* The uid of the event's process now, which setuid may have changed
     * since it was forked or exec'd. */
    proc_cache_set_uid(d->cache, h->pid, h->uid);
    bool over = !uid_budget_allow(d->budget, h->uid, time_monotonic_ns());
    if (over && (!d->rules || !rule_engine_count(d->rules))) {
        d->stats.rate_limited[pi->id]++;
        return 0;
    }
    json_t *fields = json_object();
    if (!fields)
        return -ENOMEM;
    int ret = fill(pi, data, size, fields);
    d->record = h;
    /* Over its budget, an event is still judged, and written when a rule
     * matched it: a flood must not hide an event from the rules. */
    if (ret == 0 && over && !event_judge(d, pi, h->pid, h->boot_ns, fields)) {
        d->stats.rate_limited[pi->id]++;
    } else if (ret == 0) {
        ret = dispatch_emit(d, pi, h->pid, h->boot_ns, fields);
        uid_budget_charge(d->budget, h->uid, d->line.len);
    } else if (ret == -EAGAIN)
        ret = 0;
    else
        d->stats.bad_records++, ret = 0;
    d->record = NULL;
    d->judged = false;
    json_decref(fields);
    return d->output_error ? d->output_error : ret;
}

static int on_probe_record(struct dispatch *d, const struct pt_header *h, const void *data,
                           size_t size)
{
    struct probe_instance *pi = h->probe_id < PT_MAX_PROBES ? d->probes[h->probe_id] : NULL;
    if (!pi || size < pi->ops->record_size) {
        d->stats.bad_records++;
        return 0;
    }
    return probe_event(d, pi, h, pi->ops->decode, data, size);
}

/* A successful exec, once the process cache holds the new program: the
 * probes that report execs make their events from the same record. */
static int exec_events(struct dispatch *d, const struct pt_header *h, const void *data, size_t size)
{
    int ret = 0;
    for (size_t i = 1; i < PT_MAX_PROBES && ret == 0; i++) {
        struct probe_instance *pi = d->probes[i];
        if (pi && pi->ops->process_exec)
            ret = probe_event(d, pi, h, pi->ops->process_exec, data, size);
    }
    return ret;
}

int dispatch_record(struct dispatch *d, const void *data, size_t size)
{
    d->stats.records++;
    if (size < sizeof(struct pt_header)) {
        d->stats.bad_records++;
        return 0;
    }
    const struct pt_header *h = data;
    if (h->type == PT_EV_PROBE)
        return on_probe_record(d, h, data, size);
    if (h->type == PT_EV_RULE) {
        if (d->rules)
            rule_engine_kernel_hit(d->rules, data, size);
        return 0;
    }
    if (on_lifecycle(d, h, data, size) < 0) {
        d->stats.bad_records++;
        return 0;
    }
    return h->type == PT_EV_EXEC ? exec_events(d, h, data, size) : 0;
}
