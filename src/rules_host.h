/* rules_host: what the daemon does for rules, in one place.
 *
 * Created once per daemon process (it outlives SIGHUP restarts, as the
 * output does): the rule engine with the rules in force and their counts,
 * the rules directory (--rules-dir, watched with -w), the control socket
 * (src/ctl_server.h) and the kernel side (src/rules_kernel.h). Each daemon
 * that starts binds it to its probes, its event loop and its module's
 * maps; a restart binds the new daemon, and the rules stay in force.
 */
#ifndef PIDTREE_RULES_HOST_H
#define PIDTREE_RULES_HOST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rules.h"

/* Where `pidtree-bcc ctl` and the daemon meet unless --ctl-socket says. */
#define CTL_SOCKET_DEFAULT "/run/pidtree-bcc/ctl.sock"

struct event_loop;
struct rule_engine;
struct rules_host;

struct rules_host_options {
    const char *rules_dir;  /* NULL: none */
    bool watch;             /* -w: re-read the directory when it changes */
    const char *ctl_socket; /* NULL: no control socket */
};

/* Per-probe counts the daemon keeps, for `ctl stats`. */
struct rules_probe_stats {
    uint64_t events;       /* lines written */
    uint64_t unwritten;    /* lines the output could not take */
    uint64_t rate_limited; /* dropped by the per-user budget */
    uint64_t lost;         /* lost in the kernel: the ring buffer was full */
    uint64_t filtered;     /* dropped in the kernel by the config's filters */
};

/* What a running daemon hands over. */
struct rules_binding {
    struct event_loop *loop;
    rules_probe_fn find; /* the daemon's probe registry */
    void *find_ctx;
    /* By probe id, NULL where none: the array is copied, the names must
     * live as long as the binding (the probes' own). */
    const char *const *probe_names;
    size_t n_probes;
    /* The module's kernel-rule maps (-1: the module has none). */
    int krules_fd;
    int krules_ctl_fd;
    /* Counts of probe `id`; returns 0 or -ENOENT. */
    int (*probe_stats)(void *ctx, uint32_t id, struct rules_probe_stats *out);
    void *stats_ctx;
};

/* NULL with errno set when out of memory. */
struct rules_host *rules_host_new(const struct rules_host_options *opts);
void rules_host_free(struct rules_host *rh);

/* Rules are on: a rules directory or a control socket was asked for. */
bool rules_host_enabled(const struct rules_host *rh);
struct rule_engine *rules_host_engine(struct rules_host *rh);

/* Reads the rules directory with the probes `find` knows. Returns 0, or a
 * negative errno with the file, line and field in `err`. The rules in
 * force are replaced only on success. */
int rules_host_load(struct rules_host *rh, rules_probe_fn find, void *find_ctx,
                    struct pt_error *err);

/* A daemon has started: rules go to its kernel maps, its probes are the
 * ones records name, the watch and the control socket join its loop.
 * Returns 0 or a negative errno with `err` set. */
int rules_host_bind(struct rules_host *rh, const struct rules_binding *b, struct pt_error *err);
/* Its daemon is stopping: nothing of it may be used any more. */
void rules_host_unbind(struct rules_host *rh);
/* The daemon whose loop is `loop` is going away: unbinds if it is the one
 * bound (a restart that failed after the new daemon took the rules). */
void rules_host_forget(struct rules_host *rh, struct event_loop *loop);

/* -p: the kernel side of the rules in force for probes `names` (by id),
 * as a C comment (src/rules_kernel.h). Returns 0 or -ENOMEM. */
struct strbuf;
int rules_host_describe_kernel(struct rules_host *rh, const char *const *names, size_t n_probes,
                               struct strbuf *out);

/* Every second: a changed rules directory is read again (-w). */
void rules_host_tick(struct rules_host *rh);

/* The tap for the dispatcher (dispatch_env.tap): the control socket's
 * trace. */
struct dispatch_line;
void rules_host_tap(void *ctx, const struct dispatch_line *line);

#endif
