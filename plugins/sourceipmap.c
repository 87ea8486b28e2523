/* sourceipmap: names the source address of tcp_connect events.
 *
 * Maps the event's `saddr` to a name through a merged series of
 * /etc/hosts-format files and stores it under `attribute_key` (default
 * "source_host"); an unmapped or absent address gets "". The files are
 * checked for changes every 2 s (as the original did) from tick(), never
 * while an event waits: a re-read may take up to 64 MB of files. So an
 * address can be misattributed for that long after a file changes.
 *
 * Merge order: the last definition of an address wins, within a file and
 * across files, so a later file overrides an earlier one. The original
 * built a Python dict with update() in file order, which behaves the same;
 * keeping it means nobody's mapping changes when they switch binaries.
 *
 * The parser and map functions are not static so that tests can
 * #include this file and call them; they are hidden so that the .so still
 * exports nothing but its descriptor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pidtree/plugin.h>

#define SOURCEIPMAP_API __attribute__((visibility("hidden")))

#define RELOAD_INTERVAL_NS (2ull * 1000000000ull)
/* A hosts file is small; this only stops a wrong path (a disk image, a
 * device) from eating the daemon's memory. */
#define HOSTFILE_MAX_BYTES (64u << 20)

struct sourceipmap_entry {
    int family; /* AF_INET (addr[0..3]) or AF_INET6 */
    uint8_t addr[16];
    size_t order; /* position in the merged input: the larger wins */
    char *name;
};

/* Sorted by address once sourceipmap_map_finish() has run. */
struct sourceipmap_map {
    struct sourceipmap_entry *v;
    size_t n, cap;
};

/* What a file looked like when it was last read. */
struct file_sig {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
};

struct sourceipmap {
    char **files;
    size_t n_files;
    struct file_sig *sigs;
    char *key;
    struct sourceipmap_map map;
    uint64_t last_check_ns;
    const struct pidtree_host *host; /* NULL when run without the daemon (tests) */
    bool reload_failing;             /* logged once until the files read again */
};

/* Parses an address into the form entries are compared in, so "::1" and
 * "0:0::1" are the same key. Returns 0 or -EINVAL. */
SOURCEIPMAP_API int sourceipmap_addr_parse(const char *text, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -EINVAL;
}

SOURCEIPMAP_API void sourceipmap_map_clear(struct sourceipmap_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].name);
    free(m->v);
    *m = (struct sourceipmap_map){0};
}

