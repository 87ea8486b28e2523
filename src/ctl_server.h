/* ctl_server: the control socket, the daemon's end of `pidtree-bcc ctl`.
 *
 * A unix stream socket speaking JSON lines: a client writes one request
 * object per line ({"cmd": "ls"}, {"cmd": "add", "files": [{"path",
 * "text"}]}, {"cmd": "rm", "names": [...]}, {"cmd": "stats"}, {"cmd":
 * "trace", "filters": ["KEY=VALUE", ...]}) and reads one reply object per
 * request ({"ok": true, ...} or {"ok": false, "error": "..."}); after a
 * trace reply, the event lines that pass its filters follow, as written.
 *
 * Only root: the socket is created 0600 (in a directory of its own, 0700,
 * when the daemon creates that too), and a peer whose SO_PEERCRED uid is
 * not 0 gets an error and is closed.
 *
 * It never stalls the daemon: every socket is non-blocking, and what a
 * client cannot take yet waits in a buffer of its own, bounded; a trace
 * client whose buffer is full is dropped and counted. Clients live in an
 * epoll set of their own, which the daemon's loop watches as one fd.
 */
#ifndef PIDTREE_CTL_SERVER_H
#define PIDTREE_CTL_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ctl_server;
struct dispatch_line;

/* What a trace client is still owed before it is dropped. */
#define CTL_TRACE_BUFFER_MAX (4u << 20)
/* A request line, with the rule files an `add` carries. */
#define CTL_REQUEST_MAX (17u << 20)
#define CTL_CLIENTS_MAX 64

/* Answers a request other than trace: a new reference to the reply
 * object (with "ok"), or NULL when out of memory. */
typedef json_t *(*ctl_request_fn)(void *ctx, const char *cmd, json_t *request);

/* Binds `path`. A socket file left by a daemon that is gone is replaced; a
 * daemon answering on it, or a file that is not a socket, is an error.
 * NULL with `err` set on failure. */
struct ctl_server *ctl_server_new(const char *path, ctl_request_fn request, void *ctx,
                                  struct pt_error *err);
/* Closes every client and removes the socket file. NULL-safe. */
void ctl_server_free(struct ctl_server *srv);

/* The fd the daemon's loop watches; ctl_server_run when it is readable. */
int ctl_server_fd(const struct ctl_server *srv);
void ctl_server_run(struct ctl_server *srv);

/* Hands one event line to the trace clients whose filters it passes. */
void ctl_server_publish(struct ctl_server *srv, const struct dispatch_line *line);
bool ctl_server_tracing(const struct ctl_server *srv);

struct ctl_server_stats {
    uint64_t clients;       /* accepted */
    uint64_t refused;       /* not root */
    uint64_t trace_clients; /* tracing now */
    uint64_t trace_dropped; /* dropped: they could not keep up */
    uint64_t trace_lines;   /* lines handed to trace clients */
};
void ctl_server_get_stats(const struct ctl_server *srv, struct ctl_server_stats *out);

#endif
