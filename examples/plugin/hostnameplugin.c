/* hostnameplugin: an out-of-tree pidtree-bcc plugin, built against the
 * installed header only (see Makefile and README.md).
 *
 * Adds a "hostname" field to every event, so lines from many hosts can be
 * merged into one log. The name is read once, at init: process() runs for
 * every event and must stay cheap. Works with every probe.
 */
/* gethostname() and HOST_NAME_MAX are POSIX, not C11. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pidtree/plugin.h>

#ifndef HOST_NAME_MAX
#define HOST_NAME_MAX 255
#endif

struct hostname_state {
    char name[HOST_NAME_MAX + 1];
};

static int hostname_init(const char *probe, const json_t *args, void **state, char *err,
                         size_t errlen)
{
    (void)probe;
    (void)args; /* takes no arguments beyond enabled/unload_on_init_exception */
    struct hostname_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (gethostname(s->name, sizeof(s->name) - 1) < 0) {
        snprintf(err, errlen, "gethostname: %s", strerror(errno));
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int hostname_process(void *state, json_t *event)
{
    const struct hostname_state *s = state;
    return json_object_set_new(event, "hostname", json_string(s->name));
}

static void hostname_destroy(void *state)
{
    free(state);
}

/* NULL: every probe. A plugin that only makes sense for some probes lists
 * them, e.g. static const char *const probes[] = {"tcp_connect", NULL}; */
PIDTREE_PLUGIN_DEFINE("hostnameplugin", NULL, hostname_init, hostname_process, hostname_destroy);
