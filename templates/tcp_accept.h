/* tcp_accept.h: the tcp_accept probe's event, shared by its template and
 * its decoder (probes/tcp_accept.c). */
#ifndef PIDTREE_TCP_ACCEPT_H
#define PIDTREE_TCP_ACCEPT_H

struct pt_tcp_accept_event {
    struct pt_header h;
    __u16 family; /* AF_INET or AF_INET6 */
    __u16 lport;  /* host byte order */
    __u16 rport;
    __u16 pad;
    struct pt_inet_addr laddr;
    struct pt_inet_addr raddr;
};

#endif
