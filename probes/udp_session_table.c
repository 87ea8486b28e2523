#include "udp_session_table.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

void udp_table_init(struct udp_session_table *t, size_t max_sessions)
{
    memset(t, 0, sizeof(*t));
    t->max = max_sessions;
}

void udp_session_free(struct udp_session *s)
{
    if (!s)
        return;
    free(s->dests);
    free(s);
}

void udp_table_release(struct udp_session_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        udp_session_free(t->sessions[i]);
    free(t->sessions);
    memset(t, 0, sizeof(*t));
}

static ssize_t table_find(const struct udp_session_table *t, uint64_t sk)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->sessions[i]->sk == sk)
            return (ssize_t)i;
    return -1;
}

static struct udp_session *table_remove_at(struct udp_session_table *t, size_t i)
{
    struct udp_session *s = t->sessions[i];
    t->sessions[i] = t->sessions[--t->n];
    return s;
}

uint64_t udp_session_last_ns(const struct udp_session *s, udp_counts_fn counts, void *ctx)
{
    uint64_t last = s->start_ns;
    for (size_t i = 0; i < s->n_dests; i++) {
        struct pt_udp_dest_value v;
        if (counts(ctx, &s->dests[i], &v) == 0 && v.last_ns > last)
            last = v.last_ns;
    }
    return last;
}

static struct udp_session *table_evict_idlest(struct udp_session_table *t, udp_counts_fn counts,
                                              void *ctx)
{
    size_t idlest = 0;
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < t->n; i++) {
        uint64_t last = udp_session_last_ns(t->sessions[i], counts, ctx);
        if (last < oldest) {
            oldest = last;
            idlest = i;
        }
    }
    t->evictions++;
    return table_remove_at(t, idlest);
}

static struct udp_session *session_new(struct udp_session_table *t, uint32_t pid, uint64_t sk,
                                       uint64_t now_ns)
{
    struct udp_session **grown = realloc(t->sessions, (t->n + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    t->sessions = grown;
    struct udp_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    *s = (struct udp_session){.sk = sk, .pid = pid, .start_ns = now_ns};
    t->sessions[t->n++] = s;
    return s;
}

static int session_add_dest(struct udp_session *s, const struct pt_udp_dest_key *key)
{
    for (size_t i = 0; i < s->n_dests; i++)
        if (memcmp(&s->dests[i], key, sizeof(*key)) == 0)
            return 0;
    if (s->n_dests == s->cap_dests) {
        size_t cap = s->cap_dests ? s->cap_dests * 2 : 4;
        struct pt_udp_dest_key *grown = realloc(s->dests, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        s->dests = grown;
        s->cap_dests = cap;
    }
    s->dests[s->n_dests++] = *key;
    return 0;
}

int udp_table_dest_start(struct udp_session_table *t, uint32_t pid,
                         const struct pt_udp_dest_key *key, uint64_t now_ns, udp_counts_fn counts,
                         void *ctx, struct udp_session **evicted)
{
    *evicted = NULL;
    ssize_t i = table_find(t, key->sk);
    struct udp_session *s = i >= 0 ? t->sessions[i] : NULL;
    if (!s) {
        if (t->max && t->n >= t->max)
            *evicted = table_evict_idlest(t, counts, ctx);
        s = session_new(t, pid, key->sk, now_ns);
        if (!s)
            return -ENOMEM;
    }
    return session_add_dest(s, key);
}

struct udp_session *udp_table_take_sk(struct udp_session_table *t, uint64_t sk)
{
    ssize_t i = table_find(t, sk);
    return i >= 0 ? table_remove_at(t, (size_t)i) : NULL;
}

/* Moves the sessions `pick` selects into a new array. */
static size_t table_take_if(struct udp_session_table *t, struct udp_session ***out,
                            int (*pick)(const struct udp_session *s, void *arg), void *arg)
{
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->n;) {
        if (!pick(t->sessions[i], arg)) {
            i++;
            continue;
        }
        struct udp_session **grown = realloc(*out, (n + 1) * sizeof(*grown));
        if (!grown)
            break; /* the rest stays for the next call */
        *out = grown;
        (*out)[n++] = table_remove_at(t, i);
    }
    return n;
}

static int pick_pid(const struct udp_session *s, void *arg)
{
    return s->pid == *(uint32_t *)arg;
}

size_t udp_table_take_pid(struct udp_session_table *t, uint32_t pid, struct udp_session ***out)
{
    return table_take_if(t, out, pick_pid, &pid);
}

struct idle_arg {
    uint64_t now_ns, max_idle_ns;
    udp_counts_fn counts;
    void *ctx;
};

static int pick_idle(const struct udp_session *s, void *arg)
{
    struct idle_arg *a = arg;
    uint64_t last = udp_session_last_ns(s, a->counts, a->ctx);
    return a->now_ns > last && a->now_ns - last > a->max_idle_ns;
}

size_t udp_table_take_idle(struct udp_session_table *t, uint64_t now_ns, uint64_t max_idle_ns,
                           udp_counts_fn counts, void *ctx, struct udp_session ***out)
{
    struct idle_arg a = {now_ns, max_idle_ns, counts, ctx};
    return table_take_if(t, out, pick_idle, &a);
}

static json_t *destination_json(const struct pt_udp_dest_key *key,
                                const struct pt_udp_dest_value *v)
{
    char daddr[INET6_ADDRSTRLEN];
    probe_addr_format(key->family, key->daddr, daddr);
    double duration = (double)(v->last_ns - v->first_ns) / 1e9;
    return json_pack("{s:s, s:i, s:f, s:I}", "daddr", daddr, "port", (int)key->dport, "duration",
                     duration, "msg_count", (json_int_t)v->msg_count);
}

json_t *udp_session_destinations(const struct udp_session *s, udp_counts_fn counts, void *ctx)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < s->n_dests; i++) {
        struct pt_udp_dest_value v;
        if (counts(ctx, &s->dests[i], &v) < 0)
            continue; /* the kernel lost it (table full): nothing to report */
        json_t *d = destination_json(&s->dests[i], &v);
        if (!d || json_array_append_new(list, d) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}
