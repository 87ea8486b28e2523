#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dispatch.h"
#include "rule_match.h"
#include "strbuf.h"
#include "yaml_tree.h"

/* A trace's KEY=VALUE filters: all must hold. */
struct trace_filter {
    char *probe;            /* NULL: any probe */
    char *rule;             /* NULL: any line; "*": lines some rule marked */
    struct rule_cond *cond; /* the other keys */
};

struct ctl_client {
    int fd; /* -1: free slot */
    struct strbuf in;
    struct strbuf out; /* what the client has not taken yet */
    size_t out_off;
    bool tracing;
    bool closing; /* close once `out` is written */
    bool want_write;
    struct trace_filter filter;
};

struct ctl_server {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
    bool bound; /* the socket file is ours to remove */
    int epfd;
    ctl_request_fn request;
    void *ctx;
    struct ctl_client clients[CTL_CLIENTS_MAX];
    struct ctl_server_stats stats;
};

/* ---- the socket ---- */

/* Another daemon answers on `path`: it is not ours to replace. */
static bool socket_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool answers = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return answers;
}

/* The socket's directory: created 0700 when missing; one that others can
 * write to without the sticky bit would let them swap the socket. */
static int dir_prepare(const char *path, struct pt_error *err)
{
    char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    struct stat st;
    if (stat(dir, &st) < 0 && errno == ENOENT && mkdir(dir, 0700) < 0 && errno != EEXIST)
        return pt_error_set(err, errno, NULL, 0, "control socket %s: cannot create %s: %s", path,
                            dir, strerror(errno));
    if (stat(dir, &st) < 0)
        return pt_error_set(err, errno, NULL, 0, "control socket %s: %s: %s", path, dir,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode) || ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) ||
        st.st_uid != geteuid())
        return pt_error_set(err, EPERM, NULL, 0,
                            "control socket %s: %s is not a directory of ours that only we can "
                            "write to (or a sticky one)",
                            path, dir);
    return 0;
}

static int stale_remove(const char *path, struct pt_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0
                               : pt_error_set(err, errno, NULL, 0, "control socket %s: %s", path,
                                              strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return pt_error_set(err, EEXIST, NULL, 0,
                            "control socket %s: the path exists and is not a socket", path);
    if (socket_answers(path))
        return pt_error_set(err, EADDRINUSE, NULL, 0,
                            "control socket %s: another daemon answers there; give this one "
                            "another with --ctl-socket",
                            path);
    if (unlink(path) < 0)
        return pt_error_set(err, errno, NULL, 0, "control socket %s: cannot remove the old one: %s",
                            path, strerror(errno));
    return 0;
}

static int socket_listen(struct ctl_server *srv, struct pt_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(srv->path) >= sizeof(sa.sun_path))
        return pt_error_set(err, ENAMETOOLONG, NULL, 0, "control socket %s: path too long",
                            srv->path);
    memcpy(sa.sun_path, srv->path, strlen(srv->path) + 1);
    int ret = dir_prepare(srv->path, err);
    if (ret == 0)
        ret = stale_remove(srv->path, err);
    if (ret < 0)
        return ret;
    srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->listen_fd < 0)
        return pt_error_set(err, errno, NULL, 0, "control socket: %s", strerror(errno));
    /* Created 0600: connecting needs write permission on it. */
    mode_t old = umask(0177);
    ret = bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    srv->bound = ret == 0;
    if (ret < 0 || listen(srv->listen_fd, 16) < 0)
        return pt_error_set(err, errno, NULL, 0, "control socket %s: %s", srv->path,
                            strerror(errno));
    return 0;
}

