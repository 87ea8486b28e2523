#include "ctl_client.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_server.h"
#include "rules_host.h"
#include "strbuf.h"
#include "yaml_tree.h"

static int usage(const char *why)
{
    fprintf(stderr,
            "pidtree-bcc ctl: %s\n"
            "usage: pidtree-bcc ctl [--ctl-socket PATH] ls|add FILE...|rm NAME...|stats|"
            "trace [KEY=VALUE...]\n",
            why);
    return 2;
}

static int ctl_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "pidtree-bcc ctl: %s: path too long\n", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (e == EACCES || e == EPERM)
        fprintf(stderr,
                "pidtree-bcc ctl: %s: permission denied: only root may use the control "
                "socket\n",
                path);
    else if (e == ENOENT || e == ECONNREFUSED)
        fprintf(stderr,
                "pidtree-bcc ctl: %s: no daemon answers (is one running with --rules-dir or "
                "--ctl-socket?)\n",
                path);
    else
        fprintf(stderr, "pidtree-bcc ctl: %s: %s\n", path, strerror(e));
    return -1;
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one line into `line` (without its newline). 0, or -1 at EOF or on
 * an error. */
static int read_line(int fd, struct strbuf *buf, struct strbuf *line)
{
    for (;;) {
        char *nl = buf->len ? memchr(buf->data, '\n', buf->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - buf->data);
            strbuf_reset(line);
            if (strbuf_append(line, buf->data, n) < 0)
                return -1;
            memmove(buf->data, nl + 1, buf->len - n - 1);
            buf->len -= n + 1;
            return 0;
        }
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || strbuf_append(buf, chunk, (size_t)n) < 0)
            return -1;
    }
}

/* Sends `req`, reads the reply; prints the error and returns NULL when it
 * is not ok. */
static json_t *exchange(int fd, json_t *req, struct strbuf *buf)
{
    char *text = json_dumps(req, JSON_COMPACT);
    struct strbuf line = STRBUF_INIT;
    json_t *reply = NULL;
    /* A daemon that refuses the client says why and closes at once: the
     * send may fail, its line is still there to read. */
    int sent = text && send_all(fd, text, strlen(text)) == 0 && send_all(fd, "\n", 1) == 0 ? 0 : -1;
    int send_errno = errno;
    if (read_line(fd, buf, &line) < 0 && sent < 0)
        fprintf(stderr, "pidtree-bcc ctl: cannot send the request: %s\n", strerror(send_errno));
    else if (!line.len)
        fprintf(stderr, "pidtree-bcc ctl: the daemon closed the connection without a reply\n");
    else if (!(reply = json_loadb(line.data, line.len, 0, NULL)))
        fprintf(stderr, "pidtree-bcc ctl: the daemon's reply is not JSON\n");
    free(text);
    strbuf_release(&line);
    if (reply && !json_is_true(json_object_get(reply, "ok"))) {
        const char *e = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "pidtree-bcc ctl: %s\n", e ? e : "the daemon refused");
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static void print_each(json_t *list)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        char *text = json_dumps(item, JSON_COMPACT);
        if (text)
            puts(text);
        free(text);
    }
}

/* The files' text goes to the daemon, which may not see this file system
 * as the client does; paths are absolute, for messages and includes. */
static json_t *add_request(char **files, int n)
{
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++) {
        struct strbuf text = STRBUF_INIT;
        char abs[PATH_MAX];
        int ret = strbuf_read_file(&text, files[i]);
        if (ret == 0 && text.len > YAML_FILE_MAX)
            ret = -EFBIG;
        if (ret < 0 || !realpath(files[i], abs)) {
            fprintf(stderr, "pidtree-bcc ctl: %s: %s\n", files[i],
                    strerror(ret < 0 ? -ret : errno));
            strbuf_release(&text);
            json_decref(list);
            return NULL;
        }
        json_t *f =
            json_pack("{s:s,s:s%}", "path", abs, "text", text.data ? text.data : "", text.len);
        strbuf_release(&text);
        if (!f || json_array_append_new(list, f)) {
            fprintf(stderr, "pidtree-bcc ctl: %s: not valid UTF-8, or out of memory\n", files[i]);
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:s,s:o}", "cmd", "add", "files", list) : NULL;
}

