#include "proctree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "json_writer.h"
#include "jsonutil.h"
#include "strbuf.h"

/* Longest chain walked: deeper than any real tree, short enough that a
 * corrupted cache cannot stall the event loop. */
#define MAX_DEPTH 4096
#define USER_BUCKETS 64
#define MIN_BUCKETS 1024
/* The kernel's "never set" loginuid, (uid_t)-1. */
#define LOGINUID_UNSET 0xffffffffu

/* Where a process stands to the daemon's PID namespace. */
enum ns_state {
    NS_SAME = 0, /* the daemon's: its pid is the host's */
    NS_OTHER,    /* another: ns_pid is its pid there */
    NS_UNKNOWN,  /* to be read from /proc/PID/status when first needed */
    NS_GONE,     /* unknown, and /proc can no longer say */
};

struct proc_entry {
    struct proc_entry *next;   /* hash chain, while in the table */
    struct proc_entry *parent; /* holds a reference */
    char *cmdline;             /* raw bytes */
    size_t cmdline_len;
    uint64_t start; /* clock ticks since boot */
    uint32_t pid, ppid, uid;
    uint32_t loginuid;  /* LOGINUID_UNSET when none */
    uint32_t refs;      /* one for the table, one per child pointing here */
    uint32_t ns_pid;    /* with NS_OTHER: the pid in its own PID namespace */
    uint8_t ns;         /* enum ns_state */
    uint8_t runtime;    /* enum container_runtime; NONE: a host process */
    char *container_id; /* NULL for a host process */
    unsigned seen;      /* scan generation */
    bool in_table, ppid_known, kthread;
    bool cmdline_cut; /* longer than the bound, or the kernel stopped early */
    /* From a fork event's clock rather than /proc: may differ from /proc's
     * value by a tick, since the event fires just after the task started. */
    bool start_approx;
    /* This entry's {"pid", "cmdline", "username"}, built on first use and
     * shared by every tree it appears in until the entry changes: most
     * events come from processes already seen. */
    json_t *json;
    char *text; /* the same, serialised: most lines are written from this */
    size_t text_len;
};

struct user_entry {
    struct user_entry *next;
    uint32_t uid;
    char name[];
};

struct proc_cache {
    char *root;
    struct proc_entry **buckets;
    unsigned bits;
    size_t in_table;
    size_t n_entries; /* allocated, in the table or not */
    unsigned gen;
    uint64_t ns_per_tick;
    struct user_entry *users[USER_BUCKETS];
    size_t max_cmdline;
    char own_pidns[64];       /* readlink of our /proc/self/ns/pid; "" when unknown */
    struct proc_entry **walk; /* MAX_DEPTH entries: the tree being written */
    char error[128];
};

/* ---- entries and the pid table ---- */

static size_t bucket_of(const struct proc_cache *c, uint32_t pid)
{
    return (size_t)((pid * 2654435761u) >> (32 - c->bits));
}

static struct proc_entry *entry_new(struct proc_cache *c, uint32_t pid)
{
    struct proc_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->pid = pid;
    e->loginuid = LOGINUID_UNSET;
    c->n_entries++;
    return e;
}

/* Iterative, so that freeing the last child of a long chain of exited
 * ancestors cannot overflow the stack. */
static void entry_unref(struct proc_cache *c, struct proc_entry *e)
{
    while (e && --e->refs == 0) {
        struct proc_entry *parent = e->parent;
        json_decref(e->json);
        free(e->text);
        free(e->cmdline);
        free(e->container_id);
        free(e);
        c->n_entries--;
        e = parent;
    }
}

/* For an entry never inserted nor referenced. */
static void entry_discard(struct proc_cache *c, struct proc_entry *e)
{
    e->refs = 1;
    entry_unref(c, e);
}

/* The cached JSON no longer says what the entry holds. */
static void entry_changed(struct proc_entry *e)
{
    json_decref(e->json);
    e->json = NULL;
    free(e->text);
    e->text = NULL;
}

/* Cut at the bound, on a UTF-8 sequence boundary when the text is UTF-8:
 * one user's megabyte of arguments must not cost every line that much. */
static size_t cmdline_bound(const struct proc_cache *c, const char *s, size_t len)
{
    if (len <= c->max_cmdline)
        return len;
    size_t n = c->max_cmdline;
    for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; back++)
        n--;
    return n;
}

