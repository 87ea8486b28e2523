/* sockets.h: what the socket tracker (sockets.bpf.c) remembers of each
 * socket a process creates, keyed by process and fd. */
#ifndef PIDTREE_SOCKETS_H
#define PIDTREE_SOCKETS_H

#define PT_MAX_SOCKETS 65536

enum pt_sock_flags {
    PT_SOCK_BOUND = 1,       /* bind() succeeded */
    PT_SOCK_RANDOM_BIND = 2, /* ... to port 0: the kernel chose the port */
};

struct pt_sock_key {
    __u32 tgid;
    __u32 fd;
};

struct pt_sock_info {
    __u16 family;
    __u16 type; /* SOCK_STREAM, SOCK_DGRAM, ... */
    __u32 flags;
    __u64 sk; /* the kernel socket, once a send revealed it (udp_session) */
};

#endif
