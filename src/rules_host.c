#include "rules_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ctl_server.h"
#include "dispatch.h"
#include "event_loop.h"
#include "rule_engine.h"
#include "rules_kernel.h"
#include "strbuf.h"
#include "templates/pidtree_common.h"

struct rules_host {
    struct rules_host_options opts;
    struct rule_engine *engine;
    struct rules_binding bound;
    bool is_bound;
    const char *probe_names[PT_MAX_PROBES]; /* the binder's, by id: copied */
    struct rules_kernel kernel;             /* the bound daemon's maps */
    int watch_fd;           /* inotify on the rules directory, -1 when not watched */
    struct ctl_server *ctl; /* created when the first daemon binds */
    bool dir_dirty;
    char last_error[1024]; /* a reload's, said once */
};

struct rules_host *rules_host_new(const struct rules_host_options *opts)
{
    struct rules_host *rh = calloc(1, sizeof(*rh));
    if (!rh)
        return NULL;
    rh->opts = *opts;
    rh->watch_fd = -1;
    rh->engine = rule_engine_new();
    if (!rh->engine) {
        free(rh);
        errno = ENOMEM;
        return NULL;
    }
    return rh;
}

void rules_host_free(struct rules_host *rh)
{
    if (!rh)
        return;
    rules_host_unbind(rh);
    ctl_server_free(rh->ctl);
    rule_engine_free(rh->engine);
    free(rh);
}

bool rules_host_enabled(const struct rules_host *rh)
{
    return rh && (rh->opts.rules_dir || rh->opts.ctl_socket);
}

struct rule_engine *rules_host_engine(struct rules_host *rh)
{
    return rh ? rh->engine : NULL;
}

int rules_host_load(struct rules_host *rh, rules_probe_fn find, void *find_ctx,
                    struct pt_error *err)
{
    if (!rh->opts.rules_dir)
        return 0;
    struct rule_list rules = {0};
    int ret = rules_load_dir(rh->opts.rules_dir, find, find_ctx, &rules, err);
    if (ret == 0)
        ret = rule_engine_set_dir_rules(rh->engine, &rules, err);
    rule_list_release(&rules);
    return ret;
}

/* ---- -w: the rules directory ---- */

static void on_dir_change(int fd, void *ctx)
{
    struct rules_host *rh = ctx;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    /* Handled at the next tick: a save is several events. */
    while (read(fd, buf, sizeof(buf)) > 0)
        rh->dir_dirty = true;
}

static int watch_start(struct rules_host *rh, struct pt_error *err)
{
    if (!rh->opts.watch || !rh->opts.rules_dir)
        return 0;
    rh->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rh->watch_fd < 0 || inotify_add_watch(rh->watch_fd, rh->opts.rules_dir,
                                              IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                                  IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY) < 0)
        return pt_error_set(err, errno, rh->opts.rules_dir, 0,
                            "cannot watch the rules directory: %s", strerror(errno));
    int ret = event_loop_add_fd(rh->bound.loop, rh->watch_fd, on_dir_change, rh);
    if (ret < 0)
        return pt_error_set(err, -ret, rh->opts.rules_dir, 0,
                            "cannot watch the rules directory: %s", strerror(-ret));
    return 0;
}

static void dir_reload(struct rules_host *rh)
{
    struct pt_error err = {0};
    char msg[sizeof(rh->last_error)];
    if (rules_host_load(rh, rh->bound.find, rh->bound.find_ctx, &err) == 0) {
        rh->last_error[0] = '\0';
        fprintf(stderr, "pidtree-bcc: rules directory re-read: %zu rule(s) in force\n",
                rule_engine_count(rh->engine));
        return;
    }
    pt_error_format(&err, msg, sizeof(msg));
    if (strcmp(msg, rh->last_error) != 0)
        fprintf(stderr, "pidtree-bcc: rules change refused, the rules in force stay: %s\n", msg);
    snprintf(rh->last_error, sizeof(rh->last_error), "%s", msg);
}

void rules_host_tick(struct rules_host *rh)
{
    if (!rh || !rh->is_bound || !rh->dir_dirty)
        return;
    rh->dir_dirty = false;
    dir_reload(rh);
}

/* ---- the control socket's requests ---- */

static json_t *reply_ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

