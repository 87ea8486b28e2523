/* Test plugins for the loader: one source, built once per behaviour with
 * -DTP_NAME="name" -DTP_MODE_<MODE> (see tests/CMakeLists.txt). Each is a
 * real shared object so the loader is tested exactly as it runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pidtree/plugin.h>

#ifndef TP_NAME
#error "TP_NAME must name the plugin"
#endif

/* Appends the plugin's name to the event's "order" list, so tests see
 * which plugins ran and in what order. The state is allocated so that a
 * missing destroy() shows up as a leak under valgrind. */
__attribute__((unused)) static int tp_init(const char *probe, const json_t *args, void **state,
                                           char *err, size_t errlen)
{
    (void)probe;
    (void)args;
#ifdef TP_MODE_INITFAIL
    (void)state;
    snprintf(err, errlen, "boom: the test plugin always fails");
    return -1;
#else
    (void)err;
    (void)errlen;
    *state = strdup(TP_NAME);
    return *state ? 0 : -1;
#endif
}

__attribute__((unused)) static int tp_process(void *state, json_t *event)
{
#ifdef TP_MODE_FAILING
    (void)state;
    (void)event;
    return -1;
#else
    json_t *order = json_object_get(event, "order");
    if (!order) {
        order = json_array();
        json_object_set_new(event, "order", order);
    }
    return json_array_append_new(order, json_string(state));
#endif
}

static void tp_destroy(void *state)
{
    free(state);
}

#if defined(TP_MODE_HOST)
/* The 1.1 entry points: init_host() keeps the host, tick() counts, and
 * process() reports what the host said. */
struct tp_host_state {
    const struct pidtree_host *host;
    int ticks;
    uint64_t last_tick_ns;
};

static int tp_init_host(const char *probe, const json_t *args, const struct pidtree_host *host,
                        void **state, char *err, size_t errlen)
{
    struct tp_host_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->host = host;
    host->log(host, "initialised for %s", probe);
    *state = s;
    return 0;
}

static void tp_tick(void *state, uint64_t now_ns)
{
    struct tp_host_state *s = state;
    s->ticks++;
    s->last_tick_ns = now_ns;
}

static int tp_host_process(void *state, json_t *event)
{
    struct tp_host_state *s = state;
    uint32_t loginuid = 0;
    json_t *pid = json_object_get(event, "pid");
    int has = s->host->loginuid(s->host, (uint32_t)json_integer_value(pid), &loginuid) == 0;
    return json_object_set_new(event, "ticks", json_integer(s->ticks)) ||
           json_object_set_new(event, "last_tick_ns", json_integer((json_int_t)s->last_tick_ns)) ||
           json_object_set_new(event, "user0", json_string(s->host->username(s->host, 0))) ||
           json_object_set_new(event, "loginuid", has ? json_integer(loginuid) : json_null()) ||
           json_object_set_new(event, "host_size", json_integer(s->host->struct_size)) ||
           json_object_set_new(event, "now_ns", json_integer((json_int_t)s->host->now_ns(s->host)));
}

PIDTREE_PLUGIN_DEFINE_HOST(TP_NAME, NULL, tp_init_host, tp_host_process, tp_tick, tp_destroy);
#elif defined(TP_MODE_OLDABI)
/* Built as against the 1.0 header: the descriptor ends after destroy, and
 * struct_size says so. What follows it here is poison where 1.1 has
 * init_host and tick: a loader that read past struct_size would call it. */
struct tp_plugin_v10 {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;
    const char *const *probes;
    int (*init)(const char *, const json_t *, void **, char *, size_t);
    int (*process)(void *, json_t *);
    void (*destroy)(void *);
};

__attribute__((visibility("default"))) const struct {
    struct tp_plugin_v10 v10;
    uintptr_t poison[2];
} pidtree_plugin = {
    {PIDTREE_PLUGIN_ABI_VERSION, sizeof(struct tp_plugin_v10), TP_NAME, NULL, tp_init, tp_process,
     tp_destroy},
    {1, 1},
};
#elif defined(TP_MODE_NOSYMBOL)
/* Exports something, but not the descriptor. */
__attribute__((visibility("default"))) const struct pidtree_plugin not_a_plugin = {
    .abi_version = PIDTREE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct pidtree_plugin),
    .name = TP_NAME,
    .init = tp_init,
    .process = tp_process,
    .destroy = tp_destroy,
};
#elif defined(TP_MODE_BADABI)
__attribute__((visibility("default"))) const struct pidtree_plugin pidtree_plugin = {
    .abi_version = PIDTREE_PLUGIN_ABI_VERSION + 98,
    .struct_size = sizeof(struct pidtree_plugin),
    .name = TP_NAME,
    .init = tp_init,
    .process = tp_process,
    .destroy = tp_destroy,
};
#elif defined(TP_MODE_WRONGNAME)
PIDTREE_PLUGIN_DEFINE("somebodyelse", NULL, tp_init, tp_process, tp_destroy);
#else
PIDTREE_PLUGIN_DEFINE(TP_NAME, NULL, tp_init, tp_process, tp_destroy);
#endif
