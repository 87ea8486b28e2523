#include "bpf_objects.h"

#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define OBJ_NAME_MAX 128
#define VERIFIER_LOG_SIZE (1u << 20)

enum obj_msg_kind {
    OBJ_MSG_PROG = 1,
    OBJ_MSG_MAP = 2,
    OBJ_MSG_DONE = 3,
};

struct obj_msg {
    uint32_t kind;
    int32_t status; /* OBJ_MSG_DONE: 0 or a negative errno */
    char name[OBJ_NAME_MAX];
};

struct named_fd {
    char name[OBJ_NAME_MAX];
    int fd;
};

struct bpf_objects {
    struct named_fd *progs;
    size_t n_progs;
    struct named_fd *maps;
    size_t n_maps;
};

/* ---- child side ---- */

static int send_fd(int sock, uint32_t kind, const char *name, int fd, int status)
{
    struct obj_msg msg = {.kind = kind, .status = status};
    snprintf(msg.name, sizeof(msg.name), "%s", name ? name : "");
    struct iovec iov = {.iov_base = &msg, .iov_len = sizeof(msg)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctrl, 0, sizeof(ctrl));
        mh.msg_control = ctrl.buf;
        mh.msg_controllen = sizeof(ctrl.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int child_load_prog(void *mod, const struct bpf_prog_spec *spec, char *log)
{
    void *insns = bpf_function_start(mod, spec->function);
    if (!insns) {
        fprintf(stderr, "program %s not found in the compiled module\n", spec->function);
        return -ENOENT;
    }
    int type = spec->kind == PROBE_TRACEPOINT ? BPF_PROG_TYPE_TRACEPOINT : BPF_PROG_TYPE_KPROBE;
    log[0] = '\0';
    int fd = bcc_func_load(mod, type, spec->function, insns,
                           (int)bpf_function_size(mod, spec->function), bpf_module_license(mod),
                           bpf_module_kern_version(mod), 0, log, VERIFIER_LOG_SIZE, NULL, 0);
    if (fd < 0) {
        int err = errno ? errno : EINVAL;
        size_t len = strlen(log);
        /* The verifier's verdict is at the end of its log. */
        const char *tail = len > 3000 ? log + len - 3000 : log;
        fprintf(stderr, "program %s rejected by the kernel: %s\n%s\n", spec->function,
                strerror(err), tail);
        return -err;
    }
    return fd;
}

static int child_run(int sock, const char *text, const struct bpf_prog_spec *progs, size_t n)
{
    void *mod = bpf_module_create_c_from_string(text, 0, NULL, 0, true, NULL);
    if (!mod) {
        fprintf(stderr, "the eBPF module did not compile\n");
        return -EINVAL;
    }
    char *log = malloc(VERIFIER_LOG_SIZE);
    if (!log)
        return -ENOMEM;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        int fd = child_load_prog(mod, &progs[i], log);
        ret = fd < 0 ? fd : send_fd(sock, OBJ_MSG_PROG, progs[i].function, fd, 0);
    }
    free(log);
    for (size_t i = 0; i < bpf_num_tables(mod) && ret == 0; i++)
        ret = send_fd(sock, OBJ_MSG_MAP, bpf_table_name(mod, i), bpf_table_fd_id(mod, i), 0);
    /* No bpf_module_destroy: the process exits, and the kernel objects live
     * on through the fds the daemon now holds. */
    return ret;
}

/* ---- daemon side ---- */

static int recv_msg(int sock, struct obj_msg *msg, int *fd)
{
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl)};
    *fd = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n != (ssize_t)sizeof(*msg))
        return -EPIPE; /* the child died before saying it was done */
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(cm), sizeof(int));
    msg->name[OBJ_NAME_MAX - 1] = '\0';
    return 0;
}

static int objects_add(struct named_fd **list, size_t *n, const char *name, int fd)
{
    struct named_fd *grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (!grown)
        return -ENOMEM;
    *list = grown;
    snprintf(grown[*n].name, OBJ_NAME_MAX, "%s", name);
    grown[*n].fd = fd;
    (*n)++;
    return 0;
}

static int objects_receive(struct bpf_objects *objs, int sock)
{
    for (;;) {
        struct obj_msg msg;
        int fd, ret = recv_msg(sock, &msg, &fd);
        if (ret < 0)
            return ret;
        if (msg.kind == OBJ_MSG_DONE)
            return msg.status;
        if (fd < 0)
            return -EPROTO;
        if (msg.kind == OBJ_MSG_PROG)
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

static void child_main(int sock, int memfd, const char *text, const struct bpf_prog_spec *progs,
                       size_t n)
{
    if (dup2(memfd, STDERR_FILENO) < 0)
        _exit(127);
    int ret = child_run(sock, text, progs, n);
    send_fd(sock, OBJ_MSG_DONE, NULL, -1, ret);
    fflush(stderr);
    _exit(ret == 0 ? 0 : 1);
}

struct bpf_objects *bpf_objects_load(const char *text, const struct bpf_prog_spec *progs,
                                     size_t n_progs, char *err, size_t errlen)
{
    struct bpf_objects *objs = calloc(1, sizeof(*objs));
    int socks[2] = {-1, -1};
    int memfd = memfd_create("pidtree-bcc-compile", MFD_CLOEXEC);
    int ret = 0;
    pid_t child = -1;

    if (!objs || memfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) < 0) {
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
        child_main(socks[1], memfd, text, progs, n_progs);
    }
    close(socks[1]);
    socks[1] = -1;
    ret = objects_receive(objs, socks[0]);
    if (ret < 0)
        capture_child_output(memfd, "", err, errlen);

cleanup:
    if (child > 0)
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    if (socks[0] >= 0)
        close(socks[0]);
    if (socks[1] >= 0)
        close(socks[1]);
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
