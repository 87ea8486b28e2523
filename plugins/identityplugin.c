/* identityplugin: the smallest working plugin. It changes nothing; it shows
 * the shape every plugin has and lets tests check the loader end to end. */
#include <pidtree/plugin.h>

static int identity_process(void *state, json_t *event)
{
    (void)state;
    (void)event;
    return 0;
}

/* NULL probes: works with every probe. No init or destroy: no state. */
PIDTREE_PLUGIN_DEFINE("identityplugin", NULL, NULL, identity_process, NULL);