static void entry_set_cmdline(struct proc_cache *c, struct proc_entry *e, char *cmdline, bool cut)
{
    entry_changed(e);
    free(e->cmdline);
    size_t len = strlen(cmdline);
    e->cmdline_len = cmdline_bound(c, cmdline, len);
    e->cmdline_cut = cut || e->cmdline_len < len;
    cmdline[e->cmdline_len] = '\0';
    if (e->cmdline_len < len) {
        char *shrunk = realloc(cmdline, e->cmdline_len + 1);
        cmdline = shrunk ? shrunk : cmdline;
    }
    e->cmdline = cmdline;
}

static struct proc_entry *table_find(const struct proc_cache *c, uint32_t pid)
{
    for (struct proc_entry *e = c->buckets[bucket_of(c, pid)]; e; e = e->next)
        if (e->pid == pid)
            return e;
    return NULL;
}

static void table_grow(struct proc_cache *c)
{
    unsigned old_bits = c->bits;
    struct proc_entry **nb = calloc((size_t)1 << (old_bits + 1), sizeof(*nb));
    if (!nb)
        return; /* longer chains, still correct */
    struct proc_entry **old = c->buckets;
    c->buckets = nb;
    c->bits = old_bits + 1;
    for (size_t i = 0; i < ((size_t)1 << old_bits); i++) {
        while (old[i]) {
            struct proc_entry *e = old[i];
            old[i] = e->next;
            size_t b = bucket_of(c, e->pid);
            e->next = nb[b];
            nb[b] = e;
        }
    }
    free(old);
}

static void table_insert(struct proc_cache *c, struct proc_entry *e)
{
    if (c->in_table >= ((size_t)1 << c->bits))
        table_grow(c);
    size_t b = bucket_of(c, e->pid);
    e->next = c->buckets[b];
    c->buckets[b] = e;
    e->in_table = true;
    e->refs++;
    c->in_table++;
}

/* The process exited (or its pid now names another): it leaves the table
 * and lives on only while children point at it. */
static void table_remove(struct proc_cache *c, struct proc_entry *e)
{
    struct proc_entry **p = &c->buckets[bucket_of(c, e->pid)];
    while (*p && *p != e)
        p = &(*p)->next;
    if (!*p)
        return;
    *p = e->next;
    e->next = NULL;
    e->in_table = false;
    c->in_table--;
    entry_unref(c, e);
}

static void table_replace(struct proc_cache *c, struct proc_entry *e)
{
    struct proc_entry *old = table_find(c, e->pid);
    if (old)
        table_remove(c, old);
    table_insert(c, e);
}

/* ---- reading /proc ---- */

static int read_proc_file(const struct proc_cache *c, uint32_t pid, const char *name,
                          struct strbuf *sb)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%" PRIu32 "/%s", c->root, pid, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    return strbuf_read_file(sb, path);
}

/* The n-th space-separated field from s (0 for the first), or NULL. */
static const char *stat_field(const char *s, int n)
{
    while (*s == ' ')
        s++;
    for (; n > 0; n--) {
        s = strchr(s, ' ');
        if (!s)
            return NULL;
        while (*s == ' ')
            s++;
    }
    return *s ? s : NULL;
}

/* The comm may hold spaces and ')', so the fields start after the last
 * ')'. */
int proc_parse_stat(const char *stat, uint32_t *ppid, uint64_t *start, char *comm, size_t commlen)
{
    const char *open = strchr(stat, '(');
    const char *close = strrchr(stat, ')');
    if (!open || !close || close < open)
        return -EINVAL;
    snprintf(comm, commlen, "[%.*s]", (int)(close - open - 1), open + 1);
    const char *state = close + 1;
    const char *f4 = stat_field(state, 1), *f22 = stat_field(state, 19);
    if (!f4 || !f22)
        return -EINVAL;
    *ppid = (uint32_t)strtoul(f4, NULL, 10);
    *start = strtoull(f22, NULL, 10);
    return 0;
}

int proc_parse_status_uid(const char *status, uint32_t *uid)
{
    const char *line = strstr(status, "\nUid:");
    unsigned long u;
    if (!line || sscanf(line + 5, "%lu", &u) != 1)
        return -EINVAL;
    *uid = (uint32_t)u;
    return 0;
}

