#include "container_filter.h"

#include <bcc/libbpf.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One container the engine reported, and what the map holds for it. */
struct tracked {
    char id[CONTAINER_ID_MAX + 1];
    uint64_t cgroup_id;  /* 0: unknown, nothing written */
    uint32_t wanted;     /* the probes whose labels match */
    uint32_t written;    /* the bits the map holds under cgroup_id */
    bool said_no_cgroup; /* its missing cgroup was logged */
};

struct container_filter {
    int map_fd;
    const struct probe_conf *probes[PT_MAX_PROBES];
    struct tracked *items;
    size_t n, cap;
};

bool container_labels_match(const struct label_match *entries, size_t n, const json_t *labels)
{
    for (size_t i = 0; i < n; i++) {
        bool all = entries[i].n > 0;
        for (size_t k = 0; k < entries[i].n && all; k++) {
            const char *key = entries[i].keys[k], *glob = entries[i].globs[k];
            const char *value = key ? json_string_value(json_object_get(labels, key)) : NULL;
            all = value && glob && fnmatch(glob, value, 0) == 0;
        }
        if (all)
            return true;
    }
    return false;
}

struct container_filter *container_filter_new(int map_fd)
{
    struct container_filter *f = calloc(1, sizeof(*f));
    if (f)
        f->map_fd = map_fd;
    return f;
}

void container_filter_free(struct container_filter *f)
{
    if (!f)
        return;
    free(f->items);
    free(f);
}

void container_filter_set_probes(struct container_filter *f,
                                 const struct probe_conf *const probes[PT_MAX_PROBES])
{
    memcpy(f->probes, probes, sizeof(f->probes));
}

static uint32_t wanted_bits(const struct container_filter *f, const json_t *labels)
{
    uint32_t bits = 0;
    for (uint32_t id = 0; id < PT_MAX_PROBES; id++) {
        const struct probe_conf *pc = f->probes[id];
        if (pc && pc->n_container_labels &&
            container_labels_match(pc->container_labels, pc->n_container_labels, labels))
            bits |= 1u << id;
    }
    return bits;
}

static struct tracked *find(const struct container_filter *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->items[i].id, id) == 0)
            return &f->items[i];
    return NULL;
}

static struct tracked *add(struct container_filter *f, const char *id)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        struct tracked *items = realloc(f->items, cap * sizeof(*items));
        if (!items)
            return NULL;
        f->items = items;
        f->cap = cap;
    }
    struct tracked *t = &f->items[f->n++];
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    return t;
}

static void log_filter(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void log_filter(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "pidtree-bcc: container_labels: %s\n", msg);
}

/* Makes the map hold `t->wanted` under `cgroup_id`, removing what an
 * earlier cgroup id held. */
static int write_entry(struct container_filter *f, struct tracked *t, uint64_t cgroup_id)
{
    int ret = 0;
    if (t->written && t->cgroup_id != cgroup_id) {
        if (bpf_delete_elem(f->map_fd, &t->cgroup_id) < 0 && errno != ENOENT)
            ret = -errno;
        t->written = 0;
    }
    t->cgroup_id = cgroup_id;
    if (t->wanted == t->written || !cgroup_id)
        return ret;
    uint32_t bits = t->wanted;
    int err = bits ? bpf_update_elem(f->map_fd, &t->cgroup_id, &bits, 0)
                   : bpf_delete_elem(f->map_fd, &t->cgroup_id);
    if (err < 0 && !(bits == 0 && errno == ENOENT)) {
        log_filter("container %.12s: cannot update the kernel's table: %s", t->id, strerror(errno));
        return ret ? ret : -errno;
    }
    t->written = bits;
    return ret;
}

static int update(struct container_filter *f, const struct container_info *c)
{
    struct tracked *t = find(f, c->id);
    if (!t && !(t = add(f, c->id)))
        return -ENOMEM;
    t->wanted = wanted_bits(f, c->labels);
    if (t->wanted && !c->cgroup_id && !t->said_no_cgroup) {
        log_filter("container %.12s (%s) matches but its cgroup (v2) is unknown: its events are "
                   "not reported",
                   c->id, c->name ? c->name : "no name");
        t->said_no_cgroup = true;
    }
    return write_entry(f, t, c->cgroup_id);
}

static void forget(struct container_filter *f, const char *id)
{
    struct tracked *t = find(f, id);
    if (!t)
        return;
    t->wanted = 0;
    write_entry(f, t, t->cgroup_id);
    *t = f->items[--f->n];
}

void container_filter_changed(struct container_filter *f, const struct container_info *c,
                              bool present)
{
    if (f->map_fd < 0)
        return;
    if (present)
        update(f, c);
    else
        forget(f, c->id);
}

struct sync_ctx {
    struct container_filter *f;
    int ret;
};

static void sync_one(void *ctx, const struct container_info *c)
{
    struct sync_ctx *s = ctx;
    int ret = update(s->f, c);
    if (ret < 0 && s->ret == 0)
        s->ret = ret;
}

int container_filter_sync(struct container_filter *f, const struct container_engine *engine)
{
    if (f->map_fd < 0)
        return 0;
    /* What the engine no longer knows goes first, then every container is
     * matched anew (the labels asked for may have changed). */
    for (size_t i = 0; i < f->n;) {
        if (!engine || !container_engine_find(engine, f->items[i].id))
            forget(f, f->items[i].id);
        else
            i++;
    }
    struct sync_ctx s = {f, 0};
    if (engine)
        container_engine_foreach(engine, sync_one, &s);
    return s.ret;
}

bool container_filter_allows(const struct container_filter *f, uint32_t probe_id,
                             const char *container_id)
{
    const struct probe_conf *pc = probe_id < PT_MAX_PROBES ? f->probes[probe_id] : NULL;
    if (!pc || !pc->n_container_labels)
        return true;
    const struct tracked *t = container_id ? find(f, container_id) : NULL;
    return t && (t->wanted >> probe_id) & 1;
}

size_t container_filter_count(const struct container_filter *f, uint32_t probe_id)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += (f->items[i].wanted >> probe_id) & 1;
    return n;
}
