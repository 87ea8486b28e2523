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
 * unbounded file reads on each event: slow work goes in tick()), must not
 * call exit(), install signal handlers, fork, or keep references to an
 * event after process() returns. Every pointer the daemon passes (`probe`,
 * `args`, `event`) is borrowed for the call only: copy what must be kept.
 * The host API (struct pidtree_host) is the exception: it stays valid from
 * init_host() until destroy() returns.
 *
 * Compatibility: fields are only ever appended to struct pidtree_plugin and
 * `struct_size` tells the daemon which ones a plugin knows: a plugin built
 * against an older header (without init_host and tick) loads unchanged. An
 * incompatible change increments PIDTREE_PLUGIN_ABI_VERSION and the daemon
 * refuses plugins built for another version with a message saying so.
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

/* What the daemon offers a plugin, handed to init_host(). Fields are only
 * appended; `struct_size` says which ones this daemon has. */
struct pidtree_host {
    uint32_t struct_size; /* sizeof(struct pidtree_host) as the daemon was built */
    /* One line to the daemon's log (stderr), prefixed with the probe and
     * the plugin's name; no newline needed. */
    void (*log)(const struct pidtree_host *host, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* The user name of `uid` (its decimal form when it has none), from the
     * cache the daemon itself uses for `proctree`: valid until destroy(). */
    const char *(*username)(const struct pidtree_host *host, uint32_t uid);
    /* The audit login uid of a process in the daemon's process cache, as the
     * kernel recorded it at fork and exec. Returns 0 with *loginuid set, or
     * non-zero when the process is unknown or no login set one. */
    int (*loginuid)(const struct pidtree_host *host, uint32_t pid, uint32_t *loginuid);
    /* CLOCK_MONOTONIC in nanoseconds. */
    uint64_t (*now_ns)(const struct pidtree_host *host);
    void *daemon; /* the daemon's, not to be touched */
};

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

    /* Called once per configured probe (unless init_host is set). `probe`
     * names the probe; `args` is the plugin's whole YAML mapping as JSON;
     * both are borrowed for the call only: copy what must be kept. Store
     * per-instance state in *state. Return 0, or non-zero with a message for
     * the operator in `err` (it names the plugin's own field, e.g.
     * "hostfiles: /etc/x: No such file or directory"). A message left in
     * `err` with a return of 0 is a warning (an argument the plugin
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

    /* ---- Appended in pidtree-bcc 1.1; read only when struct_size covers
     * them, so plugins built against 1.0's header load unchanged. ---- */

    /* As init(), with the daemon's services; called instead of init() when
     * set. `host` stays valid until destroy() returns. May be NULL. */
    int (*init_host)(const char *probe, const json_t *args, const struct pidtree_host *host,
                     void **state, char *err, size_t errlen);

    /* Called about once a second, between events, with CLOCK_MONOTONIC in
     * ns: the place for slow work (re-reading files) that process() must
     * not do. May be NULL. */
    void (*tick)(void *state, uint64_t now_ns);
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

/* The same with the 1.1 entry points:
 *   PIDTREE_PLUGIN_DEFINE_HOST("myplugin", my_probes, my_init_host, my_process, my_tick,
 *                              my_destroy);
 */
#define PIDTREE_PLUGIN_DEFINE_HOST(NAME, PROBES, INIT_HOST, PROCESS, TICK, DESTROY)                \
    __attribute__((visibility("default"))) const struct pidtree_plugin pidtree_plugin = {          \
        .abi_version = PIDTREE_PLUGIN_ABI_VERSION,                                                 \
        .struct_size = sizeof(struct pidtree_plugin),                                              \
        .name = (NAME),                                                                            \
        .probes = (PROBES),                                                                        \
        .init = NULL,                                                                              \
        .process = (PROCESS),                                                                      \
        .destroy = (DESTROY),                                                                      \
        .init_host = (INIT_HOST),                                                                  \
        .tick = (TICK),                                                                            \
    }

#ifdef __cplusplus
}
#endif

#endif
