/* net_listen.h: the net_listen probe's event, shared by its template and its
 * decoder (probes/net_listen.c). */
#ifndef PIDTREE_NET_LISTEN_H
#define PIDTREE_NET_LISTEN_H

enum pt_listen_protocol {
    PT_LISTEN_UNKNOWN = 0, /* a bind on a socket made before the daemon */
    PT_LISTEN_TCP = 6,
    PT_LISTEN_UDP = 17,
};

struct pt_net_listen_event {
    struct pt_header h;
    __u16 family;
    __u16 port; /* host order; 0 for a UDP bind to a random port (resolved in userland) */
    __u16 protocol;
    __u16 pad;
    __s32 fd; /* the bound fd (UDP), for resolving in userland; -1 for TCP */
    __u32 pad2;
    struct pt_inet_addr laddr;
};

/* A listen() or bind() between its syscall entry and exit. */
struct pt_listen_pending {
    __u16 family;
    __u16 port;
    __u32 fd;
    __u32 seen_listen; /* inet_sock_set_state reported the LISTEN state */
    __u32 random;      /* bound to port 0, or never bound */
    struct pt_inet_addr addr;
    __u64 sk; /* the socket (tracepoint form), to read the port listen() chose */
};

#endif
