#include "container_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http_response.h"
#include "strbuf.h"
#include "timeutil.h"

#define MS 1000000ull
#define BACKOFF_MIN_NS (500 * MS)
#define BACKOFF_MAX_NS (5000 * MS)
/* An engine that takes longer than this for a list or an inspection, or
 * to start the event stream, is treated as gone. */
#define REQUEST_TIMEOUT_NS (10000 * MS)
/* Bytes read per dispatch: a chatty engine must not hold up the ring
 * buffer, which shares the daemon's thread. */
#define READ_BUDGET (256u * 1024)
#define TABLE_BUCKETS 256
/* {"type":["container"]} */
#define EVENTS_PATH "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"
#define LIST_PATH "/containers/json"

enum conn_kind { CONN_EVENTS, CONN_LIST, CONN_INSPECT };

struct conn {
    int fd; /* -1 when closed */
    enum conn_kind kind;
    char id[CONTAINER_ID_MAX + 1]; /* CONN_INSPECT */
    struct strbuf out;             /* the request, sent from out_off on */
    size_t out_off;
    struct http_response resp;
    uint64_t deadline_ns; /* 0: none (an event stream that has started) */
};

struct record {
    struct record *next;
    struct container_info info;
    char name[CONTAINER_NAME_MAX + 1];
    bool listed; /* in the last list */
};

struct container_engine {
    char *socket_path;
    char *proc_root;
    char cgroup2_root[512]; /* "" without a v2 hierarchy */
    int epfd, timerfd;
    struct conn events, req;
    /* Ids waiting for an inspection, in order; may repeat. */
    char (*queue)[CONTAINER_ID_MAX + 1];
    size_t queue_len, queue_cap;
    bool list_pending; /* a list is due before any inspection */
    bool connected;    /* the event stream is open */
    bool answering;    /* listed and inspected since connecting */
    bool said_down;    /* a failure was logged: the next is said only after an answer */
    uint64_t backoff_ns, retry_at_ns;
    struct record *table[TABLE_BUCKETS];
    size_t n_records;
    struct container_engine_listener listener;
};

static void log_engine(const struct container_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_engine(const struct container_engine *e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "pidtree-bcc: container engine %s: %s\n", e->socket_path, msg);
}

/* ---- the table of containers ---- */

static size_t bucket_of(const char *id)
{
    size_t h = 5381;
    for (const char *p = id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % TABLE_BUCKETS;
}

static struct record **record_slot(struct container_engine *e, const char *id)
{
    struct record **r = &e->table[bucket_of(id)];
    while (*r && strcmp((*r)->info.id, id) != 0)
        r = &(*r)->next;
    return r;
}

static void record_free(struct record *r)
{
    json_decref(r->info.labels);
    free(r);
}

static void notify_changed(struct container_engine *e, const struct container_info *c, bool present)
{
    if (e->listener.changed)
        e->listener.changed(e->listener.ctx, c, present);
}

static void record_forget(struct container_engine *e, const char *id)
{
    struct record **slot = record_slot(e, id);
    struct record *r = *slot;
    if (!r)
        return;
    *slot = r->next;
    e->n_records--;
    notify_changed(e, &r->info, false);
    record_free(r);
}

/* From an inspection: a new container, or new facts about one. */
static void record_put(struct container_engine *e, const struct container_info *c, const char *name)
{
    struct record **slot = record_slot(e, c->id);
    struct record *r = *slot;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r) {
            log_engine(e, "out of memory: container %.12s not kept", c->id);
            json_decref(c->labels);
            return;
        }
        *slot = r;
        e->n_records++;
    } else {
        json_decref(r->info.labels);
    }
    r->info = *c;
    r->listed = true;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->info.name = r->name[0] ? r->name : NULL;
    if (r->info.pid && e->cgroup2_root[0] &&
        container_cgroup_id(e->proc_root, e->cgroup2_root, r->info.pid, &r->info.cgroup_id) < 0)
        r->info.cgroup_id = 0;
    notify_changed(e, &r->info, true);
}

const struct container_info *container_engine_find(const struct container_engine *e, const char *id)
{
    for (struct record *r = e->table[bucket_of(id)]; r; r = r->next)
        if (strcmp(r->info.id, id) == 0)
            return &r->info;
    return NULL;
}

