/* container_engine: what the container engine says of its containers (name,
 * labels, main process, cgroup), kept current without ever blocking.
 *
 * Speaks the Docker Engine API (Docker, and podman's compatible service) on
 * its unix socket: HTTP/1.1 by hand, one request per connection. It
 * subscribes to /events first, then lists the running containers and
 * inspects each, so a container started in between is not missed; from
 * then on a "start" is inspected and a "die" forgotten as they come. When
 * the engine is absent, stops answering or restarts, it reconnects with a
 * backoff (0.5 s doubling to 5 s) and, once it answers again, lists anew:
 * containers gone meanwhile are forgotten. Until it has answered once, it
 * knows no container; the daemon's container_labels filter then reports
 * nothing (fails closed).
 *
 * Everything runs from one fd the daemon's event loop watches (an epoll
 * set of the engine's sockets and its timer): never a blocking call.
 */
#ifndef PIDTREE_CONTAINER_ENGINE_H
#define PIDTREE_CONTAINER_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"

#define CONTAINER_ENGINE_DEFAULT_SOCKET "/var/run/docker.sock"
/* Longer names are not kept: every event line carries the name. */
#define CONTAINER_NAME_MAX 255

/* One running container as the engine described it. */
struct container_info {
    char id[CONTAINER_ID_MAX + 1];
    const char *name; /* without Docker's leading '/'; NULL when none */
    json_t *labels;   /* an object of strings, never NULL */
    uint32_t pid;     /* its main process, in the host's PID namespace */
    /* Its cgroup's id on the cgroup v2 hierarchy, what the kernel's
     * bpf_get_current_cgroup_id() reports: the cgroup that names the
     * container, above any the container made inside it. 0 when unknown
     * (no cgroup v2, or the process was gone). */
    uint64_t cgroup_id;
};

struct container_engine_listener {
    /* A container was inspected (started, or listed after a reconnect):
     * `present`; or it stopped or is gone from a new list: !present.
     * Called again for a container inspected again. */
    void (*changed)(void *ctx, const struct container_info *c, bool present);
    /* The engine answered (every container listed and inspected), or
     * stopped answering. */
    void (*answering)(void *ctx, bool answering);
    void *ctx;
};

struct container_engine;

/* A client of the engine at `socket_path`. `proc_root` ("/proc") and
 * `cgroup2_root` (the cgroup v2 mount; NULL: found in /proc/self/mounts)
 * locate the containers' cgroups. Connects at once. NULL with errno. */
struct container_engine *container_engine_new(const char *socket_path, const char *proc_root,
                                              const char *cgroup2_root);
void container_engine_free(struct container_engine *e);

/* Readable when the engine has work: call container_engine_dispatch. */
int container_engine_fd(const struct container_engine *e);
/* Reads what the engine sent, sends what is due, reconnects when the time
 * has come. Bounded work per call; never blocks. */
void container_engine_dispatch(struct container_engine *e);

/* Replaces the listener (NULL: none). A daemon restarting hands the client
 * over to its successor this way. */
void container_engine_set_listener(struct container_engine *e,
                                   const struct container_engine_listener *l);

const char *container_engine_socket(const struct container_engine *e);
/* True once the engine has answered (listed and inspected every running
 * container) since it last connected. */
bool container_engine_answering(const struct container_engine *e);

/* The container with this id, or NULL. Valid until the next dispatch. */
const struct container_info *container_engine_find(const struct container_engine *e,
                                                   const char *id);
/* Calls `fn` on every known container. */
void container_engine_foreach(const struct container_engine *e,
                              void (*fn)(void *ctx, const struct container_info *c), void *ctx);

/* ---- pure parts, for the tests ---- */

/* The socket path DOCKER_HOST names: unset or empty is the default,
 * "unix:///path" is /path. Returns 0, -EPROTONOSUPPORT for other schemes
 * (tcp, ssh), -ENAMETOOLONG. */
int container_engine_socket_path(const char *docker_host, char *buf, size_t size);

/* GET /containers/json: the ids (64 hex digits) in a new JSON array, or
 * NULL when the body is not a list of containers. */
json_t *container_engine_parse_list(const char *body, size_t len);

/* GET /containers/ID/json into `out` (labels a new reference). Returns 1 for
 * a running container, 0 for one that is not running, -EINVAL when the body
 * is not an inspection. */
int container_engine_parse_inspect(const char *body, size_t len, struct container_info *out,
                                   char *name, size_t name_size);

enum container_event_action {
    CONTAINER_EVENT_OTHER = 0,
    CONTAINER_EVENT_START, /* start, restart, unpause, rename: inspect */
    CONTAINER_EVENT_STOP,  /* die, stop, destroy: forget */
};

/* One line of GET /events into its action and the container's id. Returns
 * 0, or -EINVAL when the line is not a container event. */
int container_engine_parse_event(const char *line, size_t len, enum container_event_action *action,
                                 char id[CONTAINER_ID_MAX + 1]);

#endif