static json_t *strings_request(const char *cmd, const char *key, char **items, int n)
{
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_string(items[i]))) {
            json_decref(list);
            list = NULL;
        }
    return list ? json_pack("{s:s,s:o}", "cmd", cmd, key, list) : NULL;
}

static int run_trace(int fd, json_t *req)
{
    struct strbuf buf = STRBUF_INIT, line = STRBUF_INIT;
    json_t *reply = exchange(fd, req, &buf);
    int status = reply ? 0 : 1;
    json_decref(reply);
    while (status == 0 && read_line(fd, &buf, &line) == 0) {
        if (fwrite(line.data ? line.data : "", 1, line.len, stdout) != line.len ||
            putchar('\n') == EOF || fflush(stdout) == EOF)
            break; /* the reader went away */
    }
    strbuf_release(&buf);
    strbuf_release(&line);
    return status;
}

static int run(int fd, const char *cmd, char **args, int n)
{
    json_t *req = NULL;
    if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "stats") == 0)
        req = n ? NULL : json_pack("{s:s}", "cmd", cmd);
    else if (strcmp(cmd, "add") == 0)
        req = n ? add_request(args, n) : NULL;
    else if (strcmp(cmd, "rm") == 0)
        req = n ? strings_request("rm", "names", args, n) : NULL;
    else if (strcmp(cmd, "trace") == 0)
        req = strings_request("trace", "filters", args, n);
    if (!req)
        return strcmp(cmd, "add") == 0 && n ? 1 : usage("wrong arguments");
    if (strcmp(cmd, "trace") == 0) {
        int status = run_trace(fd, req);
        json_decref(req);
        return status;
    }
    struct strbuf buf = STRBUF_INIT;
    json_t *reply = exchange(fd, req, &buf);
    json_decref(req);
    strbuf_release(&buf);
    if (!reply)
        return 1;
    if (strcmp(cmd, "ls") == 0)
        print_each(json_object_get(reply, "rules"));
    else if (strcmp(cmd, "stats") == 0) {
        print_each(json_object_get(reply, "probes"));
        json_t *tail = json_pack("{s:O?,s:O?}", "rules", json_object_get(reply, "rules"), "ctl",
                                 json_object_get(reply, "ctl"));
        char *text = tail ? json_dumps(tail, JSON_COMPACT) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(tail);
    } else {
        json_t *names = json_object_get(reply, strcmp(cmd, "add") == 0 ? "added" : "removed");
        printf("%s:", strcmp(cmd, "add") == 0 ? "added" : "removed");
        for (size_t i = 0; i < json_array_size(names); i++)
            printf(" %s", json_string_value(json_array_get(names, i)));
        putchar('\n');
    }
    json_decref(reply);
    return 0;
}

int ctl_client_main(int argc, char **argv)
{
    const char *path = CTL_SOCKET_DEFAULT;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--ctl-socket") == 0) {
        if (i + 1 >= argc)
            return usage("--ctl-socket needs a path");
        path = argv[i + 1];
        i += 2;
    } else if (i < argc && strncmp(argv[i], "--ctl-socket=", 13) == 0) {
        path = argv[i++] + 13;
    }
    if (i >= argc)
        return usage("no command");
    static const char *const cmds[] = {"ls", "add", "rm", "stats", "trace"};
    bool known = false;
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
        known |= strcmp(argv[i], cmds[k]) == 0;
    if (!known)
        return usage("unknown command");
    int fd = ctl_connect(path);
    if (fd < 0)
        return 1;
    int status = run(fd, argv[i], argv + i + 1, argc - i - 1);
    close(fd);
    return status;
}
