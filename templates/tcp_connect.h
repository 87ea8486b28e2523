/* tcp_connect.h: the tcp_connect probe's event, shared by its template and
 * its decoder (probes/tcp_connect.c). */
#ifndef PIDTREE_TCP_CONNECT_H
#define PIDTREE_TCP_CONNECT_H

struct pt_tcp_connect_event {
    struct pt_header h;
    __u16 family; /* AF_INET or AF_INET6 */
    __u16 dport;  /* host byte order */
    __u16 sport;
    __u16 pad;
    struct pt_inet_addr saddr;
    struct pt_inet_addr daddr;
};

#endif