static int epoll_watch(struct ctl_server *srv, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    return epoll_ctl(srv->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

struct ctl_server *ctl_server_new(const char *path, ctl_request_fn request, void *ctx,
                                  struct pt_error *err)
{
    struct ctl_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
        return NULL;
    }
    snprintf(srv->path, sizeof(srv->path), "%s", path);
    srv->listen_fd = srv->epfd = -1;
    srv->request = request;
    srv->ctx = ctx;
    for (size_t i = 0; i < CTL_CLIENTS_MAX; i++)
        srv->clients[i].fd = -1;
    if (strlen(path) >= sizeof(srv->path)) {
        pt_error_set(err, ENAMETOOLONG, NULL, 0, "control socket %s: path too long", path);
        free(srv);
        return NULL;
    }
    int ret = socket_listen(srv, err);
    if (ret == 0 && (srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        ret = pt_error_set(err, errno, NULL, 0, "control socket: %s", strerror(errno));
    if (ret == 0 && (ret = epoll_watch(srv, EPOLL_CTL_ADD, srv->listen_fd, EPOLLIN, NULL)) < 0)
        pt_error_set(err, -ret, NULL, 0, "control socket: %s", strerror(-ret));
    if (ret < 0) {
        ctl_server_free(srv);
        return NULL;
    }
    return srv;
}

static void filter_release(struct trace_filter *f)
{
    free(f->probe);
    free(f->rule);
    rule_cond_free(f->cond);
    memset(f, 0, sizeof(*f));
}

static void client_close(struct ctl_server *srv, struct ctl_client *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->tracing)
        srv->stats.trace_clients--;
    strbuf_release(&c->in);
    strbuf_release(&c->out);
    c->out_off = 0;
    c->tracing = c->closing = c->want_write = false;
    filter_release(&c->filter);
}

void ctl_server_free(struct ctl_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < CTL_CLIENTS_MAX; i++)
        client_close(srv, &srv->clients[i]);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->bound)
        unlink(srv->path);
    free(srv);
}

int ctl_server_fd(const struct ctl_server *srv)
{
    return srv->epfd;
}

bool ctl_server_tracing(const struct ctl_server *srv)
{
    return srv && srv->stats.trace_clients > 0;
}

void ctl_server_get_stats(const struct ctl_server *srv, struct ctl_server_stats *out)
{
    *out = srv->stats;
}

/* ---- writing to clients ---- */

/* Watches for writability only while something waits. */
static void client_want_write(struct ctl_server *srv, struct ctl_client *c, bool on)
{
    if (c->want_write == on)
        return;
    if (epoll_watch(srv, EPOLL_CTL_MOD, c->fd, EPOLLIN | (on ? EPOLLOUT : 0), c) == 0)
        c->want_write = on;
}

/* Writes what the client takes now. Returns false when it is gone. */
static bool client_flush(struct ctl_server *srv, struct ctl_client *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            client_close(srv, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
        if (c->closing) {
            client_close(srv, c);
            return false;
        }
    } else if (c->out_off > (1u << 20)) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    client_want_write(srv, c, c->out.len > 0);
    return true;
}

/* Queues `len` bytes and a newline. A trace client past its bound is
 * dropped: the daemon never waits for one. */
static bool client_queue(struct ctl_server *srv, struct ctl_client *c, const char *data, size_t len)
{
    if (c->tracing && c->out.len - c->out_off + len + 1 > CTL_TRACE_BUFFER_MAX) {
        srv->stats.trace_dropped++;
        client_close(srv, c);
        return false;
    }
    if (strbuf_append(&c->out, data, len) < 0 || strbuf_append(&c->out, "\n", 1) < 0) {
        client_close(srv, c);
        return false;
    }
    client_want_write(srv, c, true);
    return true;
}

/* Sends `reply` and drops the reference; NULL says "out of memory". */
static void client_reply(struct ctl_server *srv, struct ctl_client *c, json_t *reply)
{
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}";
    if (client_queue(srv, c, text ? text : oom, text ? strlen(text) : sizeof(oom) - 1))
        client_flush(srv, c);
    free(text);
}

static json_t *reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *reply_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

/* ---- trace ---- */

static bool key_valid(const char *k, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    return true;
}

