#include "fdpass.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int fdpass_send(int sock, uint32_t kind, const char *name, int fd, int status)
{
    struct fdpass_msg msg = {.kind = kind, .status = status};
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

int fdpass_recv(int sock, struct fdpass_msg *msg, int *fd)
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
    msg->name[FDPASS_NAME_MAX - 1] = '\0';
    return 0;
}
