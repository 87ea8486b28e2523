/* udp_session_table: open UDP sessions, as userland tracks them.
 *
 * A session is one socket of one process. The kernel counts its datagrams
 * per destination (templates/udp_session.bpf.c) and says when a destination
 * first appears and when the socket closes; this table remembers which
 * destinations each open socket has, decides when a session is over (close,
 * process exit, idle longer than the limit, or evicted when the table is
 * full) and builds its `destinations` list from the kernel's counters.
 * Pure: the counters come through a callback, so tests can supply them.
 */
#ifndef PIDTREE_UDP_SESSION_TABLE_H
#define PIDTREE_UDP_SESSION_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "templates/pidtree_common.h"
#include "templates/udp_session.h"

struct udp_session {
    uint64_t sk;
    uint32_t pid;
    uint64_t start_ns;
    struct pt_udp_dest_key *dests;
    size_t n_dests;
    size_t cap_dests;
};

/* Reads the kernel's counters for one destination. Returns 0 or -ENOENT. */
typedef int (*udp_counts_fn)(void *ctx, const struct pt_udp_dest_key *key,
                             struct pt_udp_dest_value *out);

struct udp_session_table {
    struct udp_session **sessions;
    size_t n;
    size_t max; /* sessions held at most */
    uint64_t evictions;
};

void udp_table_init(struct udp_session_table *t, size_t max_sessions);
void udp_table_release(struct udp_session_table *t);

/* Records a new destination of socket key->sk owned by `pid`. When the
 * table is full, the session idle longest (per `counts`) is removed to make
 * room and returned in *evicted (the caller reports and frees it). Returns
 * 0 or -ENOMEM. */
int udp_table_dest_start(struct udp_session_table *t, uint32_t pid,
                         const struct pt_udp_dest_key *key, uint64_t now_ns, udp_counts_fn counts,
                         void *ctx, struct udp_session **evicted);

/* Removes and returns the session of socket `sk`, or NULL. */
struct udp_session *udp_table_take_sk(struct udp_session_table *t, uint64_t sk);

/* Removes the sessions of `pid` (or those idle for longer than `max_idle_ns`
 * at `now_ns`); returns them in *out (malloc'd array, caller frees) and
 * their number. */
size_t udp_table_take_pid(struct udp_session_table *t, uint32_t pid, struct udp_session ***out);
size_t udp_table_take_idle(struct udp_session_table *t, uint64_t now_ns, uint64_t max_idle_ns,
                           udp_counts_fn counts, void *ctx, struct udp_session ***out);

/* The last datagram time of a session (its start when none counted). */
uint64_t udp_session_last_ns(const struct udp_session *s, udp_counts_fn counts, void *ctx);

/* `destinations`: [{daddr, port, duration (s), msg_count}] in first-seen
 * order. New reference, or NULL on allocation failure. */
json_t *udp_session_destinations(const struct udp_session *s, udp_counts_fn counts, void *ctx);

void udp_session_free(struct udp_session *s);

#endif
