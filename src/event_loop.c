#include "event_loop.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVENT_LOOP_MAX_FDS 64

struct fd_handler {
    int fd;
    event_loop_fd_fn fn;
    void *ctx;
};

struct timer {
    int fd;
    event_loop_hook_fn fn;
    void *ctx;
};

struct event_loop {
    int epfd;
    struct fd_handler handlers[EVENT_LOOP_MAX_FDS];
    size_t n_handlers;
    struct timer timers[EVENT_LOOP_MAX_TIMERS];
    size_t n_timers;
    event_loop_hook_fn before_sleep;
    void *before_sleep_ctx;
    volatile sig_atomic_t stop;
};

struct event_loop *event_loop_new(void)
{
    struct event_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int e = errno;
        free(loop);
        errno = e;
        return NULL;
    }
    return loop;
}

void event_loop_free(struct event_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->n_timers; i++)
        close(loop->timers[i].fd);
    close(loop->epfd);
    free(loop);
}

int event_loop_add_fd(struct event_loop *loop, int fd, event_loop_fd_fn fn, void *ctx)
{
    if (loop->n_handlers == EVENT_LOOP_MAX_FDS)
        return -ENOSPC;
    struct fd_handler *h = &loop->handlers[loop->n_handlers];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    *h = (struct fd_handler){.fd = fd, .fn = fn, .ctx = ctx};
    loop->n_handlers++;
    return 0;
}

/* Handlers are addressed by pointer from epoll, so a removed slot is only
 * emptied, never reused or compacted. */
int event_loop_del_fd(struct event_loop *loop, int fd)
{
    for (size_t i = 0; i < loop->n_handlers; i++) {
        if (loop->handlers[i].fd == fd && loop->handlers[i].fn) {
            loop->handlers[i].fn = NULL;
            return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
        }
    }
    return -ENOENT;
}

static void timer_fired(int fd, void *ctx)
{
    struct timer *t = ctx;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof(expirations)) < 0)
        return; /* EAGAIN: nothing to do */
    t->fn(t->ctx);
}

int event_loop_add_timer(struct event_loop *loop, unsigned period_ms, event_loop_hook_fn fn,
                         void *ctx)
{
    if (loop->n_timers == EVENT_LOOP_MAX_TIMERS)
        return -ENOSPC;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct itimerspec its = {
        .it_interval = {period_ms / 1000, (long)(period_ms % 1000) * 1000000L},
        .it_value = {period_ms / 1000, (long)(period_ms % 1000) * 1000000L},
    };
    struct timer *t = &loop->timers[loop->n_timers];
    *t = (struct timer){.fd = fd, .fn = fn, .ctx = ctx};
    int ret = timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
    if (ret == 0)
        ret = event_loop_add_fd(loop, fd, timer_fired, t);
    if (ret < 0) {
        close(fd);
        return ret;
    }
    loop->n_timers++;
    return 0;
}

void event_loop_set_before_sleep(struct event_loop *loop, event_loop_hook_fn fn, void *ctx)
{
    loop->before_sleep = fn;
    loop->before_sleep_ctx = ctx;
}

int event_loop_run(struct event_loop *loop)
{
    struct epoll_event events[16];
    loop->stop = 0;
    while (!loop->stop) {
        if (loop->before_sleep)
            loop->before_sleep(loop->before_sleep_ctx);
        if (loop->stop)
            break;
        int n = epoll_wait(loop->epfd, events, 16, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (int i = 0; i < n && !loop->stop; i++) {
            struct fd_handler *h = events[i].data.ptr;
            if (h->fn)
                h->fn(h->fd, h->ctx);
        }
    }
    return 0;
}

void event_loop_stop(struct event_loop *loop)
{
    loop->stop = 1;
}
