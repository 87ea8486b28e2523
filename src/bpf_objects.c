#include "bpf_objects.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"

#ifndef PIDTREE_COMPILER
#define PIDTREE_COMPILER "pidtree-bcc-compile"
#endif

static char compiler_path[4096] = PIDTREE_COMPILER;

struct named_fd {
    char name[FDPASS_NAME_MAX];
    int fd;
};

struct bpf_objects {
    struct named_fd *progs;
    size_t n_progs;
    struct named_fd *maps;
    size_t n_maps;
};

void bpf_objects_set_compiler(const char *path)
{
    snprintf(compiler_path, sizeof(compiler_path), "%s", path);
}

/* The child becomes pidtree-bcc-compile: stderr into the memfd, the socket
 * and the text at the fd numbers named on its command line. */
static void child_exec(int sock, int memfd, int text_fd, const struct bpf_prog_spec *progs,
                       size_t n)
{
    char sock_arg[16], text_arg[16];
    char **argv = calloc(n + 4, sizeof(*argv));
    if (!argv || dup2(memfd, STDERR_FILENO) < 0)
        _exit(127);
    /* The socket and the text must survive exec: clear close-on-exec. */
    if (fcntl(sock, F_SETFD, 0) < 0 || fcntl(text_fd, F_SETFD, 0) < 0)
        _exit(127);
    snprintf(sock_arg, sizeof(sock_arg), "%d", sock);
    snprintf(text_arg, sizeof(text_arg), "%d", text_fd);
    argv[0] = "pidtree-bcc-compile";
    argv[1] = sock_arg;
    argv[2] = text_arg;
    for (size_t i = 0; i < n; i++) {
        /* t:FUNCTION, r:FUNCTION (raw tracepoint), k:FUNCTION, or
         * c:HOOK:FUNCTION for cgroup hooks, whose program type and expected
         * attach type the hook decides. */
        const char *hook = progs[i].kind == PROBE_CGROUP ? progs[i].target : "";
        size_t len = strlen(progs[i].function) + strlen(hook) + 4;
        if (!(argv[3 + i] = malloc(len)))
            _exit(127);
        char kind = progs[i].kind == PROBE_TRACEPOINT       ? 't'
                    : progs[i].kind == PROBE_RAW_TRACEPOINT ? 'r'
                    : progs[i].kind == PROBE_CGROUP         ? 'c'
                                                            : 'k';
        snprintf(argv[3 + i], len, "%c:%s%s%s", kind, hook, *hook ? ":" : "", progs[i].function);
    }
    execv(compiler_path, argv);
    fprintf(stderr, "cannot run the compiler %s: %s\n", compiler_path, strerror(errno));
    _exit(127);
}

static int text_memfd(const char *text)
{
    int fd = memfd_create("pidtree-bcc-module", MFD_CLOEXEC);
    size_t len = strlen(text), off = 0;
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return fd;
}

static int objects_add(struct named_fd **list, size_t *n, const char *name, int fd)
{
    struct named_fd *grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (!grown)
        return -ENOMEM;
    *list = grown;
    snprintf(grown[*n].name, FDPASS_NAME_MAX, "%s", name);
    grown[*n].fd = fd;
    (*n)++;
    return 0;
}

static int objects_receive(struct bpf_objects *objs, int sock)
{
    for (;;) {
        struct fdpass_msg msg;
        int fd, ret = fdpass_recv(sock, &msg, &fd);
        if (ret < 0)
            return ret;
        if (msg.kind == FDPASS_DONE)
            return msg.status;
        if (fd < 0)
            return -EPROTO;
        if (msg.kind == FDPASS_PROG)
            ret = objects_add(&objs->progs, &objs->n_progs, msg.name, fd);
        else
            ret = objects_add(&objs->maps, &objs->n_maps, msg.name, fd);
        if (ret < 0) {
            close(fd);
            return ret;
        }
    }
}

/* Copies what the child wrote to stderr into `err` after `prefix`, keeping
 * the end when it does not fit: the last lines say what failed. */