/* NSpid lists the pid in each PID namespace from the one /proc belongs to
 * down to the process's own (Linux 4.1+). */
int proc_parse_status_nspid(const char *status, uint32_t *ns_pid, int *levels)
{
    const char *p = strstr(status, "\nNSpid:");
    if (!p)
        return -ENOENT;
    p += 7;
    int n = 0;
    unsigned long last = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!isdigit((unsigned char)*p))
            break;
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v == 0 || v > UINT32_MAX)
            return -EINVAL;
        last = v;
        n++;
        p = end;
    }
    if (n == 0 || (*p && *p != '\n'))
        return -EINVAL;
    *ns_pid = (uint32_t)last;
    *levels = n;
    return 0;
}

/* The full command line from /proc, or NULL when unreadable or empty. */
static char *read_cmdline(const struct proc_cache *c, uint32_t pid)
{
    struct strbuf sb = STRBUF_INIT;
    char *line = NULL;
    if (read_proc_file(c, pid, "cmdline", &sb) == 0 && sb.len > 0)
        line = proc_args_join(sb.data, sb.len);
    strbuf_release(&sb);
    if (line && !line[0]) {
        free(line);
        line = NULL;
    }
    return line;
}

/* ---- containers and PID namespaces ---- */

/* From /proc/PID/status text: a kernel without NSpid has no PID
 * namespaces to report. */
static void entry_set_ns(struct proc_entry *e, const char *status)
{
    uint32_t ns_pid;
    int levels;
    int ret = proc_parse_status_nspid(status, &ns_pid, &levels);
    e->ns = ret == 0 && levels > 1 ? NS_OTHER : ret == -ENOENT || ret == 0 ? NS_SAME : NS_GONE;
    e->ns_pid = e->ns == NS_OTHER ? ns_pid : 0;
}

/* Read once, when the entry is first written into a tree: a process
 * forked inside a namespace has a pid there that no fork record says. An
 * entry out of the table may have its pid reused: /proc is not asked. */
static void entry_resolve_ns(const struct proc_cache *c, struct proc_entry *e)
{
    if (e->ns != NS_UNKNOWN)
        return;
    struct strbuf sb = STRBUF_INIT;
    e->ns = NS_GONE;
    if (e->in_table && read_proc_file(c, e->pid, "status", &sb) == 0)
        entry_set_ns(e, sb.data);
    strbuf_release(&sb);
}

static void entry_set_container(struct proc_entry *e, enum container_runtime runtime,
                                const char *id)
{
    if (e->container_id && id && strcmp(e->container_id, id) == 0)
        return;
    free(e->container_id);
    e->container_id = runtime != CONTAINER_RUNTIME_NONE && id ? strdup(id) : NULL;
    e->runtime = e->container_id ? (uint8_t)runtime : CONTAINER_RUNTIME_NONE;
}

/* Unchanged when the file cannot be read (the process is gone). */
static void read_container(const struct proc_cache *c, struct proc_entry *e)
{
    struct strbuf sb = STRBUF_INIT;
    struct container_ident ci;
    if (read_proc_file(c, e->pid, "cgroup", &sb) == 0 && sb.data) {
        container_from_cgroup(sb.data, &ci);
        entry_set_container(e, ci.runtime, ci.id);
    }
    strbuf_release(&sb);
}

/* At exec, where a container's first process becomes the container's (it
 * joined the container's cgroup and PID namespace since its fork). */
static void exec_reread_ns(const struct proc_cache *c, struct proc_entry *e)
{
    char path[PATH_MAX], link[64];
    int n = snprintf(path, sizeof(path), "%s/%" PRIu32 "/ns/pid", c->root, e->pid);
    if (n < 0 || (size_t)n >= sizeof(path))
        return;
    ssize_t len = readlink(path, link, sizeof(link) - 1);
    if (len <= 0)
        return;
    link[len] = '\0';
    bool same = c->own_pidns[0] && strcmp(link, c->own_pidns) == 0;
    e->ns = same ? NS_SAME : NS_UNKNOWN;
}

