#include "rules_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "dispatch.h"
#include "event_loop.h"
#include "rule_engine.h"

struct rules_host {
    struct rules_host_options opts;
    struct rule_engine *engine;
    struct rules_binding bound;
    bool is_bound;
    int watch_fd; /* inotify on the rules directory, -1 when not watched */
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

/* ---- binding ---- */

int rules_host_bind(struct rules_host *rh, const struct rules_binding *b, struct pt_error *err)
{
    rules_host_unbind(rh);
    rh->bound = *b;
    rh->is_bound = true;
    rule_engine_bind(rh->engine, b->probe_names, b->n_probes);
    int ret = watch_start(rh, err);
    if (ret < 0)
        rules_host_unbind(rh);
    return ret;
}

void rules_host_unbind(struct rules_host *rh)
{
    if (!rh->is_bound)
        return;
    if (rh->watch_fd >= 0) {
        event_loop_del_fd(rh->bound.loop, rh->watch_fd);
        close(rh->watch_fd);
        rh->watch_fd = -1;
    }
    rh->is_bound = false;
    memset(&rh->bound, 0, sizeof(rh->bound));
}

void rules_host_tap(void *ctx, const struct dispatch_line *line)
{
    (void)ctx;
    (void)line;
}
