/* plugin_loader: finds, checks, loads and runs enrichment plugins.
 *
 * Loading follows Redis's module loader (src/module.c): one entry symbol, a
 * version constant, dlopen(RTLD_NOW | RTLD_LOCAL) so a plugin's symbols
 * never leak into the next one, and dlclose() on every failure path. The
 * daemon runs as root, so a shared object that anyone else could have
 * written is arbitrary code execution: the file and every directory above
 * it must be writable only by a trusted owner (see path_check()).
 */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pidtree/plugin.h"

/* A failing process() is logged at most this often per plugin: one broken
 * plugin must not flood stderr at the event rate. */
#define PLUGIN_LOG_INTERVAL_NS (60ull * 1000000000ull)

struct loaded_plugin {
    struct pidtree_host host; /* first: the host's address is the plugin's */
    const struct plugin_services *services;
    const char *probe;
    const struct pidtree_plugin *desc;
    void *handle;
    void *state;
    char *name;
    uint64_t failures;        /* since load */
    uint64_t failures_logged; /* `failures` at the last log line */
    uint64_t last_log_ns;     /* monotonic; valid when failures_logged > 0 */
};

struct plugin_set {
    struct plugin_services services;
    char *probe;
    struct loaded_plugin *items;
    size_t n;
};

/* Everything a single plugin's load needs, so helpers stay short. */
struct load_ctx {
    const struct probe_conf *probe;
    const struct plugin_conf *pc;
    struct pt_diags *warnings;
    struct pt_error *err;
};

/* Whether a plugin's descriptor has `field`: one built against an older
 * header ends before the fields appended since. */
#define DESC_HAS(desc, field)                                                                      \
    ((desc)->struct_size >= offsetof(struct pidtree_plugin, field) + sizeof((desc)->field))

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Records the error at FILE:LINE where the plugin is configured. Returns
 * -errnum, for `return load_error(...)`. */