static int read_stat_status(const struct proc_cache *c, struct proc_entry *e, char *comm,
                            size_t commlen)
{
    struct strbuf sb = STRBUF_INIT;
    int ret = read_proc_file(c, e->pid, "stat", &sb);
    if (ret == 0)
        ret = proc_parse_stat(sb.data, &e->ppid, &e->start, comm, commlen);
    strbuf_reset(&sb);
    if (ret == 0)
        ret = read_proc_file(c, e->pid, "status", &sb);
    if (ret == 0)
        ret = proc_parse_status_uid(sb.data, &e->uid);
    if (ret == 0)
        entry_set_ns(e, sb.data);
    strbuf_release(&sb);
    return ret;
}

/* Unset when the file is absent (a kernel without audit) or unreadable. */
static uint32_t read_loginuid(const struct proc_cache *c, uint32_t pid)
{
    struct strbuf sb = STRBUF_INIT;
    uint32_t uid = LOGINUID_UNSET;
    if (read_proc_file(c, pid, "loginuid", &sb) == 0 && sb.len > 0) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(sb.data, &end, 10);
        if (errno == 0 && end != sb.data && v < LOGINUID_UNSET)
            uid = (uint32_t)v;
    }
    strbuf_release(&sb);
    return uid;
}

/* A new entry from /proc/PID, neither in the table nor linked. */
static struct proc_entry *proc_read(struct proc_cache *c, uint32_t pid)
{
    char comm[80];
    struct proc_entry *e = entry_new(c, pid);
    if (!e)
        return NULL;
    if (read_stat_status(c, e, comm, sizeof(comm)) < 0) {
        entry_discard(c, e);
        return NULL;
    }
    e->ppid_known = true;
    e->loginuid = read_loginuid(c, pid);
    read_container(c, e);
    char *line = read_cmdline(c, pid);
    /* Kernel threads have no command line; ps shows them as [comm]. */
    e->kthread = !line;
    if (!line)
        line = strdup(comm);
    if (!line) {
        entry_discard(c, e);
        return NULL;
    }
    entry_set_cmdline(c, e, line, false);
    return e;
}

/* ---- parent links ---- */

static bool is_ancestor(const struct proc_entry *e, const struct proc_entry *of)
{
    for (int i = 0; of && i < MAX_DEPTH; i++, of = of->parent)
        if (of == e)
            return true;
    return false;
}

/* A process that started after the child cannot be its parent: that is a
 * pid reused since the real parent exited. */
static bool may_be_parent(const struct proc_entry *p, const struct proc_entry *child)
{
    uint64_t slack = (p->start_approx || child->start_approx) ? 1 : 0;
    return p->start <= child->start + slack && !is_ancestor(child, p);
}

static void link_parent(struct proc_entry *child, struct proc_entry *parent)
{
    child->parent = parent;
    parent->refs++;
}

static struct proc_entry *find_or_load(struct proc_cache *c, uint32_t pid)
{
    struct proc_entry *e = table_find(c, pid);
    if (e || pid == 0)
        return e;
    e = proc_read(c, pid);
    if (e)
        table_insert(c, e);
    return e;
}

/* For entries whose parent was not known when they were cached. */
static void link_late(struct proc_cache *c, struct proc_entry *e, bool load)
{
    if (e->parent || !e->ppid_known || e->ppid == 0)
        return;
    struct proc_entry *p = load ? find_or_load(c, e->ppid) : table_find(c, e->ppid);
    if (p && may_be_parent(p, e))
        link_parent(e, p);
}

/* ---- public ---- */

/* The daemon's PID namespace, as /proc/self/ns/pid names it. */
static void own_pidns_read(struct proc_cache *c)
{
    char path[PATH_MAX];
    c->own_pidns[0] = '\0';
    if (!c->root || snprintf(path, sizeof(path), "%s/self/ns/pid", c->root) >= (int)sizeof(path))
        return;
    ssize_t len = readlink(path, c->own_pidns, sizeof(c->own_pidns) - 1);
    c->own_pidns[len > 0 ? len : 0] = '\0';
}

