#include "uid_budget.h"

#include <errno.h>
#include <stdlib.h>

/* Users who make events at all are few; the table is open addressing, and
 * when it is full the least recently refilled full bucket is reused (a full
 * bucket holds nothing a new one would not). */
#define UID_BUDGET_SLOTS 4096

struct bucket {
    uint32_t uid;
    bool used;
    double tokens;
    uint64_t last_ns;
    uint64_t dropped; /* since the last drain */
};

struct uid_budget {
    uint64_t rate, burst;
    uint64_t dropped_total;
    struct bucket slots[UID_BUDGET_SLOTS];
};

struct uid_budget *uid_budget_new(uint64_t rate, uint64_t burst)
{
    struct uid_budget *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->rate = rate;
    b->burst = burst;
    return b;
}

void uid_budget_free(struct uid_budget *b)
{
    free(b);
}

static struct bucket *bucket_find(struct uid_budget *b, uint32_t uid, uint64_t now_ns)
{
    size_t start = (uid * 2654435761u) % UID_BUDGET_SLOTS, victim = start;
    for (size_t i = 0; i < UID_BUDGET_SLOTS; i++) {
        struct bucket *s = &b->slots[(start + i) % UID_BUDGET_SLOTS];
        if (s->used && s->uid == uid)
            return s;
        if (!s->used) {
            *s = (struct bucket){
                .uid = uid, .used = true, .tokens = (double)b->burst, .last_ns = now_ns};
            return s;
        }
        if (s->dropped == 0 && s->last_ns < b->slots[victim].last_ns)
            victim = (start + i) % UID_BUDGET_SLOTS;
    }
    struct bucket *s = &b->slots[victim];
    *s = (struct bucket){.uid = uid, .used = true, .tokens = (double)b->burst, .last_ns = now_ns};
    return s;
}

static void refill(const struct uid_budget *b, struct bucket *s, uint64_t now_ns)
{
    if (now_ns <= s->last_ns)
        return;
    s->tokens += (double)(now_ns - s->last_ns) * (double)b->rate / 1e9;
    if (s->tokens > (double)b->burst)
        s->tokens = (double)b->burst;
    s->last_ns = now_ns;
}

bool uid_budget_allow(struct uid_budget *b, uint32_t uid, uint64_t now_ns)
{
    if (!b || b->rate == 0)
        return true;
    struct bucket *s = bucket_find(b, uid, now_ns);
    refill(b, s, now_ns);
    if (s->tokens > 0)
        return true;
    s->dropped++;
    b->dropped_total++;
    return false;
}

void uid_budget_charge(struct uid_budget *b, uint32_t uid, uint64_t bytes)
{
    if (!b || b->rate == 0)
        return;
    /* The line is written already: the bucket may go below zero, and the
     * user waits until it is paid back. */
    struct bucket *s = bucket_find(b, uid, 0);
    s->tokens -= (double)bytes;
}

int uid_budget_drain_drops(struct uid_budget *b,
                           int (*fn)(uint32_t uid, uint64_t dropped, void *ctx), void *ctx)
{
    for (size_t i = 0; b && i < UID_BUDGET_SLOTS; i++) {
        struct bucket *s = &b->slots[i];
        if (!s->used || s->dropped == 0)
            continue;
        int ret = fn(s->uid, s->dropped, ctx);
        if (ret)
            return ret;
        s->dropped = 0;
    }
    return 0;
}

uint64_t uid_budget_dropped_total(const struct uid_budget *b)
{
    return b ? b->dropped_total : 0;
}
