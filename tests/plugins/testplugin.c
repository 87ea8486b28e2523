/* Test plugins for the loader: one source, built once per behaviour with
 * -DTP_NAME="name" -DTP_MODE_<MODE> (see tests/CMakeLists.txt). Each is a
 * real shared object so the loader is tested exactly as it runs. */
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
static int tp_init(const char *probe, const json_t *args, void **state, char *err, size_t errlen)
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

static int tp_process(void *state, json_t *event)
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

#if defined(TP_MODE_NOSYMBOL)
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
