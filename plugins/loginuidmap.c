/* loginuidmap: adds the audit login uid (who logged in, whatever they su'd
 * or sudo'd to since) to events.
 *
 * For every proctree entry but PID 1 whose loginuid is set, adds
 * "loginuid" (integer) and "loginname" (the user name, or the number as a
 * string when the uid has no name). With `top_level: true` only the event
 * itself gets the two fields, from the event's own pid. The loginuid is the
 * one the kernel recorded with the process's fork and exec (the daemon's
 * process cache, through the host API), not /proc read when the line is
 * written, by which time the process may be gone or its pid reused. Names
 * come from the daemon's user name cache, the one `proctree` uses. A
 * process without a login (daemons, or a kernel without audit) adds
 * nothing: that is not a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pidtree/plugin.h>

struct loginuidmap {
    bool top_level;
    const struct pidtree_host *host;
};

/* Adds the fields to `obj` for `pid`. Returns 0, or -1 when JSON failed. */
static int annotate(struct loginuidmap *s, json_t *obj, json_int_t pid)
{
    uint32_t uid;
    if (pid <= 0 || pid > UINT32_MAX || s->host->loginuid(s->host, (uint32_t)pid, &uid) != 0)
        return 0;
    if (json_object_set_new(obj, "loginuid", json_integer(uid)) < 0 ||
        json_object_set_new(obj, "loginname", json_string(s->host->username(s->host, uid))) < 0)
        return -1;
    return 0;
}

static int loginuidmap_process(void *state, json_t *event)
{
    struct loginuidmap *s = state;
    if (s->top_level) {
        json_t *pid = json_object_get(event, "pid");
        return json_is_integer(pid) ? annotate(s, event, json_integer_value(pid)) : 0;
    }
    json_t *tree = json_object_get(event, "proctree");
    size_t i;
    json_t *entry;
    int ret = 0;
    json_array_foreach(tree, i, entry)
    {
        json_t *pid = json_object_get(entry, "pid");
        /* PID 1 has no login session; the original skipped it too. */
        if (json_is_integer(pid) && json_integer_value(pid) != 1 &&
            annotate(s, entry, json_integer_value(pid)) < 0)
            ret = -1;
    }
    return ret;
}

/* A boolean as the original's users write one: true/false, 1/0, or the
 * words PyYAML reads as booleans, quoted. 1 or 0; -1 for anything else. */
static int truth_value(const json_t *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    for (size_t i = 0; json_is_string(v) && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(json_string_value(v), yes[i]) == 0)
            return 1;
        if (strcasecmp(json_string_value(v), no[i]) == 0)
            return 0;
    }
    return -1;
}

static int args_parse(struct loginuidmap *s, const json_t *args, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    if (!args)
        return 0;
    if (!json_is_object(args)) {
        snprintf(err, errlen, "arguments must be a mapping");
        return -EINVAL;
    }
    json_object_foreach((json_t *)args, key, value)
    {
        if (strcmp(key, "top_level") == 0) {
            int b = truth_value(value);
            if (b < 0) {
                snprintf(err, errlen, "top_level: must be true or false");
                return -EINVAL;
            }
            s->top_level = b == 1;
        } else if (strcmp(key, "enabled") && strcmp(key, "unload_on_init_exception")) {
            /* Ignored, as the original did; the daemon reports the warning
             * init() leaves in `err`. */
            snprintf(err, errlen, "unknown argument '%s' ignored (loginuidmap takes top_level)",
                     key);
        }
    }
    return 0;
}

static int loginuidmap_init_host(const char *probe, const json_t *args,
                                 const struct pidtree_host *host, void **state, char *err,
                                 size_t errlen)
{
    (void)probe; /* one behaviour for every supported probe */
    struct loginuidmap *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->host = host;
    int ret = args_parse(s, args, err, errlen);
    if (ret < 0) {
        free(s);
        return ret;
    }
    *state = s;
    return 0;
}

static void loginuidmap_destroy(void *state)
{
    free(state);
}

static const char *const loginuidmap_probes[] = {"tcp_connect", "net_listen", NULL};

PIDTREE_PLUGIN_DEFINE_HOST("loginuidmap", loginuidmap_probes, loginuidmap_init_host,
                           loginuidmap_process, NULL, loginuidmap_destroy);
