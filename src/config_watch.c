#include "config_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symlinks followed from a config path to its file, at most. */
#define WATCH_SYMLINK_DEPTH 8

struct watched_file {
    int wd;
    char *dir;
    char *name;
};

struct config_watch {
    int fd;
    struct watched_file *files;
    size_t n;
};

static int watch_file(struct config_watch *w, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    char *slash = strrchr(copy, '/');
    const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
    const char *name = slash ? slash + 1 : copy;
    if (slash)
        *slash = '\0';
    int wd = inotify_add_watch(w->fd, dir,
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY);
    struct watched_file *grown = realloc(w->files, (w->n + 1) * sizeof(*grown));
    if (wd < 0 || !grown) {
        int e = wd < 0 ? errno : ENOMEM;
        if (grown)
            w->files = grown;
        free(copy);
        return -e;
    }
    w->files = grown;
    w->files[w->n] = (struct watched_file){wd, strdup(dir), strdup(name)};
    w->n++;
    free(copy);
    return 0;
}

/* Watches `path`, and every symlink met on the way to the file it names:
 * the link itself (in its directory) and what it points to. A Kubernetes
 * ConfigMap mounts config.yml -> ..data/config.yml with ..data -> ..2026_x,
 * and an update renames a new ..data over the old one: only a watch on the
 * name ..data sees that. */
static int watch_chain(struct config_watch *w, const char *path, int depth)
{
    int ret = watch_file(w, path);
    /* A link may point where nothing is yet: its own name is watched. */
    if (ret == -ENOENT && depth > 0)
        return 0;
    if (ret < 0 || depth >= WATCH_SYMLINK_DEPTH)
        return ret;
    size_t len = strlen(path);
    for (size_t end = 1; end <= len; end++) {
        if (end < len && path[end] != '/')
            continue;
        char prefix[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
        struct stat st;
        snprintf(prefix, sizeof(prefix), "%.*s", (int)end, path);
        if (lstat(prefix, &st) < 0 || !S_ISLNK(st.st_mode))
            continue;
        ssize_t n = readlink(prefix, target, sizeof(target) - 1);
        if (n <= 0)
            return 0;
        target[n] = '\0';
        char *slash = strrchr(prefix, '/');
        int dir_len = slash ? (int)(slash - prefix) : 0;
        int wrote =
            target[0] == '/' || !slash
                ? snprintf(next, sizeof(next), "%s%s", target, path + end)
                : snprintf(next, sizeof(next), "%.*s/%s%s", dir_len, prefix, target, path + end);
        if (wrote < 0 || (size_t)wrote >= sizeof(next))
            return 0;
        if ((ret = watch_file(w, prefix)) < 0)
            return ret;
        return watch_chain(w, next, depth + 1);
    }
    return 0;
}

static void watch_list_free(struct watched_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].dir);
        free(files[i].name);
    }
    free(files);
}

static bool wd_listed(const struct config_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->files[i].wd == wd)
            return true;
    return false;
}

/* Directories watched before and after keep their watch descriptor (the
 * kernel returns the same one), so an event already queued for them still
 * matches; only directories no longer needed lose their watch. */
int config_watch_update(struct config_watch *w, const struct config *cfg)
{
    struct config_watch fresh = {.fd = w->fd};
    int ret = 0;
    for (size_t i = 0; i < cfg->n_files && ret == 0; i++)
        ret = watch_chain(&fresh, cfg->files[i], 0);
    if (ret < 0) {
        watch_list_free(fresh.files, fresh.n);
        return ret;
    }
    for (size_t i = 0; i < w->n; i++)
        if (!wd_listed(&fresh, w->files[i].wd))
            inotify_rm_watch(w->fd, w->files[i].wd);
    watch_list_free(w->files, w->n);
    w->files = fresh.files;
    w->n = fresh.n;
    return 0;
}

struct config_watch *config_watch_new(const struct config *cfg)
{
    struct config_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        goto fail;
    int ret = config_watch_update(w, cfg);
    if (ret < 0) {
        errno = -ret;
        goto fail;
    }
    return w;
fail:;
    int e = errno;
    config_watch_free(w);
    errno = e;
    return NULL;
}

void config_watch_free(struct config_watch *w)
{
    if (!w)
        return;
    watch_list_free(w->files, w->n);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

int config_watch_fd(const struct config_watch *w)
{
    return w->fd;
}

static bool event_matches(const struct config_watch *w, const struct inotify_event *ev)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->files[i].wd == ev->wd && ev->len && strcmp(w->files[i].name, ev->name) == 0)
            return true;
    return false;
}

bool config_watch_read(struct config_watch *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n <= 0)
            return changed; /* EAGAIN: drained */
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            changed |= event_matches(w, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* container_labels too, as long as a probe keeps having some or none: the
 * kernel looks containers up only for probes built with them. */
static const char *const swappable_keys[] = {"filters", "includeports", "excludeports",
                                             "container_labels"};

/* The probe's mapping without the keys a swap can change: the filters, and
 * the options its schema marks swappable. */
static json_t *fixed_part(const struct probe_conf *pc)
{
    json_t *copy = pc->raw ? json_deep_copy(pc->raw) : json_object();
    if (!copy || !json_is_object(copy))
        return copy;
    for (size_t i = 0; i < sizeof(swappable_keys) / sizeof(swappable_keys[0]); i++)
        json_object_del(copy, swappable_keys[i]);
    for (size_t i = 0; pc->schema && i < pc->schema->n_options; i++)
        if (pc->schema->options[i].flags & POPT_SWAPPABLE)
            json_object_del(copy, pc->schema->options[i].name);
    return copy;
}

bool config_watch_has_remote(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (cfg->sources[i].is_url)
            return true;
    return false;
}

bool config_same(const struct config *cur, const struct config *next)
{
    if (cur->n_probes != next->n_probes)
        return false;
    for (size_t i = 0; i < cur->n_probes; i++)
        if (strcmp(cur->probes[i].name, next->probes[i].name) != 0 ||
            !json_equal(cur->probes[i].raw, next->probes[i].raw))
            return false;
    return true;
}

bool config_swappable(const struct config *cur, const struct config *next)
{
    if (cur->n_probes != next->n_probes)
        return false;
    bool same = true;
    for (size_t i = 0; i < cur->n_probes && same; i++) {
        json_t *a = fixed_part(&cur->probes[i]), *b = fixed_part(&next->probes[i]);
        same = strcmp(cur->probes[i].name, next->probes[i].name) == 0 && a && b &&
               json_equal(a, b) &&
               !cur->probes[i].n_container_labels == !next->probes[i].n_container_labels;
        json_decref(a);
        json_decref(b);
    }
    return same;
}
