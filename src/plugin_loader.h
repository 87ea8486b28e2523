/* plugin_loader: finds, checks, loads and runs the enrichment plugins
 * configured under one probe (ABI in include/pidtree/plugin.h). */
#ifndef PIDTREE_PLUGIN_LOADER_H
#define PIDTREE_PLUGIN_LOADER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

struct plugin_set;

/* What the daemon shares with its plugins (through struct pidtree_host):
 * its user name cache, so daemon and plugins agree and look each uid up
 * once, and its process cache's login uids. */
struct plugin_services {
    const char *(*username)(void *ctx, uint32_t uid);
    int (*loginuid)(void *ctx, uint32_t pid, uint32_t *loginuid); /* 0 or -ENOENT; may be NULL */
    void *ctx;
};

/* Loads the enabled plugins of `probe` in their configured order. Each
 * NAME is looked up as NAME.so in dirs[0], then dirs[1], ... A plugin file,
 * or any directory on its path, writable by anyone but root is refused.
 * On failure (unknown plugin, refused file, missing symbol, ABI mismatch,
 * unsupported probe, failed init) returns NULL with `err` naming the config
 * file, line and plugin, unless the plugin has unload_on_init_exception
 * set: then the failure is logged to stderr and the plugin left out, as the
 * original did. Returns an empty set when no plugin is enabled. A plugin
 * whose init succeeds with a message (an argument it ignores) adds it to
 * `warnings`, with the plugin's file and line. `services` is copied. */
struct plugin_set *plugin_set_load(const struct probe_conf *probe, const char *const *dirs,
                                   size_t n_dirs, const struct plugin_services *services,
                                   struct pt_diags *warnings, struct pt_error *err);

/* Calls every plugin's tick(), for work kept out of process(). NULL-safe. */
void plugin_set_tick(struct plugin_set *set, uint64_t now_ns);

/* Runs every plugin on `event` in order. Returns the number of plugins that
 * reported a failure (the event is still complete). */
int plugin_set_process(struct plugin_set *set, json_t *event);

/* Names of the loaded plugins, for logs and tests. */
size_t plugin_set_count(const struct plugin_set *set);

/* Calls every destroy() and unloads. NULL-safe. */
void plugin_set_free(struct plugin_set *set);

#endif
