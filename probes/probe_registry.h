/* probe_registry: every probe a config may name: the built-in ones, then
 * those found in --extra-probe-path. */
#ifndef PIDTREE_PROBE_REGISTRY_H
#define PIDTREE_PROBE_REGISTRY_H

#include <stddef.h>

#include "error.h"
#include "probe.h"

struct probe_registry {
    struct probe_ops *extra; /* probes loaded from the extra probe path */
    size_t n_extra;
};

/* Returns 0, or a negative errno with `err` set (an extra probe path that
 * cannot be read or holds a malformed probe). `extra_dir` may be NULL. */
int probe_registry_init(struct probe_registry *reg, const char *extra_dir, struct pt_error *err);
const struct probe_ops *probe_registry_find(const struct probe_registry *reg, const char *name);
/* What the config loader needs to know of the probes: their names and
 * option schemas. Valid while `reg` is. */
struct config_probes probe_registry_config(const struct probe_registry *reg);
void probe_registry_release(struct probe_registry *reg);

#endif
