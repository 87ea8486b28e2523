/* event_loop: the daemon's one thread, on epoll.
 *
 * File events (ring buffer, signalfd, inotify), periodic timers (timerfd:
 * the one-second tick, the lifecycle drain), and a before-sleep hook where
 * buffered output is flushed. Modelled on Redis's ae.c, reduced to what one daemon needs.
 */
#ifndef PIDTREE_EVENT_LOOP_H
#define PIDTREE_EVENT_LOOP_H

#include <signal.h>

typedef void (*event_loop_fd_fn)(int fd, void *ctx);
typedef void (*event_loop_hook_fn)(void *ctx);

struct event_loop;

/* NULL with errno on failure. */
struct event_loop *event_loop_new(void);
void event_loop_free(struct event_loop *loop);

/* Calls `fn` when `fd` is readable. Returns 0 or a negative errno. */
int event_loop_add_fd(struct event_loop *loop, int fd, event_loop_fd_fn fn, void *ctx);
int event_loop_del_fd(struct event_loop *loop, int fd);

/* Calls `fn` every `period_ms` milliseconds, up to EVENT_LOOP_MAX_TIMERS
 * timers per loop. Returns 0 or a negative errno. */
#define EVENT_LOOP_MAX_TIMERS 4
int event_loop_add_timer(struct event_loop *loop, unsigned period_ms, event_loop_hook_fn fn,
                         void *ctx);

void event_loop_set_before_sleep(struct event_loop *loop, event_loop_hook_fn fn, void *ctx);

/* Runs until event_loop_stop(). Returns 0, or a negative errno when epoll
 * itself failed. */
int event_loop_run(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

#endif