/* 'text' as a single-quoted YAML scalar. */
static int yaml_quote(struct strbuf *sb, const char *text, size_t len)
{
    int ret = strbuf_puts(sb, "'");
    for (size_t i = 0; i < len && ret == 0; i++)
        ret = text[i] == '\'' ? strbuf_puts(sb, "''") : strbuf_append(sb, &text[i], 1);
    return ret == 0 ? strbuf_puts(sb, "'") : ret;
}

/* The fields' KEY=VALUE pairs as a condition, through the rules' own
 * compiler: `port=80`, `daddr=10.0.0.0/8`, `cmdline=*curl*`. */
static int filter_cond(struct trace_filter *f, struct strbuf *yaml, char *why, size_t whylen)
{
    struct yaml_tree t;
    struct pt_error err = {0};
    int ret = yaml_tree_load_string(yaml->data, yaml->len, "trace", &t, NULL, &err);
    if (ret == 0) {
        ret = rule_cond_compile(t.root, "trace", NULL, NULL, &f->cond, &err);
        yaml_tree_release(&t);
    }
    if (ret < 0)
        snprintf(why, whylen, "%s", err.msg);
    return ret;
}

static int filter_compile(struct trace_filter *f, json_t *filters, char *why, size_t whylen)
{
    struct strbuf yaml = STRBUF_INIT;
    size_t i;
    json_t *item;
    int ret = 0;
    json_array_foreach(filters, i, item)
    {
        const char *s = json_string_value(item), *eq = s ? strchr(s, '=') : NULL;
        if (!eq || !key_valid(s, (size_t)(eq - s))) {
            snprintf(why, whylen, "trace filter '%s': expected KEY=VALUE", s ? s : "?");
            ret = -EINVAL;
            break;
        }
        char **slot = strncmp(s, "probe=", 6) == 0  ? &f->probe
                      : strncmp(s, "rule=", 5) == 0 ? &f->rule
                                                    : NULL;
        if (slot) {
            free(*slot);
            ret = (*slot = strdup(eq + 1)) ? 0 : -ENOMEM;
        } else {
            ret = strbuf_append(&yaml, s, (size_t)(eq - s));
            if (ret == 0)
                ret = strbuf_puts(&yaml, ": ");
            if (ret == 0)
                ret = yaml_quote(&yaml, eq + 1, strlen(eq + 1));
            if (ret == 0)
                ret = strbuf_puts(&yaml, "\n");
        }
        if (ret < 0) {
            snprintf(why, whylen, "out of memory");
            break;
        }
    }
    if (ret == 0 && yaml.len)
        ret = filter_cond(f, &yaml, why, whylen);
    strbuf_release(&yaml);
    return ret;
}

static bool marked_by(json_t *marks, const char *rule)
{
    for (size_t i = 0; i < json_array_size(marks); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(marks, i), "name"));
        if (strcmp(rule, "*") == 0 || (name && strcmp(name, rule) == 0))
            return true;
    }
    return false;
}

static bool filter_pass(const struct trace_filter *f, const struct dispatch_line *line)
{
    if (f->probe && strcmp(f->probe, line->pi->ops->name) != 0)
        return false;
    if (f->rule && !marked_by(json_object_get(line->fields, "rules"), f->rule))
        return false;
    struct rule_subject s = {.pid = line->pid, .uid = line->uid, .fields = line->fields};
    return rule_cond_match(f->cond, &s);
}

static void trace_start(struct ctl_server *srv, struct ctl_client *c, json_t *request)
{
    char why[1024];
    json_t *filters = json_object_get(request, "filters");
    if (filters && !json_is_array(filters)) {
        client_reply(srv, c, reply_error("trace: filters must be a list of KEY=VALUE strings"));
        return;
    }
    if (filter_compile(&c->filter, filters, why, sizeof(why)) < 0) {
        filter_release(&c->filter);
        client_reply(srv, c, reply_error("%s", why));
        return;
    }
    client_reply(srv, c, json_pack("{s:b,s:b}", "ok", 1, "trace", 1));
    if (c->fd >= 0) {
        c->tracing = true;
        srv->stats.trace_clients++;
    }
}