struct proc_cache *proc_cache_new(const char *proc_root)
{
    struct proc_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->root = strdup(proc_root);
    c->bits = 10;
    c->max_cmdline = PROC_CACHE_DEFAULT_MAX_CMDLINE;
    c->buckets = calloc(MIN_BUCKETS, sizeof(*c->buckets));
    c->walk = calloc(MAX_DEPTH, sizeof(*c->walk));
    long hz = sysconf(_SC_CLK_TCK);
    c->ns_per_tick = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
    own_pidns_read(c);
    if (!c->root || !c->buckets || !c->walk) {
        proc_cache_free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

void proc_cache_free(struct proc_cache *c)
{
    if (!c)
        return;
    /* Every entry is reachable from one in the table, so emptying the table
     * frees them all. */
    for (size_t i = 0; c->buckets && i < ((size_t)1 << c->bits); i++)
        while (c->buckets[i])
            table_remove(c, c->buckets[i]);
    for (size_t i = 0; i < USER_BUCKETS; i++) {
        while (c->users[i]) {
            struct user_entry *u = c->users[i];
            c->users[i] = u->next;
            free(u);
        }
    }
    free(c->buckets);
    free(c->walk);
    free(c->root);
    free(c);
}

void proc_cache_set_max_cmdline(struct proc_cache *c, size_t max_bytes)
{
    c->max_cmdline = max_bytes > 0 ? max_bytes : 1;
}

size_t proc_cache_size(const struct proc_cache *c)
{
    return c->n_entries;
}

static bool same_start(const struct proc_entry *a, const struct proc_entry *b)
{
    uint64_t slack = (a->start_approx || b->start_approx) ? 1 : 0;
    return a->start <= b->start + slack && b->start <= a->start + slack;
}

/* /proc wins for what events may have missed (uid, exec); the parent link
 * stays, since /proc shows an orphan under its reaper. */
static void scan_merge(struct proc_entry *old, struct proc_entry *fresh)
{
    entry_changed(old);
    old->uid = fresh->uid;
    old->loginuid = fresh->loginuid;
    old->kthread = fresh->kthread;
    old->start = fresh->start;
    old->start_approx = false;
    if (!old->ppid_known) {
        old->ppid = fresh->ppid;
        old->ppid_known = true;
    }
    char *tmp = old->cmdline;
    old->cmdline = fresh->cmdline;
    old->cmdline_len = fresh->cmdline_len;
    old->cmdline_cut = fresh->cmdline_cut;
    fresh->cmdline = tmp;
    old->ns = fresh->ns;
    old->ns_pid = fresh->ns_pid;
    entry_set_container(old, fresh->runtime, fresh->container_id);
}

static void scan_one(struct proc_cache *c, uint32_t pid)
{
    struct proc_entry *fresh = proc_read(c, pid);
    if (!fresh)
        return; /* exited since readdir */
    struct proc_entry *old = table_find(c, pid);
    if (old && same_start(old, fresh)) {
        scan_merge(old, fresh);
        old->seen = c->gen;
        entry_discard(c, fresh);
        return;
    }
    fresh->seen = c->gen;
    table_replace(c, fresh);
}

/* Drops entries /proc no longer lists, then links parents read after
 * their children. */
static void scan_finish(struct proc_cache *c)
{
    for (size_t i = 0; i < ((size_t)1 << c->bits); i++) {
        struct proc_entry *e = c->buckets[i];
        while (e) {
            struct proc_entry *next = e->next;
            if (e->seen != c->gen)
                table_remove(c, e);
            e = next;
        }
    }
    for (size_t i = 0; i < ((size_t)1 << c->bits); i++)
        for (struct proc_entry *e = c->buckets[i]; e; e = e->next)
            link_late(c, e, false);
}

static bool parse_pid(const char *name, uint32_t *pid)
{
    if (!isdigit((unsigned char)name[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(name, &end, 10);
    if (*end || errno || v == 0 || v > UINT32_MAX)
        return false;
    *pid = (uint32_t)v;
    return true;
}

int proc_cache_scan(struct proc_cache *c)
{
    DIR *dir = opendir(c->root);
    if (!dir)
        return -errno;
    c->gen++;
    int count = 0;
    struct dirent *de;
    uint32_t pid;
    while ((de = readdir(dir)) != NULL) {
        if (!parse_pid(de->d_name, &pid))
            continue;
        scan_one(c, pid);
        count++;
    }
    closedir(dir);
    scan_finish(c);
    return count;
}

/* The parent's entry for a fork: the cache, else /proc provided that
 * process is old enough to be the parent. */
static struct proc_entry *fork_parent(struct proc_cache *c, uint32_t ppid,
                                      const struct proc_entry *child)
{
    struct proc_entry *p = table_find(c, ppid);
    if (p || ppid == 0)
        return p;
    p = find_or_load(c, ppid);
    return p && may_be_parent(p, child) ? p : NULL;
}

void proc_cache_fork(struct proc_cache *c, uint32_t parent_pid, uint32_t child_pid, uint32_t uid,
                     uint64_t boot_ns)
{
    struct proc_entry *e = entry_new(c, child_pid);
    if (!e)
        return;
    e->ppid = parent_pid;
    e->ppid_known = true;
    e->uid = uid;
    e->start = boot_ns / c->ns_per_tick;
    e->start_approx = true;
    struct proc_entry *p = fork_parent(c, parent_pid, e);
    char *line = strdup(p && p->cmdline ? p->cmdline : "");
    if (!line) {
        entry_discard(c, e);
        return;
    }
    entry_set_cmdline(c, e, line, p && p->cmdline_cut);
    /* The child is in its parent's container. Its pid in a namespace of
     * the parent's is not the parent's: read when first needed. So is its
     * namespace when the parent's is not known. */
    e->ns = p && p->ns == NS_SAME ? NS_SAME : NS_UNKNOWN;
    if (p) {
        e->kthread = p->kthread;
        e->loginuid = p->loginuid;
        entry_set_container(e, p->runtime, p->container_id);
        link_parent(e, p);
    }
    table_replace(c, e);
}

/* The kernel copies a bounded number of argument bytes; /proc has all of
 * them as long as the process has not exec'd again or exited. */
static char *exec_cmdline(struct proc_cache *c, uint32_t pid, const char *args, size_t len,
                          int truncated, bool *cut)
{
    char *line = proc_args_join(args, len);
    *cut = false;
    if (!truncated || !line)
        return line;
    char *full = read_cmdline(c, pid);
    /* /proc is read when the record is handled: by then the process may
     * have exec'd again (bash runs its last command with exec). Its
     * program must be the one the kernel saw, or /proc shows a later
     * command line. */
    size_t argv0 = args ? strnlen(args, len) : 0;
    if (full && strncmp(full, line, argv0) == 0 && (full[argv0] == ' ' || !full[argv0])) {
        free(line);
        return full;
    }
    free(full);
    *cut = true;
    size_t n = strlen(line);
    char *more = realloc(line, n + 5);
    if (!more)
        return line;
    memcpy(more + n, n ? " ..." : "...", n ? 5 : 4);
    return more;
}

static struct proc_entry *exec_entry(struct proc_cache *c, uint32_t pid)
{
    struct proc_entry *e = find_or_load(c, pid);
    if (e)
        return e;
    e = entry_new(c, pid);
    if (e)
        table_insert(c, e);
    return e;
}

void proc_cache_exec(struct proc_cache *c, uint32_t pid, uint32_t uid, const char *args,
                     size_t args_len, int truncated)
{
    bool cut;
    char *line = exec_cmdline(c, pid, args, args_len, truncated, &cut);
    if (!line)
        return;
    struct proc_entry *e = exec_entry(c, pid);
    if (!e) {
        free(line);
        return;
    }
    entry_set_cmdline(c, e, line, cut);
    e->uid = uid;
    e->kthread = false;
    read_container(c, e);
}

void proc_cache_set_ns_pid(struct proc_cache *c, uint32_t pid, uint32_t ns_pid)
{
    struct proc_entry *e = table_find(c, pid);
    if (!e)
        return;
    entry_changed(e);
    if (ns_pid == PROC_NS_PID_UNKNOWN) {
        exec_reread_ns(c, e);
        return;
    }
    e->ns = ns_pid ? NS_OTHER : NS_SAME;
    e->ns_pid = ns_pid;
}

void proc_cache_exit(struct proc_cache *c, uint32_t pid)
{
    struct proc_entry *e = table_find(c, pid);
    if (e)
        table_remove(c, e);
}

void proc_cache_set_uid(struct proc_cache *c, uint32_t pid, uint32_t uid)
{
    struct proc_entry *e = table_find(c, pid);
    if (e && e->uid != uid) {
        e->uid = uid;
        entry_changed(e);
    }
}

int proc_cache_uid(struct proc_cache *c, uint32_t pid, uint32_t *uid)
{
    const struct proc_entry *e = table_find(c, pid);
    if (!e)
        return -ENOENT;
    *uid = e->uid;
    return 0;
}

void proc_cache_set_loginuid(struct proc_cache *c, uint32_t pid, uint32_t loginuid)
{
    struct proc_entry *e = table_find(c, pid);
    if (e)
        e->loginuid = loginuid;
}

int proc_cache_loginuid(struct proc_cache *c, uint32_t pid, uint32_t *loginuid)
{
    const struct proc_entry *e = table_find(c, pid);
    if (!e || e->loginuid == LOGINUID_UNSET)
        return -ENOENT;
    *loginuid = e->loginuid;
    return 0;
}

/* ---- the tree ---- */

static json_t *entry_json(struct proc_cache *c, const struct proc_entry *e)
{
    json_t *obj = json_object();
    json_t *line = json_string_lossy(e->cmdline ? e->cmdline : "", e->cmdline_len);
    const char *name = proc_cache_username(c, e->uid);
    json_t *user = json_string_lossy(name, strlen(name));
    int ret = -ENOMEM;
    if (obj && line && user && json_object_set_new(obj, "pid", json_integer(e->pid)) == 0 &&
        (e->ns != NS_OTHER || json_object_set_new(obj, "ns_pid", json_integer(e->ns_pid)) == 0) &&
        json_object_set(obj, "cmdline", line) == 0 && json_object_set(obj, "username", user) == 0 &&
        (!e->cmdline_cut || json_object_set_new(obj, "truncated", json_true()) == 0))
        ret = 0;
    json_decref(line);
    json_decref(user);
    if (ret < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* The entry's JSON and its text (by the one line writer), built once. */
static int entry_text(struct proc_cache *c, struct proc_entry *e)
{
    entry_resolve_ns(c, e);
    if (!e->json && !(e->json = entry_json(c, e)))
        return -ENOMEM;
    if (e->text)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    struct json_writer w;
    json_writer_init(&w, &sb);
    json_writer_value(&w, e->json);
    if (json_writer_error(&w) < 0 || !sb.data) {
        strbuf_release(&sb);
        return -ENOMEM;
    }
    e->text_len = sb.len;
    e->text = strbuf_detach(&sb);
    return 0;
}

static bool tree_root(const struct proc_entry *e)
{
    return e->pid == 1 || (e->ppid_known && e->ppid == 0) || (e->pid == 2 && e->kthread);
}

/* The next entry up, or NULL with the error set. */
static struct proc_entry *tree_up(struct proc_cache *c, struct proc_entry *e)
{
    link_late(c, e, true);
    if (e->parent)
        return e->parent;
    if (e->ppid_known)
        snprintf(c->error, sizeof(c->error), "parent of %" PRIu32 " (pid %" PRIu32 ") not found",
                 e->pid, e->ppid);
    else
        snprintf(c->error, sizeof(c->error), "parent of %" PRIu32 " not found", e->pid);
    return NULL;
}

/* The chain from `pid` up to the root into c->walk, each entry's text
 * built. Returns the number of entries or -ENOMEM. */
static int tree_walk(struct proc_cache *c, uint32_t pid, const char **error)
{
    c->error[0] = '\0';
    *error = c->error;
    struct proc_entry *e = find_or_load(c, pid);
    if (!e)
        snprintf(c->error, sizeof(c->error), "process %" PRIu32 " not found", pid);
    int n = 0;
    while (e) {
        if (entry_text(c, e) < 0)
            return -ENOMEM;
        c->walk[n++] = e;
        if (tree_root(e))
            break;
        if (n >= MAX_DEPTH) {
            snprintf(c->error, sizeof(c->error), "process tree of %" PRIu32 " too deep", pid);
            break;
        }
        e = tree_up(c, e);
    }
    return n;
}

/* Which entries fit in `max_bytes` of text: all, or the process's end and
 * the root's end with the middle left out. Both ends matter to whoever
 * reads the line (what ran it, and from which login or service), and a
 * user who makes a deep chain must not push either out. Entries [0, *head)
 * and [*tail, n) are kept. */
static bool tree_select(const struct proc_cache *c, int n, size_t max_bytes, int *head, int *tail)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += c->walk[i]->text_len + 1;
    *head = n;
    *tail = n;
    if (total <= max_bytes)
        return false;
    size_t used = 0;
    int h = 0, t = n;
    while (h < n && used + c->walk[h]->text_len + 1 <= max_bytes / 2)
        used += c->walk[h++]->text_len + 1;
    while (t > h && used + c->walk[t - 1]->text_len + 1 <= max_bytes)
        used += c->walk[--t]->text_len + 1;
    *head = h;
    *tail = t;
    return true;
}

json_t *proc_cache_tree_bounded(struct proc_cache *c, uint32_t pid, size_t max_bytes,
                                const char **error, bool *truncated)
{
    int head, tail, n = tree_walk(c, pid, error);
    json_t *arr = json_array();
    if (n < 0 || !arr) {
        json_decref(arr);
        return NULL;
    }
    *truncated = tree_select(c, n, max_bytes, &head, &tail);
    for (int i = 0; i < n; i++) {
        if (i >= head && i < tail)
            continue;
        if (json_array_append(arr, c->walk[i]->json) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *proc_cache_tree(struct proc_cache *c, uint32_t pid, const char **error)
{
    bool truncated;
    return proc_cache_tree_bounded(c, pid, SIZE_MAX, error, &truncated);
}

int proc_cache_tree_text(struct proc_cache *c, uint32_t pid, size_t max_bytes,
                         struct json_writer *w, const char **error, bool *truncated)
{
    int head, tail, n = tree_walk(c, pid, error);
    if (n < 0)
        return n;
    *truncated = tree_select(c, n, max_bytes, &head, &tail);
    json_writer_start_array(w);
    for (int i = 0; i < n; i++)
        if (i < head || i >= tail)
            json_writer_raw(w, c->walk[i]->text, c->walk[i]->text_len);
    json_writer_end_array(w);
    return json_writer_error(w);
}

/* ---- helpers ---- */

char *proc_args_join(const char *args, size_t len)
{
    while (len > 0 && args[len - 1] == '\0')
        len--;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        out[i] = args[i] ? args[i] : ' ';
    out[len] = '\0';
    return out;
}

/* Grows the buffer until the entry fits, as getpwuid_r asks. */
static char *lookup_user(uint32_t uid)
{
    struct passwd pw, *res = NULL;
    size_t size = 1024;
    char *name = NULL;
    for (;;) {
        char *buf = malloc(size);
        if (!buf)
            return NULL;
        int ret = getpwuid_r((uid_t)uid, &pw, buf, size, &res);
        if (ret == 0 && res)
            name = strdup(pw.pw_name);
        free(buf);
        if (ret != ERANGE || size >= (1u << 20))
            return name;
        size *= 2;
    }
}

int proc_cache_container(struct proc_cache *c, uint32_t pid, struct proc_container *out)
{
    struct proc_entry *e = find_or_load(c, pid);
    memset(out, 0, sizeof(*out));
    if (!e)
        return -ENOENT;
    entry_resolve_ns(c, e);
    out->id = e->container_id;
    out->runtime = container_runtime_name((enum container_runtime)e->runtime);
    out->ns_pid = e->ns == NS_OTHER ? e->ns_pid : 0;
    return 0;
}

const char *proc_cache_username(struct proc_cache *c, uint32_t uid)
{
    struct user_entry **bucket = &c->users[uid % USER_BUCKETS];
    for (struct user_entry *u = *bucket; u; u = u->next)
        if (u->uid == uid)
            return u->name;
    char num[16];
    char *name = lookup_user(uid);
    if (!name)
        snprintf(num, sizeof(num), "%" PRIu32, uid);
    const char *src = name ? name : num;
    size_t n = strlen(src);
    struct user_entry *u = malloc(sizeof(*u) + n + 1);
    if (!u) {
        free(name);
        return "?";
    }
    u->uid = uid;
    memcpy(u->name, src, n + 1);
    free(name);
    u->next = *bucket;
    *bucket = u;
    return u->name;
}
