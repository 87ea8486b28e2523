/* uid_budget: how many bytes of lines each user's events may cost.
 *
 * Any local user can make network events, and a line carries the user's
 * process tree, so one user making connections as fast as they can could
 * fill the output and delay every other user's events behind theirs. Each
 * uid has a token bucket of line bytes (a rate and a burst); an event of a
 * uid whose bucket is empty is dropped before any work is spent on it, and
 * counted. The daemon reports the count per uid in a line of its own, so
 * the record says who was cut and by how much. The kernel's ring buffer is
 * shared and first come, first served; what keeps it from filling is the
 * daemon draining it fast, which dropping early (and bounded lines) buys.
 */
#ifndef PIDTREE_UID_BUDGET_H
#define PIDTREE_UID_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* 8 MiB/s a user, 32 MiB at once: about 20,000 ordinary events a second a
 * user (lines of ~400 bytes), 128 a second of the largest lines. */
#define UID_BUDGET_DEFAULT_RATE (8u * 1024 * 1024)
#define UID_BUDGET_DEFAULT_BURST (32u * 1024 * 1024)

struct uid_budget;

/* rate: bytes per second; burst: the bucket's size. rate 0: no limit. NULL
 * with errno on failure. */
struct uid_budget *uid_budget_new(uint64_t rate, uint64_t burst);
void uid_budget_free(struct uid_budget *b);

/* May an event of `uid` be written at `now_ns` (a monotonic clock)? When
 * not, the drop is counted. */
bool uid_budget_allow(struct uid_budget *b, uint32_t uid, uint64_t now_ns);
/* The written line's cost. */
void uid_budget_charge(struct uid_budget *b, uint32_t uid, uint64_t bytes);

/* Calls `fn` for each uid with drops since the last call, then forgets
 * them; stops at fn's first non-zero return, which it returns. */
int uid_budget_drain_drops(struct uid_budget *b,
                           int (*fn)(uint32_t uid, uint64_t dropped, void *ctx), void *ctx);

/* Drops counted since start, all users. */
uint64_t uid_budget_dropped_total(const struct uid_budget *b);

#endif
