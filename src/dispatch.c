#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_loader.h"
#include "timeutil.h"

void dispatch_init(struct dispatch *d, struct proc_cache *cache, struct output *out)
{
    memset(d, 0, sizeof(*d));
    d->cache = cache;
    d->out = out;
    d->boot_to_realtime_ns = time_boot_to_realtime_offset();
}

void dispatch_release(struct dispatch *d)
{
    for (size_t i = 0; i < DISPATCH_PENDING_EXECS; i++)
        free(d->pending[i].args);
    memset(d->pending, 0, sizeof(d->pending));
    strbuf_release(&d->line);
}

/* ---- process lifecycle ---- */

static struct pending_exec *pending_find(struct dispatch *d, uint32_t pid)
{
    for (size_t i = 0; i < DISPATCH_PENDING_EXECS; i++)
        if (d->pending[i].args && d->pending[i].pid == pid)
            return &d->pending[i];
    return NULL;
}

static void pending_clear(struct pending_exec *p)
{
    free(p->args);
    memset(p, 0, sizeof(*p));
}

/* An exec whose result never came (the record was lost) is overwritten in
 * turn, so the table cannot fill up. */
static void on_exec(struct dispatch *d, const struct pt_exec_event *e, size_t size)
{
    size_t avail = size - offsetof(struct pt_exec_event, args);
    size_t len = e->args_len < avail ? e->args_len : avail;
    struct pending_exec *p = pending_find(d, e->h.pid);
    if (!p) {
        p = &d->pending[d->pending_next];
        d->pending_next = (d->pending_next + 1) % DISPATCH_PENDING_EXECS;
    }
    pending_clear(p);
    p->args = malloc(len + 1);
    if (!p->args)
        return;
    memcpy(p->args, e->args, len);
    p->args[len] = '\0';
    p->len = len;
    p->pid = e->h.pid;
    p->truncated = e->truncated || len < e->args_len;
}

static void on_exec_ret(struct dispatch *d, const struct pt_exec_ret_event *e)
{
    struct pending_exec *p = pending_find(d, e->h.pid);
    if (e->ret == 0) {
        if (p)
            proc_cache_exec(d->cache, e->h.pid, e->h.uid, p->args, p->len, (int)p->truncated);
        else
            proc_cache_exec(d->cache, e->h.pid, e->h.uid, NULL, 0, 1);
    }
    if (p)
        pending_clear(p);
}