static json_t *reply_fail(const struct pt_error *err)
{
    char msg[sizeof(err->msg) + sizeof(err->file) + 16];
    pt_error_format(err, msg, sizeof(msg));
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static json_t *request_ls(struct rules_host *rh)
{
    json_t *reply = reply_ok(), *rules = rule_engine_list(rh->engine);
    if (!reply || !rules || json_object_set_new(reply, "rules", rules)) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

/* The rules of every file, all or nothing. */
static json_t *request_add(struct rules_host *rh, json_t *req)
{
    struct rule_list rules = {0};
    struct pt_error err = {0};
    json_t *files = json_object_get(req, "files"), *f;
    size_t i;
    int ret = json_array_size(files) ? 0
                                     : pt_error_set(&err, EINVAL, NULL, 0,
                                                    "add: no files (\"files\": [{path, text}])");
    json_array_foreach(files, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "path"));
        json_t *text = json_object_get(f, "text");
        if (ret == 0 && (!path || !json_is_string(text)))
            ret = pt_error_set(&err, EINVAL, NULL, 0, "add: files[%zu] needs path and text", i);
        if (ret == 0)
            ret = rules_load_string(json_string_value(text), json_string_length(text), path,
                                    rh->bound.find, rh->bound.find_ctx, &rules, &err);
    }
    json_t *added = json_array();
    for (i = 0; ret == 0 && i < rules.n; i++)
        json_array_append_new(added, json_string(rules.items[i]->name));
    if (ret == 0)
        ret = rule_engine_add(rh->engine, &rules, &err);
    rule_list_release(&rules);
    if (ret < 0) {
        json_decref(added);
        return reply_fail(&err);
    }
    fprintf(stderr, "pidtree-bcc: ctl add: %zu rule(s) in force\n", rule_engine_count(rh->engine));
    json_t *reply = reply_ok();
    if (reply && json_object_set_new(reply, "added", added ? added : json_array()) < 0) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static json_t *request_rm(struct rules_host *rh, json_t *req)
{
    json_t *names = json_object_get(req, "names");
    struct pt_error err = {0};
    size_t n = json_array_size(names);
    const char **list = calloc(n + 1, sizeof(*list));
    int ret = list ? 0 : pt_error_set(&err, ENOMEM, NULL, 0, "out of memory");
    if (ret == 0 && n == 0)
        ret = pt_error_set(&err, EINVAL, NULL, 0, "rm: no names (\"names\": [...])");
    for (size_t i = 0; ret == 0 && i < n; i++)
        if (!(list[i] = json_string_value(json_array_get(names, i))))
            ret = pt_error_set(&err, EINVAL, NULL, 0, "rm: names[%zu] is not a string", i);
    if (ret == 0)
        ret = rule_engine_remove(rh->engine, list, n, &err);
    free(list);
    if (ret < 0)
        return reply_fail(&err);
    fprintf(stderr, "pidtree-bcc: ctl rm: %zu rule(s) in force\n", rule_engine_count(rh->engine));
    json_t *reply = reply_ok();
    if (reply && json_object_set(reply, "removed", names) < 0) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static json_t *probe_stats_json(struct rules_host *rh, uint32_t id, const char *name)
{
    struct rules_probe_stats st = {0};
    uint64_t hits, actions;
    if (rh->bound.probe_stats(rh->bound.stats_ctx, id, &st) < 0)
        return NULL;
    rule_engine_probe_counts(rh->engine, name, &hits, &actions);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "probe", name, "events",
                     (json_int_t)st.events, "unwritten", (json_int_t)st.unwritten, "filtered",
                     (json_int_t)st.filtered, "rate_limited", (json_int_t)st.rate_limited, "lost",
                     (json_int_t)st.lost, "rule_hits", (json_int_t)hits, "actions",
                     (json_int_t)actions);
}

static json_t *request_stats(struct rules_host *rh)
{
    json_t *probes = json_array();
    for (size_t id = 0; probes && id < rh->bound.n_probes; id++) {
        const char *name = rh->bound.probe_names[id];
        json_t *p = name ? probe_stats_json(rh, (uint32_t)id, name) : NULL;
        if (p)
            json_array_append_new(probes, p);
    }
    struct ctl_server_stats cs;
    ctl_server_get_stats(rh->ctl, &cs);
    return json_pack("{s:b,s:o,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "ok", 1, "probes",
                     probes ? probes : json_array(), "rules",
                     (json_int_t)rule_engine_count(rh->engine), "ctl", "clients",
                     (json_int_t)cs.clients, "refused", (json_int_t)cs.refused, "trace_clients",
                     (json_int_t)cs.trace_clients, "trace_dropped", (json_int_t)cs.trace_dropped,
                     "trace_lines", (json_int_t)cs.trace_lines);
}

static json_t *on_request(void *ctx, const char *cmd, json_t *req)
{
    struct rules_host *rh = ctx;
    if (!rh->is_bound)
        return json_pack("{s:b,s:s}", "ok", 0, "error", "the daemon is restarting: try again");
    if (strcmp(cmd, "ls") == 0)
        return request_ls(rh);
    if (strcmp(cmd, "add") == 0)
        return request_add(rh, req);
    if (strcmp(cmd, "rm") == 0)
        return request_rm(rh, req);
    if (strcmp(cmd, "stats") == 0)
        return request_stats(rh);
    return json_pack("{s:b,s:s}", "ok", 0, "error", "unknown command (ls, add, rm, stats, trace)");
}

static void on_ctl(int fd, void *ctx)
{
    ctl_server_run(ctx);
}

/* The socket is made when the first daemon is up, and kept over restarts. */
static int ctl_start(struct rules_host *rh, struct pt_error *err)
{
    if (!rh->opts.ctl_socket)
        return 0;
    if (!rh->ctl && !(rh->ctl = ctl_server_new(rh->opts.ctl_socket, on_request, rh, err)))
        return -EINVAL;
    int ret = event_loop_add_fd(rh->bound.loop, ctl_server_fd(rh->ctl), on_ctl, rh->ctl);
    if (ret < 0)
        return pt_error_set(err, -ret, NULL, 0, "control socket: %s", strerror(-ret));
    return 0;
}

/* ---- the kernel side ---- */

static void kernel_init(struct rules_host *rh, int rules_fd, int ctl_fd)
{
    rh->kernel = (struct rules_kernel){.rules_fd = rules_fd,
                                       .ctl_fd = ctl_fd,
                                       .probe_names = rh->probe_names,
                                       .n_probes = rh->bound.n_probes,
                                       .daemon_tgid = (uint32_t)getpid()};
}

/* The rules in force go into the new module's maps. */
static int kernel_start(struct rules_host *rh, struct pt_error *err)
{
    if (rh->bound.krules_fd < 0 || rh->bound.krules_ctl_fd < 0)
        return 0;
    kernel_init(rh, rh->bound.krules_fd, rh->bound.krules_ctl_fd);
    return rule_engine_set_kernel(rh->engine, rules_kernel_sync, &rh->kernel, err);
}

int rules_host_describe_kernel(struct rules_host *rh, const char *const *names, size_t n_probes,
                               struct strbuf *out)
{
    size_t n = rule_engine_count(rh->engine);
    struct rule **rules = calloc(n + 1, sizeof(*rules));
    if (!rules)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        rules[i] = rule_engine_rule(rh->engine, i);
    struct rules_kernel rk = {.probe_names = names, .n_probes = n_probes};
    int ret = rules_kernel_describe(&rk, rules, n, out);
    free(rules);
    return ret;
}

/* ---- binding ---- */

int rules_host_bind(struct rules_host *rh, const struct rules_binding *b, struct pt_error *err)
{
    rules_host_unbind(rh);
    rh->bound = *b;
    rh->bound.n_probes = b->n_probes < PT_MAX_PROBES ? b->n_probes : PT_MAX_PROBES;
    memcpy(rh->probe_names, b->probe_names, rh->bound.n_probes * sizeof(*rh->probe_names));
    rh->bound.probe_names = rh->probe_names;
    rh->is_bound = true;
    rule_engine_bind(rh->engine, b->probe_names, b->n_probes);
    int ret = kernel_start(rh, err);
    if (ret == 0)
        ret = watch_start(rh, err);
    if (ret == 0)
        ret = ctl_start(rh, err);
    if (ret < 0)
        rules_host_unbind(rh);
    return ret;
}

void rules_host_unbind(struct rules_host *rh)
{
    if (!rh->is_bound)
        return;
    /* Until a daemon binds again, nothing is in a kernel. */
    struct pt_error err = {0};
    if (rule_engine_set_kernel(rh->engine, NULL, NULL, &err) < 0)
        fprintf(stderr, "pidtree-bcc: %s\n", err.msg);
    if (rh->ctl)
        event_loop_del_fd(rh->bound.loop, ctl_server_fd(rh->ctl));
    if (rh->watch_fd >= 0) {
        event_loop_del_fd(rh->bound.loop, rh->watch_fd);
        close(rh->watch_fd);
        rh->watch_fd = -1;
    }
    rh->is_bound = false;
    memset(&rh->bound, 0, sizeof(rh->bound));
}

void rules_host_forget(struct rules_host *rh, struct event_loop *loop)
{
    if (rh && rh->is_bound && rh->bound.loop == loop)
        rules_host_unbind(rh);
}

void rules_host_tap(void *ctx, const struct dispatch_line *line)
{
    struct rules_host *rh = ctx;
    if (ctl_server_tracing(rh->ctl))
        ctl_server_publish(rh->ctl, line);
}