void container_engine_foreach(const struct container_engine *e,
                              void (*fn)(void *ctx, const struct container_info *c), void *ctx)
{
    for (size_t i = 0; i < TABLE_BUCKETS; i++)
        for (struct record *r = e->table[i]; r; r = r->next)
            fn(ctx, &r->info);
}

/* After a new list: what it no longer holds has gone while the engine
 * was away. */
static void table_drop_unlisted(struct container_engine *e)
{
    for (size_t i = 0; i < TABLE_BUCKETS; i++) {
        struct record **r = &e->table[i];
        while (*r) {
            if ((*r)->listed) {
                r = &(*r)->next;
                continue;
            }
            struct record *gone = *r;
            *r = gone->next;
            e->n_records--;
            notify_changed(e, &gone->info, false);
            record_free(gone);
        }
    }
}

/* ---- connections ---- */

static void conn_close(struct container_engine *e, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    strbuf_release(&c->out);
    c->out_off = 0;
    http_response_release(&c->resp);
}

/* Sends what the socket takes; once all is sent, only reading is left. */
static int conn_send(struct container_engine *e, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        c->out_off += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* A unix socket's connect() completes or fails at once; a full backlog
 * (EAGAIN) is a failure like any other, retried later. */
static int conn_open(struct container_engine *e, struct conn *c, enum conn_kind kind,
                     const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(e->socket_path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, e->socket_path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    c->kind = kind;
    http_response_init(&c->resp);
    int ret = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    if (ret == 0)
        ret = http_request_get(&c->out, path);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (ret == 0 && epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        ret = -errno;
    if (ret == 0)
        ret = conn_send(e, c);
    if (ret < 0) {
        conn_close(e, c);
        return ret;
    }
    c->deadline_ns = time_monotonic_ns() + REQUEST_TIMEOUT_NS;
    return 0;
}

/* ---- the engine's state ---- */

static void arm_timer(struct container_engine *e);
static void request_next(struct container_engine *e);

/* The engine went away or misbehaved: everything is closed and a
 * reconnection scheduled. What is known stays known (running containers
 * do not stop with their engine), until a new list says otherwise. */
static void engine_down(struct container_engine *e, const char *why, int err)
{
    bool say = e->answering || !e->said_down;
    conn_close(e, &e->events);
    conn_close(e, &e->req);
    e->queue_len = 0;
    e->list_pending = false;
    e->connected = false;
    if (e->answering && e->listener.answering)
        e->listener.answering(e->listener.ctx, false);
    e->answering = false;
    if (say)
        log_engine(e, "%s%s%s; retrying (every %llu s at most)", why, err ? ": " : "",
                   err ? strerror(-err) : "", (unsigned long long)(BACKOFF_MAX_NS / 1000000000ull));
    e->said_down = true;
    e->retry_at_ns = time_monotonic_ns() + e->backoff_ns;
    e->backoff_ns = e->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : e->backoff_ns * 2;
}

/* The event stream first, then the list: a container started between the
 * two is in one or the other. */
static void engine_connect(struct container_engine *e)
{
    e->retry_at_ns = 0;
    int ret = conn_open(e, &e->events, CONN_EVENTS, EVENTS_PATH);
    if (ret < 0) {
        engine_down(e, "cannot connect", ret);
        return;
    }
    e->connected = true;
    e->list_pending = true;
    for (size_t i = 0; i < TABLE_BUCKETS; i++)
        for (struct record *r = e->table[i]; r; r = r->next)
            r->listed = false;
    request_next(e);
}

static void answered(struct container_engine *e)
{
    if (e->answering || e->list_pending || e->queue_len || e->req.fd >= 0)
        return;
    e->answering = true;
    e->said_down = false;
    e->backoff_ns = BACKOFF_MIN_NS;
    log_engine(e, "answering: %zu container(s) running", e->n_records);
    if (e->listener.answering)
        e->listener.answering(e->listener.ctx, true);
}

static int queue_push(struct container_engine *e, const char *id)
{
    if (e->queue_len == e->queue_cap) {
        size_t cap = e->queue_cap ? e->queue_cap * 2 : 16;
        void *q = realloc(e->queue, cap * sizeof(*e->queue));
        if (!q)
            return -ENOMEM;
        e->queue = q;
        e->queue_cap = cap;
    }
    snprintf(e->queue[e->queue_len++], CONTAINER_ID_MAX + 1, "%s", id);
    return 0;
}

/* One request at a time on its own connection: the list, then the
 * inspections in order. */
static void request_next(struct container_engine *e)
{
    if (e->req.fd >= 0 || !e->connected)
        return;
    char path[64 + CONTAINER_ID_MAX];
    int ret = 0;
    if (e->list_pending) {
        ret = conn_open(e, &e->req, CONN_LIST, LIST_PATH);
    } else if (e->queue_len) {
        snprintf(path, sizeof(path), "/containers/%s/json", e->queue[0]);
        ret = conn_open(e, &e->req, CONN_INSPECT, path);
        if (ret == 0)
            snprintf(e->req.id, sizeof(e->req.id), "%s", e->queue[0]);
        memmove(e->queue, e->queue + 1, (e->queue_len - 1) * sizeof(*e->queue));
        e->queue_len--;
    } else {
        answered(e);
        return;
    }
    if (ret < 0)
        engine_down(e, "cannot connect", ret);
}

static void on_list(struct container_engine *e, const struct http_response *r)
{
    json_t *ids = r->status == 200 ? container_engine_parse_list(r->body.data, r->body.len) : NULL;
    if (!ids) {
        engine_down(e, "unexpected answer to " LIST_PATH, 0);
        return;
    }
    e->list_pending = false;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (queue_push(e, json_string_value(id)) < 0) {
            json_decref(ids);
            engine_down(e, "out of memory listing containers", -ENOMEM);
            return;
        }
        struct record *rec = *record_slot(e, json_string_value(id));
        if (rec)
            rec->listed = true;
    }
    json_decref(ids);
    table_drop_unlisted(e);
}

static void on_inspect(struct container_engine *e, const char *id, const struct http_response *r)
{
    struct container_info info;
    char name[CONTAINER_NAME_MAX + 1];
    int running = -EINVAL;
    if (r->status == 200)
        running =
            container_engine_parse_inspect(r->body.data, r->body.len, &info, name, sizeof(name));
    /* Gone (404), stopped since, or an answer that is not an inspection. */
    if (running <= 0 || strcmp(info.id, id) != 0) {
        if (running >= 0)
            json_decref(info.labels);
        record_forget(e, id);
        return;
    }
    record_put(e, &info, name);
}

/* The stream's complete lines, each a JSON event. */
static void on_events(struct container_engine *e, struct http_response *r)
{
    if (r->state <= HTTP_HEADERS)
        return;
    if (r->status != 200) {
        engine_down(e, "unexpected answer to /events", 0);
        return;
    }
    e->events.deadline_ns = 0; /* the stream has started: it may be quiet for hours */
    char *nl;
    while (r->body.len && (nl = memchr(r->body.data, '\n', r->body.len))) {
        size_t len = (size_t)(nl - r->body.data);
        enum container_event_action action;
        char id[CONTAINER_ID_MAX + 1];
        if (container_engine_parse_event(r->body.data, len, &action, id) == 0) {
            if (action == CONTAINER_EVENT_START && queue_push(e, id) < 0)
                log_engine(e, "out of memory: container %.12s not inspected", id);
            else if (action == CONTAINER_EVENT_STOP)
                record_forget(e, id);
        }
        http_response_consume(r, len + 1);
    }
    request_next(e);
}

/* Reads what is there (up to the budget). Returns -EAGAIN when more may
 * wait, 0 when drained, 1 at the end of the connection, or an error. */
static int conn_read(struct conn *c, size_t *budget)
{
    char buf[16384];
    while (*budget > 0) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        *budget = (size_t)n >= *budget ? 0 : *budget - (size_t)n;
        int ret = http_response_feed(&c->resp, buf, (size_t)n);
        if (ret < 0)
            return ret;
    }
    return -EAGAIN;
}

static void on_request_done(struct container_engine *e)
{
    struct conn *c = &e->req;
    enum conn_kind kind = c->kind;
    char id[CONTAINER_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", c->id);
    struct http_response resp = c->resp;
    http_response_init(&c->resp);
    conn_close(e, c);
    if (kind == CONN_LIST)
        on_list(e, &resp);
    else
        on_inspect(e, id, &resp);
    http_response_release(&resp);
    request_next(e);
}

static void conn_ready(struct container_engine *e, struct conn *c, uint32_t events, size_t *budget)
{
    int ret = 0;
    if (events & EPOLLOUT)
        ret = conn_send(e, c);
    if (ret == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        ret = conn_read(c, budget);
    if (ret < 0 && ret != -EAGAIN) {
        engine_down(e, c == &e->events ? "event stream failed" : "request failed", ret);
        return;
    }
    if (c == &e->events) {
        /* What arrived before the end still counts. */
        on_events(e, &c->resp);
        if (ret == 1 && e->events.fd >= 0)
            engine_down(e, "the engine closed its event stream", 0);
        return;
    }
    if (ret == 1 && http_response_eof(&c->resp) < 0) {
        engine_down(e, "answer cut short", -EPROTO);
        return;
    }
    if (http_response_done(&c->resp))
        on_request_done(e);
}

static void on_timer(struct container_engine *e)
{
    uint64_t expirations;
    if (read(e->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    uint64_t now = time_monotonic_ns();
    if (!e->connected && e->retry_at_ns && now >= e->retry_at_ns) {
        engine_connect(e);
        return;
    }
    if ((e->req.fd >= 0 && e->req.deadline_ns && now >= e->req.deadline_ns) ||
        (e->events.fd >= 0 && e->events.deadline_ns && now >= e->events.deadline_ns))
        engine_down(e, "no answer within 10 s", -ETIMEDOUT);
}

/* One shot, at the nearest of the retry and the requests' deadlines. */
static void arm_timer(struct container_engine *e)
{
    uint64_t at = 0;
    const uint64_t cands[] = {e->connected ? 0 : e->retry_at_ns,
                              e->req.fd >= 0 ? e->req.deadline_ns : 0,
                              e->events.fd >= 0 ? e->events.deadline_ns : 0};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (cands[i] && (!at || cands[i] < at))
            at = cands[i];
    struct itimerspec its = {0};
    if (at) {
        its.it_value.tv_sec = (time_t)(at / 1000000000ull);
        its.it_value.tv_nsec = (long)(at % 1000000000ull);
    }
    timerfd_settime(e->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void container_engine_dispatch(struct container_engine *e)
{
    struct epoll_event evs[4];
    size_t budget = READ_BUDGET;
    int n = epoll_wait(e->epfd, evs, 4, 0);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == NULL) {
            on_timer(e);
            continue;
        }
        struct conn *c = evs[i].data.ptr;
        /* An earlier event of this round may have closed it. */
        if (c->fd >= 0)
            conn_ready(e, c, evs[i].events, &budget);
    }
    arm_timer(e);
}

/* ---- life ---- */

static void find_cgroup2(struct container_engine *e, const char *given)
{
    char mounts[65536];
    e->cgroup2_root[0] = '\0';
    if (given) {
        snprintf(e->cgroup2_root, sizeof(e->cgroup2_root), "%s", given);
        return;
    }
    FILE *f = fopen("/proc/self/mounts", "re");
    if (!f)
        return;
    size_t n = fread(mounts, 1, sizeof(mounts) - 1, f);
    fclose(f);
    mounts[n] = '\0';
    if (container_mounts_cgroup2(mounts, e->cgroup2_root, sizeof(e->cgroup2_root)) < 0)
        e->cgroup2_root[0] = '\0';
}

struct container_engine *container_engine_new(const char *socket_path, const char *proc_root,
                                              const char *cgroup2_root)
{
    struct container_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->events.fd = e->req.fd = e->timerfd = -1;
    e->backoff_ns = BACKOFF_MIN_NS;
    e->socket_path = strdup(socket_path);
    e->proc_root = strdup(proc_root);
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (!e->socket_path || !e->proc_root || e->epfd < 0 || e->timerfd < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->timerfd, &ev) < 0) {
        int err = errno ? errno : ENOMEM;
        container_engine_free(e);
        errno = err;
        return NULL;
    }
    find_cgroup2(e, cgroup2_root);
    engine_connect(e);
    arm_timer(e);
    return e;
}

void container_engine_free(struct container_engine *e)
{
    if (!e)
        return;
    if (e->epfd >= 0) {
        conn_close(e, &e->events);
        conn_close(e, &e->req);
    }
    for (size_t i = 0; i < TABLE_BUCKETS; i++) {
        while (e->table[i]) {
            struct record *r = e->table[i];
            e->table[i] = r->next;
            record_free(r);
        }
    }
    if (e->timerfd >= 0)
        close(e->timerfd);
    if (e->epfd >= 0)
        close(e->epfd);
    free(e->queue);
    free(e->socket_path);
    free(e->proc_root);
    free(e);
}

int container_engine_fd(const struct container_engine *e)
{
    return e->epfd;
}

void container_engine_set_listener(struct container_engine *e,
                                   const struct container_engine_listener *l)
{
    if (l)
        e->listener = *l;
    else
        memset(&e->listener, 0, sizeof(e->listener));
}

const char *container_engine_socket(const struct container_engine *e)
{
    return e->socket_path;
}

bool container_engine_answering(const struct container_engine *e)
{
    return e->answering;
}

/* ---- the Docker Engine API's JSON ---- */

int container_engine_socket_path(const char *docker_host, char *buf, size_t size)
{
    const char *path = CONTAINER_ENGINE_DEFAULT_SOCKET;
    if (docker_host && docker_host[0]) {
        if (strncmp(docker_host, "unix://", 7) != 0 || docker_host[7] != '/')
            return -EPROTONOSUPPORT;
        path = docker_host + 7;
    }
    if (strlen(path) >= size || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    return 0;
}

static bool valid_id(const char *id)
{
    if (!id || strlen(id) != 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

json_t *container_engine_parse_list(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *list = body ? json_loadb(body, len, 0, &jerr) : NULL;
    json_t *ids = json_array();
    if (!json_is_array(list) || !ids) {
        json_decref(list);
        json_decref(ids);
        return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (valid_id(id) && json_array_append_new(ids, json_string(id)) < 0) {
            json_decref(ids);
            ids = NULL;
            break;
        }
    }
    json_decref(list);
    return ids;
}

/* Only string values: a label is a string to string map in every engine,
 * and globs match strings. */
static json_t *labels_copy(const json_t *labels)
{
    json_t *out = json_object();
    const char *key;
    json_t *value;
    if (!out || !labels)
        return out;
    json_object_foreach((json_t *)labels, key, value)
    {
        if (json_is_string(value) && json_object_set(out, key, value) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

int container_engine_parse_inspect(const char *body, size_t len, struct container_info *out,
                                   char *name, size_t name_size)
{
    json_error_t jerr;
    json_t *doc = body ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *id = json_string_value(json_object_get(doc, "Id"));
    json_t *state = json_object_get(doc, "State");
    json_t *pid = json_object_get(state, "Pid");
    memset(out, 0, sizeof(*out));
    name[0] = '\0';
    if (!valid_id(id) || !json_is_object(state) || (pid && !json_is_integer(pid))) {
        json_decref(doc);
        return -EINVAL;
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    json_int_t p = json_integer_value(pid);
    out->pid = p > 0 && p <= UINT32_MAX ? (uint32_t)p : 0;
    const char *n = json_string_value(json_object_get(doc, "Name"));
    if (n && n[0] == '/')
        n++;
    if (n && strlen(n) < name_size && strlen(n) <= CONTAINER_NAME_MAX)
        strcpy(name, n);
    out->labels = labels_copy(json_object_get(json_object_get(doc, "Config"), "Labels"));
    int running = json_is_true(json_object_get(state, "Running")) ? 1 : 0;
    json_decref(doc);
    if (!out->labels)
        return -ENOMEM;
    return running;
}

static enum container_event_action action_of(const char *action)
{
    static const char *const starts[] = {"start", "restart", "unpause", "rename"};
    static const char *const stops[] = {"die", "died", "stop", "destroy", "remove"};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        if (strcmp(action, starts[i]) == 0)
            return CONTAINER_EVENT_START;
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
        if (strcmp(action, stops[i]) == 0)
            return CONTAINER_EVENT_STOP;
    return CONTAINER_EVENT_OTHER;
}

/* {"Type":"container","Action":"start","Actor":{"ID":"..."},...}; engines
 * before API 1.22 said "status" and "id" instead. */
int container_engine_parse_event(const char *line, size_t len, enum container_event_action *action,
                                 char id[CONTAINER_ID_MAX + 1])
{
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, 0, &jerr);
    const char *type = json_string_value(json_object_get(ev, "Type"));
    const char *act = json_string_value(json_object_get(ev, "Action"));
    const char *cid = json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID"));
    if (!act)
        act = json_string_value(json_object_get(ev, "status"));
    if (!cid)
        cid = json_string_value(json_object_get(ev, "id"));
    int ret = -EINVAL;
    if (act && valid_id(cid) && (!type || strcmp(type, "container") == 0)) {
        *action = action_of(act);
        snprintf(id, CONTAINER_ID_MAX + 1, "%s", cid);
        ret = 0;
    }
    json_decref(ev);
    return ret;
}
