/* container_filter: container_labels, decided in the kernel by cgroup id.
 *
 * A probe with container_labels reports only processes in containers whose
 * labels match. The labels come from the container engine
 * (container_engine.h); the decision is the kernel's, at the event, before
 * anything is submitted: the map pt_containers holds, for the cgroup of each
 * container that matches some probe, the bits of the probes it matches, and
 * templates/common.bpf.c looks up the current task's cgroup and its
 * ancestors there (pt_container_dropped, called from pt_filtered). This
 * module keeps that map equal to what the engine says and the config asks,
 * writing only what changed: when a container starts or stops, when the
 * engine comes back after an absence, and when -w swaps new labels in.
 *
 * An empty map drops every event of such a probe: until the engine has
 * answered, nothing is reported (fails closed).
 */
#ifndef PIDTREE_CONTAINER_FILTER_H
#define PIDTREE_CONTAINER_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "container_engine.h"
#include "templates/pidtree_common.h"

struct container_filter;

/* Writes to the map `map_fd` (pt_containers), which it does not own. NULL
 * when out of memory. */
struct container_filter *container_filter_new(int map_fd);
/* Leaves the map as it is: a restarted daemon's filter has its own. */
void container_filter_free(struct container_filter *f);

/* The configured probes by probe id (NULL, or no container_labels: not
 * filtered). Takes effect at the next sync. The confs must outlive the
 * filter or the next call. */
void container_filter_set_probes(struct container_filter *f,
                                 const struct probe_conf *const probes[PT_MAX_PROBES]);

/* Matches every container `engine` knows (NULL: none) against the probes
 * and writes what changed. Returns 0, or the first negative errno of the
 * map (the rest is still written). */
int container_filter_sync(struct container_filter *f, const struct container_engine *engine);

/* The engine's news of one container (its listener). */
void container_filter_changed(struct container_filter *f, const struct container_info *c,
                              bool present);

/* For events the daemon makes itself (net_listen's snapshots), which no
 * kernel program filtered: does probe `probe_id` report a process of the
 * container `container_id` (NULL: a host process)? */
bool container_filter_allows(const struct container_filter *f, uint32_t probe_id,
                             const char *container_id);

/* How many containers match probe `probe_id` now. */
size_t container_filter_count(const struct container_filter *f, uint32_t probe_id);

/* The probe's container_labels against a container's labels (an object
 * of strings): some entry whose every label=glob pair has the label, with
 * a value the glob (fnmatch) matches. */
bool container_labels_match(const struct label_match *entries, size_t n, const json_t *labels);

#endif
