/* loginuidmap: adds the audit login uid (who logged in, whatever they su'd
 * or sudo'd to since) to events.
 *
 * For every proctree entry but PID 1, reads /proc/PID/loginuid and, when it
 * is set, adds "loginuid" (integer) and "loginname" (the user name, or the
 * number as a string when the uid has no name). With `top_level: true` only
 * the event itself gets the two fields, from the event's own pid. A process
 * that has gone, or a kernel without audit support (no loginuid file),
 * simply adds nothing: that is not a failure.
 *
 * PIDTREE_PROC_ROOT, read at init, replaces /proc (for tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <pidtree/plugin.h>

/* The kernel's "never set" value: (uid_t)-1. */
#define LOGINUID_UNSET 4294967295u
/* User names are looked up through NSS, which may be LDAP: cache them so an
 * event does not cost a lookup per tree entry, and let a cached name expire
 * so renamed or newly resolvable users show up. */
#define NAME_CACHE_SIZE 32
#define NAME_CACHE_TTL_NS (300ull * 1000000000ull)

struct name_cache_entry {
    uint32_t uid;
    uint64_t stamp_ns; /* 0 = unused */
    char name[64];
};

struct loginuidmap {
    bool top_level;
    char *proc_root;
    struct name_cache_entry cache[NAME_CACHE_SIZE];
    size_t next_slot;
};

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Returns 0 with *uid set, or -1 when the process is gone or the loginuid
 * is unset or unreadable. */
static int loginuid_read(const struct loginuidmap *s, json_int_t pid, uint32_t *uid)
{
    char path[PATH_MAX], buf[32];
    snprintf(path, sizeof(path), "%s/%lld/loginuid", s->proc_root, (long long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf || v >= LOGINUID_UNSET)
        return -1;
    *uid = (uint32_t)v;
    return 0;
}

static void name_resolve(uint32_t uid, char *out, size_t len)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
        snprintf(out, len, "%s", res->pw_name);
    else
        snprintf(out, len, "%u", (unsigned)uid);
}

static const char *name_lookup(struct loginuidmap *s, uint32_t uid)
{
    uint64_t now = monotonic_ns();
    for (size_t i = 0; i < NAME_CACHE_SIZE; i++) {
        struct name_cache_entry *e = &s->cache[i];
        if (e->stamp_ns && e->uid == uid && now - e->stamp_ns < NAME_CACHE_TTL_NS)
            return e->name;
    }
    struct name_cache_entry *e = &s->cache[s->next_slot];
    s->next_slot = (s->next_slot + 1) % NAME_CACHE_SIZE;
    e->uid = uid;
    e->stamp_ns = now ? now : 1;
    name_resolve(uid, e->name, sizeof(e->name));
    return e->name;
}

/* Adds the fields to `obj` for `pid`. Returns 0, or -1 when JSON failed. */
static int annotate(struct loginuidmap *s, json_t *obj, json_int_t pid)
{
    uint32_t uid;
    if (loginuid_read(s, pid, &uid) < 0)
        return 0;
    if (json_object_set_new(obj, "loginuid", json_integer(uid)) < 0 ||
        json_object_set_new(obj, "loginname", json_string(name_lookup(s, uid))) < 0)
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

static int loginuidmap_init(const char *probe, const json_t *args, void **state, char *err,
                            size_t errlen)
{
    (void)probe; /* one behaviour for every supported probe */
    struct loginuidmap *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const char *root = getenv("PIDTREE_PROC_ROOT");
    s->proc_root = strdup(root && root[0] ? root : "/proc");
    int ret = s->proc_root ? args_parse(s, args, err, errlen) : -ENOMEM;
    if (ret < 0) {
        if (ret == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        free(s->proc_root);
        free(s);
        return ret;
    }
    *state = s;
    return 0;
}

static void loginuidmap_destroy(void *state)
{
    struct loginuidmap *s = state;
    if (!s)
        return;
    free(s->proc_root);
    free(s);
}

static const char *const loginuidmap_probes[] = {"tcp_connect", "net_listen", NULL};

PIDTREE_PLUGIN_DEFINE("loginuidmap", loginuidmap_probes, loginuidmap_init, loginuidmap_process,
                      loginuidmap_destroy);