static void capture_child_output(int memfd, const char *prefix, char *err, size_t errlen)
{
    off_t size = lseek(memfd, 0, SEEK_END);
    size_t keep = errlen > 1 ? errlen - 1 : 0;
    int plen = snprintf(err, errlen, "%s", prefix);
    if (plen < 0 || (size_t)plen >= keep || size <= 0)
        return;
    size_t room = keep - (size_t)plen;
    off_t from = size > (off_t)room ? size - (off_t)room : 0;
    ssize_t n = pread(memfd, err + plen, (size_t)(size - from), from);
    err[plen + (n > 0 ? n : 0)] = '\0';
}

static int child_wait(pid_t child)
{
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* How the compiler ended, after what it wrote: a compiler killed (the OOM
 * killer, an operator) writes nothing, and the error must still say why. */
static void describe_child_status(int status, char *err, size_t errlen)
{
    char why[sizeof(compiler_path) + 128];
    if (status < 0)
        snprintf(why, sizeof(why), "the compiler process could not be waited for");
    else if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "the compiler %s was killed by signal %d (%s)", compiler_path,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        snprintf(why, sizeof(why), "the compiler %s exited with status %d", compiler_path,
                 WEXITSTATUS(status));
    else if (err[0])
        return;
    else
        snprintf(why, sizeof(why), "the compiler %s ended without sending the programs",
                 compiler_path);
    size_t len = strlen(err);
    while (len > 0 && err[len - 1] == '\n')
        err[--len] = '\0';
    snprintf(err + len, errlen - len, "%s%s", len ? "; " : "", why);
}

struct bpf_objects *bpf_objects_load(const char *text, const struct bpf_prog_spec *progs,
                                     size_t n_progs, char *err, size_t errlen)
{
    struct bpf_objects *objs = calloc(1, sizeof(*objs));
    int socks[2] = {-1, -1};
    int memfd = memfd_create("pidtree-bcc-compile", MFD_CLOEXEC);
    int text_fd = text_memfd(text);
    int ret = 0;
    pid_t child = -1;

    if (!objs || memfd < 0 || text_fd < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot set up the compiler process: %s", strerror(errno));
        goto cleanup;
    }
    fflush(NULL);
    child = fork();
    if (child < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot fork the compiler process: %s", strerror(errno));
        goto cleanup;
    }
    if (child == 0) {
        close(socks[0]);
        child_exec(socks[1], memfd, text_fd, progs, n_progs);
    }
    close(socks[1]);
    socks[1] = -1;
    ret = objects_receive(objs, socks[0]);
    int status = child_wait(child);
    child = -1;
    if (ret < 0) {
        capture_child_output(memfd, "", err, errlen);
        describe_child_status(status, err, errlen);
    }

cleanup:
    if (child > 0)
        child_wait(child);
    if (socks[0] >= 0)
        close(socks[0]);
    if (socks[1] >= 0)
        close(socks[1]);
    if (text_fd >= 0)
        close(text_fd);
    if (memfd >= 0)
        close(memfd);
    if (ret < 0) {
        bpf_objects_free(objs);
        errno = -ret;
        return NULL;
    }
    return objs;
}

static int named_fd_find(const struct named_fd *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return list[i].fd;
    return -ENOENT;
}

int bpf_objects_prog_fd(const struct bpf_objects *objs, const char *function)
{
    return named_fd_find(objs->progs, objs->n_progs, function);
}

int bpf_objects_map_fd(const struct bpf_objects *objs, const char *map)
{
    return named_fd_find(objs->maps, objs->n_maps, map);
}

void bpf_objects_free(struct bpf_objects *objs)
{
    if (!objs)
        return;
    for (size_t i = 0; i < objs->n_progs; i++)
        close(objs->progs[i].fd);
    for (size_t i = 0; i < objs->n_maps; i++)
        close(objs->maps[i].fd);
    free(objs->progs);
    free(objs->maps);
    free(objs);
}
