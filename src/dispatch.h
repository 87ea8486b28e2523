/* dispatch: one ring buffer record in, the process cache updated or one JSON
 * line out.
 *
 * Pure with respect to the kernel: it sees records as bytes, so unit tests
 * feed it hand-made records and read the lines it writes.
 */
#ifndef PIDTREE_DISPATCH_H
#define PIDTREE_DISPATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "proctree.h"
#include "strbuf.h"

struct plugin_set;
struct rule_engine;
struct uid_budget;

/* One event line as written, for a tap (the control socket's trace). */
struct dispatch_line {
    const struct probe_instance *pi;
    uint32_t pid;
    uint32_t uid;
    json_t *fields; /* the probe's fields, with the rules' marks as "rules" */
    const char *text;
    size_t len;
};

/* What a dispatcher is wired to; the caller keeps each alive for the
 * dispatcher's life. */
struct dispatch_env {
    struct proc_cache *cache;
    struct output *out;
    struct uid_budget *budget; /* NULL: no per-user limit */
    /* --lost-event-telemetry: every N events of a probe, a telemetry line
     * with the lost count lost_reader reads (0: none). */
    unsigned long lost_event_telemetry;
    uint64_t (*lost_reader)(void *ctx, uint32_t probe_id);
    /* The module's maps, for probes that read their own (udp_session). */
    int (*map_fd)(void *ctx, const char *name);
    /* The name the container engine gives container `id`, or NULL when it
     * has not said (yet). May be NULL. */
    const char *(*container_name)(void *ctx, const char *id);
    /* Whether probe `probe_id` reports process `pid` by its
     * container_labels, for the events the daemon makes itself. NULL: all. */
    bool (*container_allowed)(void *ctx, uint32_t probe_id, uint32_t pid);
    void *ctx; /* for the callbacks above */
    /* Rules (src/rule_engine.h) judge each event before its line is built
     * and mark it; they also take the kernel rules' PT_EV_RULE records.
     * NULL: no rules. */
    struct rule_engine *rules;
    /* Sees each event line written. NULL: none. */
    void (*tap)(void *ctx, const struct dispatch_line *line);
    void *tap_ctx;
};

/* What a dispatcher has done, for the stop report and the benchmark. */
struct dispatch_stats {
    uint64_t records;
    uint64_t bad_records;
    uint64_t unbuilt; /* lines lost for lack of memory */
    uint64_t events[PT_MAX_PROBES];
    uint64_t rate_limited[PT_MAX_PROBES];
    /* From the kernel's timestamp to the line handed to output, in ns. */
    uint64_t latency_sum_ns;
    uint64_t latency_max_ns;
};

struct dispatch;

/* Lines are bounded by this much (a tree of 40 huge command lines made
 * 4.8 MB lines); a tree is cut to fit, and the event says "truncated". */
#define DISPATCH_DEFAULT_MAX_LINE (64u * 1024)
/* What the members other than the tree and the probe's fields may take
 * (with a container's id, runtime and name of up to 256 bytes). */
#define DISPATCH_LINE_RESERVE 1024u
/* The output tag of the daemon's own lines (telemetry, rate_limited). */
#define DISPATCH_TAG_DAEMON (OUTPUT_MAX_TAGS - 1)

/* A dispatcher writing to env->out, with lines bounded by
 * DISPATCH_DEFAULT_MAX_LINE. NULL when out of memory. */
struct dispatch *dispatch_new(const struct dispatch_env *env);
/* Frees the dispatcher and the plugin sets it was given. NULL-safe. */
void dispatch_free(struct dispatch *d);

/* Serves `pi`: records with its id come here, and its probe services
 * (emit, map_fd) are this dispatcher's. Takes `plugins` (may be NULL), run
 * on each of its events and freed with the dispatcher. */
void dispatch_add_probe(struct dispatch *d, struct probe_instance *pi, struct plugin_set *plugins);

/* The offset from the kernel's boot clock to the wall clock, for the
 * timestamps; the daemon refreshes it every second. */
void dispatch_set_clock(struct dispatch *d, int64_t boot_to_realtime_ns);

/* A restart hands a probe over at one instant: the old daemon keeps its
 * events before `until_ns`, the new one those from `from_ns` (0: no bound). */
void dispatch_accept_from(struct dispatch *d, uint32_t probe_id, uint64_t from_ns);
void dispatch_accept_until(struct dispatch *d, uint32_t probe_id, uint64_t until_ns);

/* Runs every plugin's periodic tick. */
void dispatch_tick(struct dispatch *d, uint64_t now_ns);

/* The first write error, a negative errno, or 0. */
int dispatch_output_error(const struct dispatch *d);

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *stats);

/* Handles one record. Returns 0, or a negative errno when the output broke
 * (the caller stops the daemon: exit status 1). A malformed record is
 * counted in bad_records and otherwise ignored. */
int dispatch_record(struct dispatch *d, const void *data, size_t size);

/* Writes one event of `pi`: timestamp, probe, pid, proctree, the probe's
 * fields from `fields` (borrowed; the rules' marks are added to it as
 * "rules"), error; then the plugins. Used by
 * dispatch_record and by probes that produce events of their own (listener
 * snapshots, expired UDP sessions). */
int dispatch_emit(struct dispatch *d, struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                  json_t *fields);

/* Writes one "rate_limited" line per user whose events the budget dropped
 * since the last call (the daemon calls it every second). Returns 0 or a
 * negative errno when the output broke. */
int dispatch_report_drops(struct dispatch *d);

#endif