static int on_lifecycle(struct dispatch *d, const struct pt_header *h, const void *data,
                        size_t size)
{
    switch (h->type) {
    case PT_EV_FORK:
        if (size < sizeof(struct pt_fork_event))
            return -EINVAL;
        proc_cache_fork(d->cache, h->pid, ((const struct pt_fork_event *)data)->child_pid, h->uid,
                        h->boot_ns);
        return 0;
    case PT_EV_EXEC:
        if (size < offsetof(struct pt_exec_event, args))
            return -EINVAL;
        on_exec(d, data, size);
        return 0;
    case PT_EV_EXEC_RET:
        if (size < sizeof(struct pt_exec_ret_event))
            return -EINVAL;
        on_exec_ret(d, data);
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

static int write_json_line(struct dispatch *d, json_t *obj)
{
    /* Serialising is most of the daemon's work per event: once into the
     * buffer kept from the last line, twice only when a line outgrows it. */
    d->line.len = 0;
    if (d->line.cap < 4096 && strbuf_reserve(&d->line, 4096) < 0)
        return -ENOMEM;
    size_t need = json_dumpb(obj, d->line.data, d->line.cap, JSON_COMPACT);
    if (need > d->line.cap) {
        if (strbuf_reserve(&d->line, need) < 0)
            return -ENOMEM;
        need = json_dumpb(obj, d->line.data, d->line.cap, JSON_COMPACT);
    }
    if (need == 0)
        return -ENOMEM;
    d->line.len = need;
    int ret = output_line(d->out, d->line.data, d->line.len);
    if (ret < 0 && !d->output_error)
        d->output_error = ret;
    return ret;
}

static int set_timestamp(struct dispatch *d, json_t *obj, uint64_t boot_ns)
{
    char ts[40];
    /* Unsigned: a corrupt record's boot_ns must wrap, not overflow. */
    time_format_iso8601(boot_ns + (uint64_t)d->boot_to_realtime_ns, ts, sizeof(ts));
    return json_object_set_new(obj, "timestamp", json_string(ts));
}

static int emit_lost_telemetry(struct dispatch *d, struct probe_instance *pi)
{
    uint64_t lost = d->lost_reader ? d->lost_reader(d->lost_ctx, pi->id) : 0;
    json_t *obj = json_object();
    int ret = -ENOMEM;
    if (obj && json_object_set_new(obj, "type", json_string("lost_event_telemetry")) == 0 &&
        json_object_set_new(obj, "count", json_integer((json_int_t)lost)) == 0 &&
        set_timestamp(d, obj, time_boot_ns()) == 0 &&
        json_object_set_new(obj, "probe", json_string(pi->ops->name)) == 0)
        ret = write_json_line(d, obj);
    json_decref(obj);
    return ret;
}

/* The common fields first, in the order the original wrote them, then the
 * probe's own; `error` last so a probe's own error wins over the tree's. */
static json_t *event_build(struct dispatch *d, struct probe_instance *pi, uint32_t pid,
                           uint64_t boot_ns, json_t *fields)
{
    const char *tree_error = "";
    json_t *obj = json_object();
    json_t *tree = proc_cache_tree(d->cache, pid, &tree_error);
    /* The tree's entries are shared with the process cache; plugins may
     * change them, so theirs is a copy. */
    if (tree && d->plugins[pi->id]) {
        json_t *copy = json_deep_copy(tree);
        json_decref(tree);
        tree = copy;
    }
    if (!obj || !tree || set_timestamp(d, obj, boot_ns) ||
        json_object_set_new(obj, "probe", json_string(pi->ops->name)) ||
        json_object_set_new(obj, "pid", json_integer(pid)) ||
        json_object_set(obj, "proctree", tree) || json_object_update(obj, fields)) {
        json_decref(tree);
        json_decref(obj);
        return NULL;
    }
    json_decref(tree);
    const char *probe_error = json_string_value(json_object_get(fields, "error"));
    if (!probe_error || !probe_error[0])
        probe_error = tree_error;
    if (json_object_set_new(obj, "error", json_string(probe_error))) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* The line, written straight from the process cache's serialised entries:
 * the same bytes event_build() and write_json_line() would make, without
 * re-encoding every ancestor's command line for every event. Only for
 * probes without plugins, which may change any field. */
static int write_line_direct(struct dispatch *d, struct probe_instance *pi, uint32_t pid,
                             uint64_t boot_ns, json_t *fields)
{
    char ts[40];
    const char *tree_error = "";
    /* Unsigned: a corrupt record's boot_ns must wrap, not overflow. */
    time_format_iso8601(boot_ns + (uint64_t)d->boot_to_realtime_ns, ts, sizeof(ts));
    d->line.len = 0;
    if (strbuf_printf(&d->line,
                      "{\"timestamp\":\"%s\",\"probe\":\"%s\",\"pid\":%" PRIu32 ",\"proctree\":",
                      ts, pi->ops->name, pid) < 0 ||
        proc_cache_tree_text(d->cache, pid, &d->line, &tree_error) < 0)
        return -ENOMEM;
    /* The probe's fields and `error`, as one object whose braces are cut. */
    json_t *rest = json_copy(fields);
    const char *probe_error = json_string_value(json_object_get(fields, "error"));
    if (!rest ||
        json_object_set_new(
            rest, "error", json_string(probe_error && probe_error[0] ? probe_error : tree_error))) {
        json_decref(rest);
        return -ENOMEM;
    }
    char *text = json_dumps(rest, JSON_COMPACT);
    json_decref(rest);
    int ret = text && strbuf_printf(&d->line, ",%s", text + 1) == 0 ? 0 : -ENOMEM;
    free(text);
    if (ret == 0)
        ret = output_line(d->out, d->line.data, d->line.len);
    if (ret < 0 && ret != -ENOMEM && !d->output_error)
        d->output_error = ret;
    return ret;
}

int dispatch_emit(struct dispatch *d, struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                  json_t *fields)
{
    struct plugin_set *plugins = d->plugins[pi->id];
    int ret;
    if (plugins) {
        json_t *obj = event_build(d, pi, pid, boot_ns, fields);
        if (!obj)
            return -ENOMEM;
        plugin_set_process(plugins, obj);
        ret = write_json_line(d, obj);
        json_decref(obj);
    } else {
        ret = write_line_direct(d, pi, pid, boot_ns, fields);
    }
    uint64_t now = time_boot_ns();
    if (now > boot_ns) {
        d->latency_sum_ns += now - boot_ns;
        if (now - boot_ns > d->latency_max_ns)
            d->latency_max_ns = now - boot_ns;
    }
    d->events[pi->id]++;
    if (ret == 0 && d->lost_event_telemetry && d->events[pi->id] % d->lost_event_telemetry == 0)
        ret = emit_lost_telemetry(d, pi);
    return ret;
}

static int emit_from_services(struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                              json_t *event)
{
    return dispatch_emit(pi->services_ctx, pi, pid, boot_ns, event);
}

static int map_fd_from_services(struct probe_instance *pi, const char *name)
{
    struct dispatch *d = pi->services_ctx;
    return d->map_fd ? d->map_fd(d->map_ctx, name) : -ENOENT;
}

const struct probe_services dispatch_services = {
    .emit = emit_from_services,
    .map_fd = map_fd_from_services,
};

static int on_probe_record(struct dispatch *d, const struct pt_header *h, const void *data,
                           size_t size)
{
    struct probe_instance *pi = h->probe_id < PT_MAX_PROBES ? d->probes[h->probe_id] : NULL;
    if (!pi || size < pi->ops->record_size) {
        d->bad_records++;
        return 0;
    }
    /* The uid of the event's process now, which setuid may have changed
     * since it was forked or exec'd. */
    proc_cache_set_uid(d->cache, h->pid, h->uid);
    json_t *fields = json_object();
    if (!fields)
        return -ENOMEM;
    int ret = pi->ops->decode(pi, data, size, fields);
    if (ret == 0)
        ret = dispatch_emit(d, pi, h->pid, h->boot_ns, fields);
    else if (ret == -EAGAIN)
        ret = 0;
    else
        d->bad_records++, ret = 0;
    json_decref(fields);
    return d->output_error ? d->output_error : ret;
}

int dispatch_record(struct dispatch *d, const void *data, size_t size)
{
    d->records++;
    if (size < sizeof(struct pt_header)) {
        d->bad_records++;
        return 0;
    }
    const struct pt_header *h = data;
    if (h->type == PT_EV_PROBE)
        return on_probe_record(d, h, data, size);
    if (on_lifecycle(d, h, data, size) < 0)
        d->bad_records++;
    return 0;
}