static int map_push(struct sourceipmap_map *m, int family, const uint8_t addr[16], const char *name,
                    size_t name_len)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct sourceipmap_entry *v = realloc(m->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    struct sourceipmap_entry *e = &m->v[m->n];
    e->name = strndup(name, name_len);
    if (!e->name)
        return -ENOMEM;
    e->family = family;
    memcpy(e->addr, addr, 16);
    e->order = m->n;
    m->n++;
    return 0;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Finds the next whitespace-separated token in [*p, end). */
static bool next_token(const char **p, const char *end, const char **tok, size_t *len)
{
    const char *s = *p;
    while (s < end && is_blank(*s))
        s++;
    const char *e = s;
    while (e < end && !is_blank(*e))
        e++;
    *p = e;
    *tok = s;
    *len = (size_t)(e - s);
    return e > s;
}

/* One line, without its newline. Lines with no name or an address that
 * does not parse are skipped, as glibc's hosts lookup skips them. */
static int parse_line(struct sourceipmap_map *m, const char *line, const char *end)
{
    const char *hash = memchr(line, '#', (size_t)(end - line));
    if (hash)
        end = hash;
    const char *p = line, *addr_tok, *name_tok;
    size_t addr_len, name_len;
    if (!next_token(&p, end, &addr_tok, &addr_len) || !next_token(&p, end, &name_tok, &name_len))
        return 0;
    char buf[INET6_ADDRSTRLEN + 1];
    uint8_t addr[16];
    int family;
    if (addr_len >= sizeof(buf))
        return 0;
    memcpy(buf, addr_tok, addr_len);
    buf[addr_len] = '\0';
    if (sourceipmap_addr_parse(buf, &family, addr) < 0)
        return 0;
    /* Only the first (canonical) name is used; aliases are ignored. */
    return map_push(m, family, addr, name_tok, name_len);
}

/* Appends the entries of one hosts-format text. Returns 0 or -ENOMEM. */
SOURCEIPMAP_API int sourceipmap_parse(struct sourceipmap_map *m, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        int ret = parse_line(m, p, eol);
        if (ret < 0)
            return ret;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Orders entries by address alone. */
static int key_cmp(const struct sourceipmap_entry *x, const struct sourceipmap_entry *y)
{
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

/* By address, then by position, so the last definition ends each run. */
static int entry_cmp(const void *a, const void *b)
{
    const struct sourceipmap_entry *x = a, *y = b;
    int c = key_cmp(x, y);
    if (c)
        return c;
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* Sorts for lookup and keeps only the last definition of each address. */
SOURCEIPMAP_API void sourceipmap_map_finish(struct sourceipmap_map *m)
{
    if (m->n == 0)
        return;
    qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool superseded = i + 1 < m->n && key_cmp(&m->v[i], &m->v[i + 1]) == 0;
        if (superseded)
            free(m->v[i].name);
        else
            m->v[out++] = m->v[i];
    }
    m->n = out;
}

static const char *map_find(const struct sourceipmap_map *m, int family, const uint8_t addr[16])
{
    struct sourceipmap_entry key = {.family = family};
    memcpy(key.addr, addr, 16);
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&m->v[mid], &key);
        if (c == 0)
            return m->v[mid].name;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The name of `addr` (any text form), or NULL. An IPv4-mapped IPv6 address
 * (a dual-stack socket talking IPv4) falls back to its IPv4 entry. */
SOURCEIPMAP_API const char *sourceipmap_lookup(const struct sourceipmap_map *m, const char *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16], v4[16] = {0};
    int family;
    if (!addr || sourceipmap_addr_parse(addr, &family, a) < 0)
        return NULL;
    const char *name = map_find(m, family, a);
    if (name || family != AF_INET6 || memcmp(a, mapped, sizeof(mapped)) != 0)
        return name;
    memcpy(v4, a + 12, 4);
    return map_find(m, AF_INET, v4);
}

static int read_all(int fd, char **out, size_t *out_len)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16384;
            char *nbuf = cap <= HOSTFILE_MAX_BYTES ? realloc(buf, cap) : NULL;
            if (!nbuf) {
                free(buf);
                return cap <= HOSTFILE_MAX_BYTES ? -ENOMEM : -EFBIG;
            }
            buf = nbuf;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            free(buf);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static int file_parse(struct sourceipmap_map *m, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *text = NULL;
    size_t len = 0;
    int ret = read_all(fd, &text, &len);
    close(fd);
    if (ret == 0)
        ret = sourceipmap_parse(m, text, len);
    free(text);
    return ret;
}

/* Reads and merges `files` in order into a fresh `m`. Returns 0, or a
 * negative errno with "PATH: reason" in `err` and `m` empty. */
SOURCEIPMAP_API int sourceipmap_load(struct sourceipmap_map *m, char *const *files, size_t n,
                                     char *err, size_t errlen)
{
    *m = (struct sourceipmap_map){0};
    for (size_t i = 0; i < n; i++) {
        int ret = file_parse(m, files[i]);
        if (ret < 0) {
            snprintf(err, errlen, "%s: %s", files[i], strerror(-ret));
            sourceipmap_map_clear(m);
            return ret;
        }
    }
    sourceipmap_map_finish(m);
    return 0;
}

static int sig_take(const char *path, struct file_sig *sig)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    *sig = (struct file_sig){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    return 0;
}

static bool sig_equal(const struct file_sig *a, const struct file_sig *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec;
}

/* Re-reads every file when any of them changed. The signatures are taken
 * before reading, so a write that lands during the read changes them again
 * and is picked up at the next check. On failure the previous map stays. */
static int reload_if_changed(struct sourceipmap *s)
{
    struct file_sig *now = calloc(s->n_files, sizeof(*now));
    bool changed = false;
    int ret = now ? 0 : -ENOMEM;
    for (size_t i = 0; ret == 0 && i < s->n_files; i++) {
        ret = sig_take(s->files[i], &now[i]);
        changed = changed || (ret == 0 && !sig_equal(&now[i], &s->sigs[i]));
    }
    if (ret == 0 && changed) {
        char err[256];
        struct sourceipmap_map fresh;
        ret = sourceipmap_load(&fresh, s->files, s->n_files, err, sizeof(err));
        if (ret == 0) {
            sourceipmap_map_clear(&s->map);
            s->map = fresh;
            memcpy(s->sigs, now, s->n_files * sizeof(*now));
        }
    }
    free(now);
    return ret;
}

static void state_free(struct sourceipmap *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s->sigs);
    free(s->key);
    sourceipmap_map_clear(&s->map);
    free(s);
}

/* Unknown arguments are ignored, as the original did, with a warning left
 * in `err` for the daemon to report (init() still succeeds). */
static void args_check_keys(const json_t *args, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    size_t used = 0;
    json_object_foreach((json_t *)args, key, value)
    {
        if (!strcmp(key, "hostfiles") || !strcmp(key, "attribute_key") || !strcmp(key, "enabled") ||
            !strcmp(key, "unload_on_init_exception"))
            continue;
        int n = snprintf(err + used, errlen - used, "%s'%s'",
                         used ? ", " : "unknown argument(s) ignored: ", key);
        if (n < 0 || (size_t)n >= errlen - used)
            break;
        used += (size_t)n;
    }
    if (used && used < errlen)
        snprintf(err + used, errlen - used, " (sourceipmap takes hostfiles, attribute_key)");
}

static int args_hostfiles(struct sourceipmap *s, const json_t *list, char *err, size_t errlen)
{
    if (!list || !json_is_array(list) || json_array_size(list) == 0) {
        snprintf(err, errlen, "hostfiles: %s",
                 list ? "must be a non-empty list of file names"
                      : "required (a list of hosts-format files)");
        return -EINVAL;
    }
    s->n_files = json_array_size(list);
    s->files = calloc(s->n_files, sizeof(*s->files));
    s->sigs = calloc(s->n_files, sizeof(*s->sigs));
    if (!s->files || !s->sigs)
        return -ENOMEM;
    for (size_t i = 0; i < s->n_files; i++) {
        const char *path = json_string_value(json_array_get(list, i));
        if (!path || !path[0]) {
            snprintf(err, errlen, "hostfiles[%zu]: must be a file name", i);
            return -EINVAL;
        }
        s->files[i] = strdup(path);
        if (!s->files[i])
            return -ENOMEM;
        int ret = sig_take(path, &s->sigs[i]);
        if (ret < 0) {
            snprintf(err, errlen, "hostfiles[%zu]: %s: %s", i, path, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

static int args_parse(struct sourceipmap *s, const json_t *args, char *err, size_t errlen)
{
    if (args && !json_is_object(args)) {
        snprintf(err, errlen, "arguments must be a mapping");
        return -EINVAL;
    }
    if (args)
        args_check_keys(args, err, errlen);
    int ret = args_hostfiles(s, args ? json_object_get(args, "hostfiles") : NULL, err, errlen);
    if (ret < 0)
        return ret;
    const json_t *key = args ? json_object_get(args, "attribute_key") : NULL;
    if (key && (!json_is_string(key) || !json_string_value(key)[0])) {
        snprintf(err, errlen, "attribute_key: must be a non-empty string");
        return -EINVAL;
    }
    s->key = strdup(key ? json_string_value(key) : "source_host");
    return s->key ? 0 : -ENOMEM;
}

static int sourceipmap_init_host(const char *probe, const json_t *args,
                                 const struct pidtree_host *host, void **state, char *err,
                                 size_t errlen)
{
    (void)probe; /* one behaviour for every supported probe */
    struct sourceipmap *s = calloc(1, sizeof(*s));
    int ret = s ? args_parse(s, args, err, errlen) : -ENOMEM;
    if (ret == 0) {
        char why[256];
        ret = sourceipmap_load(&s->map, s->files, s->n_files, why, sizeof(why));
        if (ret < 0)
            snprintf(err, errlen, "hostfiles: %s", why);
    }
    if (ret == -ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    if (ret < 0) {
        state_free(s);
        return ret;
    }
    s->host = host;
    s->last_check_ns = host ? host->now_ns(host) : 0;
    *state = s;
    return 0;
}

/* Checks the files every RELOAD_INTERVAL_NS. A failed reload keeps the
 * previous names; it is logged once, and again once the files read. */
SOURCEIPMAP_API void sourceipmap_tick(void *state, uint64_t now_ns)
{
    struct sourceipmap *s = state;
    if (now_ns - s->last_check_ns < RELOAD_INTERVAL_NS)
        return;
    s->last_check_ns = now_ns;
    int ret = reload_if_changed(s);
    if (s->host && ret < 0 && !s->reload_failing)
        s->host->log(s->host, "cannot re-read the host files: %s; keeping the names read before",
                     strerror(-ret));
    else if (s->host && ret == 0 && s->reload_failing)
        s->host->log(s->host, "host files read again");
    s->reload_failing = ret < 0;
}

SOURCEIPMAP_API bool sourceipmap_reload_failing(const void *state)
{
    return ((const struct sourceipmap *)state)->reload_failing;
}

static int sourceipmap_process(void *state, json_t *event)
{
    struct sourceipmap *s = state;
    const char *name =
        sourceipmap_lookup(&s->map, json_string_value(json_object_get(event, "saddr")));
    return json_object_set_new(event, s->key, json_string(name ? name : "")) < 0 ? -1 : 0;
}

static void sourceipmap_destroy(void *state)
{
    state_free(state);
}

static const char *const sourceipmap_probes[] = {"tcp_connect", NULL};

PIDTREE_PLUGIN_DEFINE_HOST("sourceipmap", sourceipmap_probes, sourceipmap_init_host,
                           sourceipmap_process, sourceipmap_tick, sourceipmap_destroy);
