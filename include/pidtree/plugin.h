/* pidtree-bcc enrichment plugin ABI.
 *
 * A plugin is a shared object that exports one symbol, `pidtree_plugin`, a
 * struct pidtree_plugin describing itself. The daemon dlopen()s it by name
 * (NAME.so in its built-in plugin directory, then in --extra-plugin-path),
 * checks `abi_version` and `struct_size`, checks that the probe it is
 * configured under is one the plugin supports, calls init() once per probe
 * that lists it, process() once per event of that probe, and destroy() once
 * at shutdown.
 *
 * Threading and lifetime: every call comes from the daemon's single event
 * thread, never concurrently. A plugin must not block (no network, no
 * unbounded file reads on each event), must not call exit(), install signal
 * handlers, fork, or keep references to an event after process() returns.
 *
 * Compatibility: fields are only ever appended to struct pidtree_plugin and
 * `struct_size` tells the daemon which ones a plugin knows. An incompatible
 * change increments PIDTREE_PLUGIN_ABI_VERSION and the daemon refuses
 * plugins built for another version with a message saying so.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags --libs pidtree-plugin) ...
 */
#ifndef PIDTREE_PLUGIN_H
#define PIDTREE_PLUGIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PIDTREE_PLUGIN_ABI_VERSION 1
#define PIDTREE_PLUGIN_SYMBOL "pidtree_plugin"

struct pidtree_plugin {
    /* PIDTREE_PLUGIN_ABI_VERSION and sizeof(struct pidtree_plugin) as the
     * plugin was built; PIDTREE_PLUGIN_DEFINE fills both. */
    uint32_t abi_version;
    uint32_t struct_size;
    /* The name the plugin is configured by; must equal its file name. */
    const char *name;
    /* NULL-terminated list of probe names the plugin works with, or NULL
     * when it works with every probe. */
    const char *const *probes;

    /* Called once per configured probe. `probe` names the probe; `args` is
     * the plugin's whole YAML mapping as JSON (borrowed; copy what must be
     * kept). Store per-instance state in *state. Return 0, or non-zero with
     * a message for the operator in `err` (it names the plugin's own field,
     * e.g. "hostfiles: /etc/x: No such file or directory"). A message left
     * in `err` with a return of 0 is a warning (an argument the plugin
     * ignores): the daemon reports it, and refuses it with --strict. May be
     * NULL. */
    int (*init)(const char *probe, const json_t *args, void **state, char *err, size_t errlen);

    /* Called for every event of the probe, after the daemon filled the
     * common fields (timestamp, probe, pid, proctree, error) and the probe's
     * own. Add or change fields of `event` (borrowed). Return 0; non-zero
     * means the plugin failed on this event: the daemon counts it, logs it
     * once a minute, and still writes the event. Required. */
    int (*process)(void *state, json_t *event);

    /* Frees what init() allocated. May be NULL. */
    void (*destroy)(void *state);
};

/* Declares the exported descriptor:
 *   PIDTREE_PLUGIN_DEFINE("myplugin", my_probes, my_init, my_process, my_destroy);
 */
#define PIDTREE_PLUGIN_DEFINE(NAME, PROBES, INIT, PROCESS, DESTROY)                                \
    __attribute__((visibility("default"))) const struct pidtree_plugin pidtree_plugin = {          \
        .abi_version = PIDTREE_PLUGIN_ABI_VERSION,                                                 \
        .struct_size = sizeof(struct pidtree_plugin),                                              \
        .name = (NAME),                                                                            \
        .probes = (PROBES),                                                                        \
        .init = (INIT),                                                                            \
        .process = (PROCESS),                                                                      \
        .destroy = (DESTROY),                                                                      \
    }

#ifdef __cplusplus
}
#endif

#endif
