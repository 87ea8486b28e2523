/* net_listen.h: the net_listen probe's event, shared by its template and its
 * decoder (probes/net_listen.c). */
#ifndef PIDTREE_NET_LISTEN_H
#define PIDTREE_NET_LISTEN_H

enum pt_listen_protocol {
    PT_LISTEN_TCP = 6,
    PT_LISTEN_UDP = 17,
};

struct pt_net_listen_event {
    struct pt_header h;
    __u16 family;
    __u16 port; /* host order */
    __u16 protocol;
    __u16 pad;
    struct pt_inet_addr laddr;
};

/* A listen() or bind() between its syscall entry and exit. */
struct pt_listen_pending {
    __u16 family;
    __u16 port;
    __u32 random; /* bound to port 0, or never bound */
    struct pt_inet_addr addr;
};

#endif
