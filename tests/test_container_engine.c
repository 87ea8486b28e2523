/* container_engine: the Docker Engine API's JSON as Docker and podman write
 * it, and the client against a fake engine on a unix socket in /tmp (no
 * root): absent at first, then answering, a container started and one
 * stopped, a restart during which a container went away, and an engine
 * that answers nonsense. Every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "container_engine.h"
#include "strbuf.h"
#include "timeutil.h"

#define ID_A "e14279f53b7be40d48be7c9e763e597434fe573aa7b26d4ffb414dd2f825857e"
#define ID_B "3f1bd3a2c7c0d8b6c1f9b33ee2b8e4a1b0c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1"
#define ID_C "0000000000000000000000000000000000000000000000000000000000000c0c"

/* ---- the pure parts ---- */

static void test_socket_path(void **state)
{
    char buf[108];
    assert_int_equal(container_engine_socket_path(NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/var/run/docker.sock");
    assert_int_equal(container_engine_socket_path("", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/var/run/docker.sock");
    assert_int_equal(
        container_engine_socket_path("unix:///run/podman/podman.sock", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/run/podman/podman.sock");
    assert_int_equal(container_engine_socket_path("tcp://127.0.0.1:2375", buf, sizeof(buf)),
                     -EPROTONOSUPPORT);
    assert_int_equal(container_engine_socket_path("unix://relative", buf, sizeof(buf)),
                     -EPROTONOSUPPORT);
    char longer[300] = "unix:///";
    memset(longer + 8, 'a', 200);
    assert_int_equal(container_engine_socket_path(longer, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_parse_list(void **state)
{
    /* podman 4.3's answer, cut to what matters, and an id that is not one. */
    const char *body =
        "[{\"Id\":\"" ID_A "\",\"Names\":[\"/c11ev2\"],\"Labels\":{\"app\":\"web\"},"
        "\"State\":\"running\"},{\"Id\":\"short\"},{\"Names\":[]},{\"Id\":\"" ID_B "\"}]";
    json_t *ids = container_engine_parse_list(body, strlen(body));
    assert_non_null(ids);
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), ID_A);
    assert_string_equal(json_string_value(json_array_get(ids, 1)), ID_B);
    json_decref(ids);
    ids = container_engine_parse_list("[]", 2);
    assert_int_equal(json_array_size(ids), 0);
    json_decref(ids);
    assert_null(container_engine_parse_list("{\"message\":\"page not found\"}", 29));
    assert_null(container_engine_parse_list("[{", 2));
    assert_null(container_engine_parse_list(NULL, 0));
}

static void test_parse_inspect(void **state)
{
    struct container_info c;
    char name[CONTAINER_NAME_MAX + 1];
    const char *body = "{\"Id\":\"" ID_A "\",\"Name\":\"/web-1\",\"State\":{\"Status\":\"running\","
                       "\"Running\":true,\"Pid\":2964},\"Config\":{\"Labels\":{\"app\":\"web\","
                       "\"tier\":\"front\",\"odd\":7}}}";
    assert_int_equal(container_engine_parse_inspect(body, strlen(body), &c, name, sizeof(name)), 1);
    assert_string_equal(c.id, ID_A);
    assert_string_equal(name, "web-1");
    assert_int_equal(c.pid, 2964);
    assert_int_equal(json_object_size(c.labels), 2); /* not the number */
    assert_string_equal(json_string_value(json_object_get(c.labels, "tier")), "front");
    json_decref(c.labels);

    /* Stopped; labels null; no name. */
    body = "{\"Id\":\"" ID_B
           "\",\"State\":{\"Running\":false,\"Pid\":0},\"Config\":{\"Labels\":null}}";
    assert_int_equal(container_engine_parse_inspect(body, strlen(body), &c, name, sizeof(name)), 0);
    assert_int_equal(json_object_size(c.labels), 0);
    assert_string_equal(name, "");
    json_decref(c.labels);

    /* podman's 404 body, a bad id, a pid that is not a number. */
    body = "{\"cause\":\"no such container\",\"response\":404}";
    assert_int_equal(container_engine_parse_inspect(body, strlen(body), &c, name, sizeof(name)),
                     -EINVAL);
    body = "{\"Id\":\"../../etc\",\"State\":{\"Running\":true}}";
    assert_int_equal(container_engine_parse_inspect(body, strlen(body), &c, name, sizeof(name)),
                     -EINVAL);
    body = "{\"Id\":\"" ID_A "\",\"State\":{\"Running\":true,\"Pid\":\"1\"}}";
    assert_int_equal(container_engine_parse_inspect(body, strlen(body), &c, name, sizeof(name)),
                     -EINVAL);
    /* A name longer than kept is left out. */
    struct strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "{\"Id\":\"%s\",\"Name\":\"/", ID_A);
    for (int i = 0; i < 300; i++)
        strbuf_puts(&sb, "n");
    strbuf_puts(&sb, "\",\"State\":{\"Running\":true,\"Pid\":5}}");
    assert_int_equal(container_engine_parse_inspect(sb.data, sb.len, &c, name, sizeof(name)), 1);
    assert_string_equal(name, "");
    json_decref(c.labels);
    strbuf_release(&sb);
}

static void test_parse_event(void **state)
{
    enum container_event_action a;
    char id[CONTAINER_ID_MAX + 1];
    /* podman 4.3, as seen on /events. */
    const char *line =
        "{\"status\":\"start\",\"id\":\"" ID_A
        "\",\"from\":\"localhost/pidtree-c11-busybox:latest\","
        "\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"" ID_A
        "\",\"Attributes\":{\"app\":\"web\",\"name\":\"c11ev\"}},\"scope\":\"local\","
        "\"time\":1796140423,\"timeNano\":1796140423386843890}";
    assert_int_equal(container_engine_parse_event(line, strlen(line), &a, id), 0);
    assert_int_equal(a, CONTAINER_EVENT_START);
    assert_string_equal(id, ID_A);
    line = "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"" ID_B "\"}}";
    assert_int_equal(container_engine_parse_event(line, strlen(line), &a, id), 0);
    assert_int_equal(a, CONTAINER_EVENT_STOP);
    assert_string_equal(id, ID_B);
    /* Before API 1.22: status and id only. */
    line = "{\"status\":\"destroy\",\"id\":\"" ID_B "\"}";
    assert_int_equal(container_engine_parse_event(line, strlen(line), &a, id), 0);
    assert_int_equal(a, CONTAINER_EVENT_STOP);
    line = "{\"Type\":\"container\",\"Action\":\"exec_start: sh\",\"Actor\":{\"ID\":\"" ID_B "\"}}";
    assert_int_equal(container_engine_parse_event(line, strlen(line), &a, id), 0);
    assert_int_equal(a, CONTAINER_EVENT_OTHER);
    line = "{\"Type\":\"image\",\"Action\":\"pull\",\"Actor\":{\"ID\":\"" ID_B "\"}}";
    assert_int_equal(container_engine_parse_event(line, strlen(line), &a, id), -EINVAL);
    assert_int_equal(container_engine_parse_event("not json", 8, &a, id), -EINVAL);
    assert_int_equal(container_engine_parse_event("{\"Action\":\"start\"}", 18, &a, id), -EINVAL);
}

/* ---- a fake engine ---- */

struct fake_container {
    const char *id, *name, *labels; /* labels: a JSON object's text */
    uint32_t pid;
    bool running;
};

#define FAKE_CONTAINERS 4
#define FAKE_CLIENTS 8

struct fake {
    char path[108];
    int lfd;
    int events_fd; /* the client's event stream */
    bool garbage;  /* answer the list with nonsense */
    struct {
        int fd;
        char buf[4096];
        size_t len;
    } clients[FAKE_CLIENTS];
    struct fake_container containers[FAKE_CONTAINERS];
    unsigned lists; /* list requests answered */
};

static void fake_listen(struct fake *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    unlink(f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    f->events_fd = -1;
    for (int i = 0; i < FAKE_CLIENTS; i++)
        f->clients[i].fd = -1;
}

/* The engine stops: every connection closed, the socket gone. */
static void fake_stop(struct fake *f)
{
    for (int i = 0; i < FAKE_CLIENTS; i++)
        if (f->clients[i].fd >= 0) {
            close(f->clients[i].fd);
            f->clients[i].fd = -1;
        }
    if (f->events_fd >= 0)
        close(f->events_fd);
    f->events_fd = -1;
    if (f->lfd >= 0)
        close(f->lfd);
    f->lfd = -1;
    unlink(f->path);
}

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status,
                     strlen(body));
    write_all(fd, head, (size_t)n);
    write_all(fd, body, strlen(body));
    close(fd);
}

static void fake_answer(struct fake *f, int fd, const char *request)
{
    struct strbuf sb = STRBUF_INIT;
    if (strncmp(request, "GET /events?", 12) == 0) {
        const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        write_all(fd, head, strlen(head));
        f->events_fd = fd;
        return;
    }
    if (strncmp(request, "GET /containers/json ", 21) == 0) {
        f->lists++;
        strbuf_puts(&sb, f->garbage ? "{\"oops\":1}" : "[");
        for (int i = 0; i < FAKE_CONTAINERS && !f->garbage; i++)
            if (f->containers[i].id && f->containers[i].running)
                strbuf_printf(&sb, "%s{\"Id\":\"%s\"}", sb.len > 1 ? "," : "", f->containers[i].id);
        strbuf_puts(&sb, f->garbage ? "" : "]");
        reply(fd, 200, sb.data);
        strbuf_release(&sb);
        return;
    }
    for (int i = 0; i < FAKE_CONTAINERS; i++) {
        const struct fake_container *c = &f->containers[i];
        if (!c->id || strncmp(request + 16, c->id, 64) != 0)
            continue;
        strbuf_printf(&sb,
                      "{\"Id\":\"%s\",\"Name\":\"/%s\",\"State\":{\"Running\":%s,\"Pid\":%u},"
                      "\"Config\":{\"Labels\":%s}}",
                      c->id, c->name, c->running ? "true" : "false", c->pid, c->labels);
        reply(fd, 200, sb.data);
        strbuf_release(&sb);
        return;
    }
    reply(fd, 404, "{\"message\":\"no such container\"}");
}

/* Accepts, reads requests, answers the complete ones. */
static void fake_pump(struct fake *f)
{
    int fd;
    while (f->lfd >= 0 && (fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        for (int i = 0; i < FAKE_CLIENTS; i++)
            if (f->clients[i].fd < 0) {
                f->clients[i].fd = fd;
                f->clients[i].len = 0;
                fd = -1;
                break;
            }
        assert_int_equal(fd, -1);
    }
    for (int i = 0; i < FAKE_CLIENTS; i++) {
        if (f->clients[i].fd < 0)
            continue;
        ssize_t n = read(f->clients[i].fd, f->clients[i].buf + f->clients[i].len,
                         sizeof(f->clients[i].buf) - 1 - f->clients[i].len);
        if (n <= 0)
            continue;
        f->clients[i].len += (size_t)n;
        f->clients[i].buf[f->clients[i].len] = '\0';
        if (!strstr(f->clients[i].buf, "\r\n\r\n"))
            continue;
        fd = f->clients[i].fd;
        f->clients[i].fd = -1;
        fake_answer(f, fd, f->clients[i].buf);
    }
}

static void fake_event(struct fake *f, const char *action, const char *id)
{
    char line[512], chunk[600];
    int n = snprintf(line, sizeof(line),
                     "{\"Type\":\"container\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\"}}\n",
                     action, id);
    int m = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n", n, line);
    assert_true(f->events_fd >= 0);
    write_all(f->events_fd, chunk, (size_t)m);
}

/* ---- what the client told its listener ---- */

struct seen {
    struct fake *f;
    int answering; /* -1 before any call */
    int answers, losses;
    char present[8][CONTAINER_ID_MAX + 1];
    size_t n_present;
    char gone[8][CONTAINER_ID_MAX + 1];
    size_t n_gone;
};

static void on_changed(void *ctx, const struct container_info *c, bool present)
{
    struct seen *s = ctx;
    if (present && s->n_present < 8)
        snprintf(s->present[s->n_present++], CONTAINER_ID_MAX + 1, "%s", c->id);
    if (!present && s->n_gone < 8)
        snprintf(s->gone[s->n_gone++], CONTAINER_ID_MAX + 1, "%s", c->id);
}

static void on_answering(void *ctx, bool answering)
{
    struct seen *s = ctx;
    s->answering = answering;
    if (answering)
        s->answers++;
    else
        s->losses++;
}

static bool listed(char (*ids)[CONTAINER_ID_MAX + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

typedef bool (*cond_fn)(struct container_engine *e, struct seen *s);

/* Runs the fake engine and the client until `cond`, for at most 5 s. */
static bool run_until(struct fake *f, struct container_engine *e, struct seen *s, cond_fn cond)
{
    uint64_t deadline = time_monotonic_ns() + 5000000000ull;
    while (time_monotonic_ns() < deadline) {
        fake_pump(f);
        struct pollfd pfd = {.fd = container_engine_fd(e), .events = POLLIN};
        if (poll(&pfd, 1, 10) > 0)
            container_engine_dispatch(e);
        if (cond(e, s))
            return true;
    }
    return false;
}

static bool is_answering(struct container_engine *e, struct seen *s)
{
    return container_engine_answering(e) && s->answering == 1;
}

static bool has_c(struct container_engine *e, struct seen *s)
{
    return container_engine_find(e, ID_C) != NULL;
}

static bool lost_a(struct container_engine *e, struct seen *s)
{
    return container_engine_find(e, ID_A) == NULL;
}

static bool is_down(struct container_engine *e, struct seen *s)
{
    return s->answering == 0;
}

static bool answered_twice(struct container_engine *e, struct seen *s)
{
    return s->answers == 2 && is_answering(e, s);
}

static bool answered_thrice(struct container_engine *e, struct seen *s)
{
    return s->answers == 3 && is_answering(e, s);
}

static unsigned lists_before;

/* Two nonsense lists: the client left after the first and came back. */
static bool retried_after_nonsense(struct container_engine *e, struct seen *s)
{
    return s->f->lists >= lists_before + 2;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
}

static void test_client(void **state)
{
    char dir[] = "/tmp/pt-engine-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    /* A fake /proc with container A's main process (pid 4242) in a cgroup
     * below A's, and a fake cgroup v2 mount holding A's cgroup. */
    snprintf(path, sizeof(path), "%s/proc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/proc/4242", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/proc/4242/cgroup", dir);
    write_text(path, "1:cpu:/x\n0::/libpod_parent/libpod-" ID_A "/inner\n");
    const char *const dirs[] = {"cg", "cg/libpod_parent", "cg/libpod_parent/libpod-" ID_A,
                                "cg/libpod_parent/libpod-" ID_A "/inner"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
        assert_int_equal(mkdir(path, 0755), 0);
    }
    snprintf(path, sizeof(path), "%s/cg/libpod_parent/libpod-" ID_A, dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    struct fake f = {.lfd = -1, .events_fd = -1};
    snprintf(f.path, sizeof(f.path), "%s/engine.sock", dir);
    for (int i = 0; i < FAKE_CLIENTS; i++)
        f.clients[i].fd = -1;
    f.containers[0] = (struct fake_container){ID_A, "web-a", "{\"app\":\"web\"}", 4242, true};
    f.containers[1] = (struct fake_container){ID_B, "db", "{}", 4243, true};
    f.containers[2] = (struct fake_container){ID_C, "late", "{\"app\":\"web\"}", 0, false};

    /* No engine yet: the client says so and knows nothing. */
    char proc[512], cg[512];
    snprintf(proc, sizeof(proc), "%s/proc", dir);
    snprintf(cg, sizeof(cg), "%s/cg", dir);
    struct container_engine *e = container_engine_new(f.path, proc, cg);
    assert_non_null(e);
    struct seen s = {.f = &f, .answering = -1};
    struct container_engine_listener l = {on_changed, on_answering, &s};
    container_engine_set_listener(e, &l);
    assert_false(container_engine_answering(e));
    assert_null(container_engine_find(e, ID_A));

    /* It comes: listed and inspected within the backoff's first steps. */
    fake_listen(&f);
    assert_true(run_until(&f, e, &s, is_answering));
    assert_int_equal(s.n_present, 2);
    const struct container_info *a = container_engine_find(e, ID_A);
    assert_non_null(a);
    assert_string_equal(a->name, "web-a");
    assert_string_equal(json_string_value(json_object_get(a->labels, "app")), "web");
    assert_int_equal(a->pid, 4242);
    /* The cgroup that names the container, not the one inside it. */
    assert_int_equal(a->cgroup_id, (uint64_t)st.st_ino);
    /* B's process is not in the fake /proc: its cgroup is unknown. */
    assert_int_equal(container_engine_find(e, ID_B)->cgroup_id, 0);

    /* A container started now; one that stops. */
    f.containers[2].running = true;
    f.containers[2].pid = 4244;
    fake_event(&f, "create", ID_C);
    fake_event(&f, "start", ID_C);
    assert_true(run_until(&f, e, &s, has_c));
    assert_string_equal(container_engine_find(e, ID_C)->name, "late");
    fake_event(&f, "die", ID_A);
    assert_true(run_until(&f, e, &s, lost_a));
    assert_true(listed(s.gone, s.n_gone, ID_A));
    f.containers[0].running = false;

    /* The engine restarts; B stopped while it was away. */
    fake_stop(&f);
    assert_true(run_until(&f, e, &s, is_down));
    assert_non_null(container_engine_find(e, ID_B)); /* kept while the engine is away */
    f.containers[1].running = false;
    fake_listen(&f);
    assert_true(run_until(&f, e, &s, answered_twice));
    assert_null(container_engine_find(e, ID_B));
    assert_true(listed(s.gone, s.n_gone, ID_B));
    assert_non_null(container_engine_find(e, ID_C));

    /* An engine that answers nonsense is left, and retried. */
    f.garbage = true;
    lists_before = f.lists;
    fake_stop(&f);
    fake_listen(&f);
    assert_true(run_until(&f, e, &s, retried_after_nonsense));
    assert_int_equal(s.answering, 0);
    assert_int_equal(s.answers, 2);
    f.garbage = false;
    assert_true(run_until(&f, e, &s, answered_thrice));

    container_engine_free(e);
    fake_stop(&f);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_path),   cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_inspect), cmocka_unit_test(test_parse_event),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
