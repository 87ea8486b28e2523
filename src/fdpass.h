/* fdpass: file descriptors with a name, over a SOCK_SEQPACKET socket.
 *
 * The compiler process (pidtree-bcc-compile) sends each loaded program and
 * map to the daemon this way, then a DONE message with its status. */
#ifndef PIDTREE_FDPASS_H
#define PIDTREE_FDPASS_H

#include <stdint.h>

#define FDPASS_NAME_MAX 128

enum fdpass_kind {
    FDPASS_PROG = 1,
    FDPASS_MAP = 2,
    FDPASS_DONE = 3,
};

struct fdpass_msg {
    uint32_t kind;
    int32_t status; /* FDPASS_DONE: 0 or a negative errno */
    char name[FDPASS_NAME_MAX];
};

/* Sends one message, with `fd` attached when it is >= 0. Returns 0 or a
 * negative errno. */
int fdpass_send(int sock, uint32_t kind, const char *name, int fd, int status);

/* Receives one message; *fd is the attached descriptor (close-on-exec) or
 * -1. Returns 0, -EPIPE when the sender went away, or a negative errno. */
int fdpass_recv(int sock, struct fdpass_msg *msg, int *fd);

#endif