void ctl_server_publish(struct ctl_server *srv, const struct dispatch_line *line)
{
    for (size_t i = 0; srv->stats.trace_clients && i < CTL_CLIENTS_MAX; i++) {
        struct ctl_client *c = &srv->clients[i];
        if (c->fd >= 0 && c->tracing && filter_pass(&c->filter, line) &&
            client_queue(srv, c, line->text, line->len))
            srv->stats.trace_lines++;
    }
}

/* ---- requests ---- */

static void request_handle(struct ctl_server *srv, struct ctl_client *c, const char *text,
                           size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    json_t *reply = NULL;
    if (cmd && strcmp(cmd, "trace") == 0) {
        trace_start(srv, c, req);
        json_decref(req);
        return;
    }
    if (!req || !json_is_object(req))
        reply = reply_error("not a JSON object: %s", jerr.text);
    else if (!cmd)
        reply = reply_error("no \"cmd\"");
    else
        reply = srv->request(srv->ctx, cmd, req);
    client_reply(srv, c, reply); /* NULL: out of memory, said so */
    json_decref(req);
}

/* Reads what the client sent; handles each complete line. */
static void client_read(struct ctl_server *srv, struct ctl_client *c)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            /* The client is done sending: what a request is owed still
             * goes; a trace ends. */
            c->closing = true;
            if (c->tracing || c->out.len == 0)
                client_close(srv, c);
            return;
        }
        if (c->tracing)
            continue; /* a tracing client has nothing more to ask */
        if (c->in.len + (size_t)n > CTL_REQUEST_MAX || strbuf_append(&c->in, buf, (size_t)n) < 0) {
            client_reply(srv, c, reply_error("request longer than %u bytes", CTL_REQUEST_MAX));
            c->closing = true;
            return;
        }
        char *nl;
        while (c->fd >= 0 && c->in.len && (nl = memchr(c->in.data, '\n', c->in.len))) {
            size_t line = (size_t)(nl - c->in.data);
            request_handle(srv, c, c->in.data, line);
            if (c->fd < 0)
                return;
            memmove(c->in.data, nl + 1, c->in.len - line - 1);
            c->in.len -= line + 1;
        }
    }
}

static bool peer_is_root(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

static void accept_all(struct ctl_server *srv)
{
    for (;;) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client that went away */
        srv->stats.clients++;
        static const char denied[] =
            "{\"ok\":false,\"error\":\"permission denied: only root may use the control "
            "socket\"}\n";
        static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
        struct ctl_client *c = NULL;
        for (size_t i = 0; i < CTL_CLIENTS_MAX && !c; i++)
            if (srv->clients[i].fd < 0)
                c = &srv->clients[i];
        bool root = peer_is_root(fd);
        if (!root || !c) {
            srv->stats.refused += !root;
            /* Best effort: the socket is new and empty, the line small;
             * the close says the rest. */
            if (send(fd, root ? busy : denied, root ? sizeof(busy) - 1 : sizeof(denied) - 1,
                     MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            }
            close(fd);
            continue;
        }
        c->fd = fd;
        if (epoll_watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, c) < 0)
            client_close(srv, c);
    }
}

void ctl_server_run(struct ctl_server *srv)
{
    struct epoll_event events[16];
    int n = epoll_wait(srv->epfd, events, 16, 0);
    for (int i = 0; i < n; i++) {
        struct ctl_client *c = events[i].data.ptr;
        if (!c) {
            accept_all(srv);
            continue;
        }
        if (c->fd < 0)
            continue;
        if ((events[i].events & EPOLLOUT) && !client_flush(srv, c))
            continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            client_read(srv, c);
    }
}