__attribute__((format(printf, 3, 4))) static int load_error(const struct load_ctx *c, int errnum,
                                                            const char *fmt, ...)
{
    const char *file = c->pc->file ? c->pc->file : (c->probe->file ? c->probe->file : "config");
    int line = c->pc->file ? c->pc->line : c->probe->line;
    char msg[sizeof(c->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pt_error_set(c->err, errnum, file, line, "%s", msg);
}

static bool name_valid(const char *name)
{
    if (!name || !name[0])
        return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static const char *as_whom(char *buf, size_t len)
{
    if (geteuid() == 0)
        return "root";
    snprintf(buf, len, "uid %u", (unsigned)geteuid());
    return buf;
}

/* Root trusts only root. An unprivileged daemon (unit tests, -p) trusts
 * itself as well: it could not be given more rights by a file it owns, and
 * the directories above its own (/, /usr) belong to root anyway. */
static bool owner_trusted(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* One component of the path. A world-writable directory with the sticky bit
 * (/tmp) is accepted when its owner is trusted: there, nobody else can
 * rename or remove the entries it holds, and those entries are checked in
 * turn. */
static int component_check(const struct load_ctx *c, const char *path, bool is_file)
{
    struct stat st;
    char who[32];
    if (lstat(path, &st) < 0)
        return load_error(c, errno, "plugin '%s': cannot stat %s: %s", c->pc->name, path,
                          strerror(errno));
    if (is_file && !S_ISREG(st.st_mode))
        return load_error(c, EINVAL, "plugin '%s': %s is not a regular file", c->pc->name, path);
    if (!owner_trusted(st.st_uid))
        return load_error(c, EPERM, "plugin '%s': %s is owned by uid %u; refusing to load it as %s",
                          c->pc->name, path, (unsigned)st.st_uid, as_whom(who, sizeof(who)));
    bool sticky_dir = !is_file && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir)
        return load_error(c, EPERM,
                          "plugin '%s': %s is writable by other users; refusing to load it as %s",
                          c->pc->name, path, as_whom(who, sizeof(who)));
    return 0;
}

/* Checks `real` (a realpath(), so no symlink is left to swap) and every
 * directory above it, up to /. */
static int path_check(const struct load_ctx *c, const char *real)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", real);
    int ret = component_check(c, buf, true);
    if (ret < 0)
        return ret;
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (!slash)
            return 0;
        if (slash == buf) {
            buf[1] = '\0';
            return component_check(c, buf, false);
        }
        *slash = '\0';
        if ((ret = component_check(c, buf, false)) < 0)
            return ret;
    }
}

/* Finds NAME.so in the directories, in order. Returns 1 with the resolved
 * path in `real`, 0 when no directory has it, a negative errno on another
 * error. */
static int plugin_find(const struct load_ctx *c, const char *const *dirs, size_t n_dirs, char *real)
{
    for (size_t i = 0; i < n_dirs; i++) {
        char path[PATH_MAX];
        if (!dirs[i] || !dirs[i][0])
            continue;
        if (snprintf(path, sizeof(path), "%s/%s.so", dirs[i], c->pc->name) >= (int)sizeof(path))
            continue;
        if (realpath(path, real))
            return 1;
        if (errno != ENOENT && errno != ENOTDIR)
            return load_error(c, errno, "plugin '%s': %s: %s", c->pc->name, path, strerror(errno));
    }
    return 0;
}

static int fail_unknown(const struct load_ctx *c, const char *const *dirs, size_t n_dirs)
{
    char list[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_dirs && used < sizeof(list); i++) {
        if (!dirs[i] || !dirs[i][0])
            continue;
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", dirs[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!list[0])
        return load_error(c, ENOENT, "unknown plugin '%s' (no plugin directory configured)",
                          c->pc->name);
    return load_error(c, ENOENT, "unknown plugin '%s' (looked in %s)", c->pc->name, list);
}

static void probes_list(const char *const *probes, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; probes[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", probes[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!buf[0])
        snprintf(buf, len, "none");
}

static bool probe_supported(const char *const *probes, const char *probe)
{
    if (!probes)
        return true;
    for (size_t i = 0; probes[i]; i++) {
        if (strcmp(probes[i], probe) == 0)
            return true;
    }
    return false;
}

/* The descriptor checks, cheapest and most telling first: an ABI mismatch
 * must be reported before any field past the version is trusted. */
static int desc_check(const struct load_ctx *c, const struct pidtree_plugin *d, const char *path)
{
    const char *name = c->pc->name;
    size_t min_size = offsetof(struct pidtree_plugin, destroy) + sizeof(d->destroy);
    if (d->abi_version != PIDTREE_PLUGIN_ABI_VERSION)
        return load_error(c, EPROTO,
                          "plugin '%s': %s was built for plugin ABI version %u, this pidtree-bcc "
                          "supports version %u; rebuild it against this version's pidtree/plugin.h",
                          name, path, (unsigned)d->abi_version, PIDTREE_PLUGIN_ABI_VERSION);
    if (d->struct_size < min_size)
        return load_error(c, EPROTO,
                          "plugin '%s': %s: descriptor too small (%u bytes, at least %zu expected)",
                          name, path, (unsigned)d->struct_size, min_size);
    if (!d->name || strcmp(d->name, name) != 0)
        return load_error(c, EINVAL,
                          "plugin '%s': %s calls itself '%s'; file and plugin names must match",
                          name, path, d->name ? d->name : "(null)");
    if (!d->process)
        return load_error(c, EINVAL, "plugin '%s': %s has no process() function", name, path);
    if (!probe_supported(d->probes, c->probe->name)) {
        char list[512];
        probes_list(d->probes, list, sizeof(list));
        return load_error(c, EINVAL, "plugin '%s' does not support probe '%s' (supports: %s)", name,
                          c->probe->name, list);
    }
    return 0;
}

/* Opens and checks one plugin file into *handle. Returns 0, or a negative
 * errno with `err` set (and nothing left open). */
static int plugin_open(const struct load_ctx *c, const char *path,
                       const struct pidtree_plugin **desc, void **handle)
{
    int ret = path_check(c, path);
    if (ret < 0)
        return ret;
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle)
        return load_error(c, ENOEXEC, "plugin '%s': cannot load %s: %s", c->pc->name, path,
                          dlerror());
    dlerror();
    *desc = dlsym(*handle, PIDTREE_PLUGIN_SYMBOL);
    if (!*desc) {
        const char *why = dlerror();
        ret = load_error(c, ENOENT, "plugin '%s': %s does not export '%s': %s", c->pc->name, path,
                         PIDTREE_PLUGIN_SYMBOL, why ? why : "symbol is NULL");
    } else {
        ret = desc_check(c, *desc, path);
    }
    if (ret < 0) {
        dlclose(*handle);
        *handle = NULL;
    }
    return ret;
}

/* Runs init_host() or init(). Returns 1 when the plugin is ready, a
 * negative errno when it failed. A message left by a successful init is a
 * warning. */
static int plugin_init(const struct load_ctx *c, struct loaded_plugin *lp)
{
    char msg[512] = "";
    int (*init_host)(const char *, const json_t *, const struct pidtree_host *, void **, char *,
                     size_t) = DESC_HAS(lp->desc, init_host) ? lp->desc->init_host : NULL;
    int ret = 0;
    if (init_host)
        ret = init_host(c->probe->name, c->pc->args, &lp->host, &lp->state, msg, sizeof(msg));
    else if (lp->desc->init)
        ret = lp->desc->init(c->probe->name, c->pc->args, &lp->state, msg, sizeof(msg));
    if (ret == 0 && msg[0] &&
        pt_diags_add(c->warnings, c->pc->file ? c->pc->file : c->probe->file,
                     c->pc->file ? c->pc->line : c->probe->line, "%s.plugins.%s: %s",
                     c->probe->name, c->pc->name, msg) < 0) {
        if (lp->desc->destroy)
            lp->desc->destroy(lp->state);
        return load_error(c, ENOMEM, "plugin '%s': out of memory", c->pc->name);
    }
    if (ret == 0)
        return 1;
    if (!msg[0])
        snprintf(msg, sizeof(msg), "init() returned %d", ret);
    return load_error(c, EINVAL, "plugin '%s' failed to initialise: %s", c->pc->name, msg);
}

/* ---- the host API ---- */

static struct loaded_plugin *host_plugin(const struct pidtree_host *host)
{
    return (struct loaded_plugin *)(void *)host; /* host is the first member */
}

static void host_log(const struct pidtree_host *host, const char *fmt, ...)
{
    const struct loaded_plugin *lp = host_plugin(host);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "pidtree-bcc: probe '%s': plugin '%s': %s\n", lp->probe, lp->name, msg);
}

static const char *host_username(const struct pidtree_host *host, uint32_t uid)
{
    const struct plugin_services *svc = host_plugin(host)->services;
    return svc->username(svc->ctx, uid);
}

static int host_loginuid(const struct pidtree_host *host, uint32_t pid, uint32_t *loginuid)
{
    const struct plugin_services *svc = host_plugin(host)->services;
    return svc->loginuid ? svc->loginuid(svc->ctx, pid, loginuid) : -ENOENT;
}

static uint64_t host_now_ns(const struct pidtree_host *host)
{
    return monotonic_ns();
}

static void host_make(struct loaded_plugin *lp, const struct plugin_set *set)
{
    lp->services = &set->services;
    lp->probe = set->probe;
    lp->host = (struct pidtree_host){.struct_size = sizeof(struct pidtree_host),
                                     .log = host_log,
                                     .username = host_username,
                                     .loginuid = host_loginuid,
                                     .now_ns = host_now_ns};
}

/* Loads one configured plugin into `lp`. Returns 1 when it is ready, a
 * negative errno when it could not be found, loaded or initialised. */
static int plugin_load_one(const struct load_ctx *c, const char *const *dirs, size_t n_dirs,
                           const struct plugin_set *set, struct loaded_plugin *lp)
{
    char path[PATH_MAX];
    if (!name_valid(c->pc->name))
        return load_error(c, EINVAL,
                          "plugin name '%s' is not valid (letters, digits, '_' and '-' only)",
                          c->pc->name ? c->pc->name : "");
    int found = plugin_find(c, dirs, n_dirs, path);
    if (found < 0)
        return found;
    if (found == 0)
        return fail_unknown(c, dirs, n_dirs);
    *lp = (struct loaded_plugin){0};
    host_make(lp, set);
    int ret = plugin_open(c, path, &lp->desc, &lp->handle);
    if (ret < 0)
        return ret;
    lp->name = strdup(c->pc->name);
    ret = lp->name ? plugin_init(c, lp)
                   : load_error(c, ENOMEM, "plugin '%s': out of memory", c->pc->name);
    if (ret <= 0) {
        free(lp->name);
        dlclose(lp->handle);
    }
    return ret;
}

struct plugin_set *plugin_set_load(const struct probe_conf *probe, const char *const *dirs,
                                   size_t n_dirs, const struct plugin_services *services,
                                   struct pt_diags *warnings, struct pt_error *err)
{
    struct plugin_set *set = calloc(1, sizeof(*set));
    if (set) {
        set->probe = strdup(probe->name ? probe->name : "");
        set->items = calloc(probe->n_plugins ? probe->n_plugins : 1, sizeof(*set->items));
        set->services = *services;
    }
    if (!set || !set->probe || !set->items) {
        pt_error_set(err, ENOMEM, probe->file, probe->line, "plugins of probe '%s': out of memory",
                     probe->name);
        plugin_set_free(set);
        return NULL;
    }
    for (size_t i = 0; i < probe->n_plugins; i++) {
        const struct plugin_conf *pc = &probe->plugins[i];
        if (!pc->enabled)
            continue;
        struct load_ctx c = {probe, pc, warnings, err};
        int ret = plugin_load_one(&c, dirs, n_dirs, set, &set->items[set->n]);
        /* As the original: unload_on_init_exception covers every reason a
         * plugin is not there (missing, wrong probe, failed init). */
        if (ret < 0 && pc->unload_on_init_exception) {
            char line[sizeof(err->file) + sizeof(err->msg) + 16];
            pt_error_format(err, line, sizeof(line));
            fprintf(stderr, "pidtree-bcc: %s; continuing without it (unload_on_init_exception)\n",
                    line);
            pt_error_clear(err);
            continue;
        }
        if (ret < 0) {
            plugin_set_free(set);
            return NULL;
        }
        set->n++;
    }
    return set;
}

void plugin_set_tick(struct plugin_set *set, uint64_t now_ns)
{
    for (size_t i = 0; set && i < set->n; i++) {
        const struct pidtree_plugin *d = set->items[i].desc;
        if (DESC_HAS(d, tick) && d->tick)
            d->tick(set->items[i].state, now_ns);
    }
}

/* Logs the first failure at once, then at most one line a minute with the
 * count since the previous line. */
static void failure_note(const struct plugin_set *set, struct loaded_plugin *lp)
{
    uint64_t now = monotonic_ns();
    lp->failures++;
    if (lp->failures_logged && now - lp->last_log_ns < PLUGIN_LOG_INTERVAL_NS)
        return;
    fprintf(stderr,
            "pidtree-bcc: probe '%s': plugin '%s' failed to process %llu event(s) "
            "(%llu in total); the events were written without its fields\n",
            set->probe, lp->name, (unsigned long long)(lp->failures - lp->failures_logged),
            (unsigned long long)lp->failures);
    lp->failures_logged = lp->failures;
    lp->last_log_ns = now;
}

int plugin_set_process(struct plugin_set *set, json_t *event)
{
    int failed = 0;
    if (!set)
        return 0;
    for (size_t i = 0; i < set->n; i++) {
        struct loaded_plugin *lp = &set->items[i];
        if (lp->desc->process(lp->state, event) != 0) {
            failure_note(set, lp);
            failed++;
        }
    }
    return failed;
}

size_t plugin_set_count(const struct plugin_set *set)
{
    return set ? set->n : 0;
}

void plugin_set_free(struct plugin_set *set)
{
    if (!set)
        return;
    /* Reverse order: a later plugin may have been loaded on the assumption
     * that an earlier one was there. */
    for (size_t i = set->n; i-- > 0;) {
        struct loaded_plugin *lp = &set->items[i];
        if (lp->desc->destroy)
            lp->desc->destroy(lp->state);
        dlclose(lp->handle);
        free(lp->name);
    }
    free(set->items);
    free(set->probe);
    free(set);
}
