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

struct event_loop {
    int epfd;
    int timerfd;
    struct fd_handler handlers[EVENT_LOOP_MAX_FDS];
    size_t n_handlers;
    event_loop_hook_fn tick_fn;
    void *tick_ctx;
    event_loop_hook_fn before_sleep;
    void *before_sleep_ctx;
    volatile sig_atomic_t stop;
};

struct event_loop *event_loop_new(void)
{
    struct event_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->timerfd = -1;
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
    if (loop->timerfd >= 0)
        close(loop->timerfd);
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

static void tick_fired(int fd, void *ctx)
{
    struct event_loop *loop = ctx;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof(expirations)) < 0)
        return; /* EAGAIN: nothing to do */
    if (loop->tick_fn)
        loop->tick_fn(loop->tick_ctx);
}

int event_loop_set_tick(struct event_loop *loop, unsigned period_ms, event_loop_hook_fn fn,
                        void *ctx)
{
    if (loop->timerfd >= 0)
        return -EEXIST;
    loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (loop->timerfd < 0)
        return -errno;
    struct itimerspec its = {
        .it_interval = {period_ms / 1000, (long)(period_ms % 1000) * 1000000L},
        .it_value = {period_ms / 1000, (long)(period_ms % 1000) * 1000000L},
    };
    if (timerfd_settime(loop->timerfd, 0, &its, NULL) < 0)
        return -errno;
    loop->tick_fn = fn;
    loop->tick_ctx = ctx;
    return event_loop_add_fd(loop, loop->timerfd, tick_fired, loop);
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
