#include "config_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

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

struct config_watch *config_watch_new(const struct config *cfg)
{
    struct config_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_files; i++) {
        int ret = watch_file(w, cfg->files[i]);
        if (ret < 0) {
            errno = -ret;
            goto fail;
        }
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
    for (size_t i = 0; i < w->n; i++) {
        free(w->files[i].dir);
        free(w->files[i].name);
    }
    free(w->files);
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

static const char *const swappable_keys[] = {"filters", "includeports", "excludeports"};

/* The probe's mapping without the keys a swap can change. */
static json_t *fixed_part(const json_t *raw)
{
    json_t *copy = raw ? json_deep_copy(raw) : json_object();
    if (!copy)
        return NULL;
    if (json_is_object(copy))
        for (size_t i = 0; i < sizeof(swappable_keys) / sizeof(swappable_keys[0]); i++)
            json_object_del(copy, swappable_keys[i]);
    return copy;
}

bool config_swappable(const struct config *cur, const struct config *next)
{
    if (cur->n_probes != next->n_probes)
        return false;
    bool same = true;
    for (size_t i = 0; i < cur->n_probes && same; i++) {
        json_t *a = fixed_part(cur->probes[i].raw), *b = fixed_part(next->probes[i].raw);
        same = strcmp(cur->probes[i].name, next->probes[i].name) == 0 && a && b && json_equal(a, b);
        json_decref(a);
        json_decref(b);
    }
    return same;
}
