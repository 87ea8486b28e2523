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
#include "pidtree_common.h"
#include "probe.h"
#include "proctree.h"
#include "strbuf.h"

struct plugin_set;
struct uid_budget;

/* Exec arguments wait here between execve() entry and its result. */
#define DISPATCH_PENDING_EXECS 64

struct pending_exec {
    uint32_t pid;
    uint32_t truncated;
    char *args;
    size_t len;
};

struct dispatch {
    struct proc_cache *cache;
    struct output *out;
    struct probe_instance *probes[PT_MAX_PROBES]; /* by probe id */
    struct plugin_set *plugins[PT_MAX_PROBES];    /* by probe id; may be NULL */
    int64_t boot_to_realtime_ns;

    /* --lost-event-telemetry: every N events of a probe, a telemetry line
     * with the lost count read through lost_reader. */
    unsigned long lost_event_telemetry;
    uint64_t (*lost_reader)(void *ctx, uint32_t probe_id);
    void *lost_ctx;

    /* The module's maps, for probes that read their own (udp_session). */
    int (*map_fd)(void *ctx, const char *name);
    void *map_ctx;

    struct pending_exec pending[DISPATCH_PENDING_EXECS];
    unsigned pending_next;

    uint64_t records;
    uint64_t bad_records;
    uint64_t events[PT_MAX_PROBES];
    /* Latency from the kernel's timestamp to the line being handed to
     * output, for the benchmark: sum and max, in ns. */
    uint64_t latency_sum_ns;
    uint64_t latency_max_ns;
    int output_error; /* the first write error, a negative errno */
    uint64_t unbuilt; /* lines lost for lack of memory */
    struct strbuf line;

    /* Bounds against a user who makes huge trees or floods: see README
     * "Faults and hostile input". */
    size_t max_line;           /* the tree is cut to keep lines within it */
    struct uid_budget *budget; /* NULL: no per-user limit; owned by the caller */
    uint64_t rate_limited[PT_MAX_PROBES];
    /* A restart hands a probe over at one instant: the old daemon keeps its
     * events before it, the new one those from it (0: no bound). */
    uint64_t accept_from_ns[PT_MAX_PROBES], accept_until_ns[PT_MAX_PROBES];
};

/* Lines are bounded by this much (a tree of 40 huge command lines made
 * 4.8 MB lines); a tree is cut to fit, and the event says "truncated". */
#define DISPATCH_DEFAULT_MAX_LINE (64u * 1024)
/* What the members other than the tree and the probe's fields may take. */
#define DISPATCH_LINE_RESERVE 512u
/* The output tag of the daemon's own lines (telemetry, rate_limited). */
#define DISPATCH_TAG_DAEMON (OUTPUT_MAX_TAGS - 1)

void dispatch_init(struct dispatch *d, struct proc_cache *cache, struct output *out);
void dispatch_release(struct dispatch *d);

/* Handles one record. Returns 0, or a negative errno when the output broke
 * (the caller stops the daemon: exit status 1). A malformed record is
 * counted in bad_records and otherwise ignored. */
int dispatch_record(struct dispatch *d, const void *data, size_t size);

/* Writes one event of `pi`: timestamp, probe, pid, proctree, the probe's
 * fields from `fields` (borrowed), error; then the plugins. Used by
 * dispatch_record and by probes that produce events of their own (listener
 * snapshots, expired UDP sessions). */
int dispatch_emit(struct dispatch *d, struct probe_instance *pi, uint32_t pid, uint64_t boot_ns,
                  json_t *fields);

/* Writes one "rate_limited" line per user whose events the budget dropped
 * since the last call (the daemon calls it every second). Returns 0 or a
 * negative errno when the output broke. */
int dispatch_report_drops(struct dispatch *d);

/* The probe_services a probe_instance gets, with the dispatch as ctx. */
extern const struct probe_services dispatch_services;

#endif
