/* udp_session.h: the udp_session probe's kernel state and records, shared by
 * its template and its decoder (probes/udp_session.c). */
#ifndef PIDTREE_UDP_SESSION_H
#define PIDTREE_UDP_SESSION_H

#define UDP_SESSION_MAX_DESTS 16384

enum pt_udp_record {
    PT_UDP_DEST_START = 1, /* the first datagram of a socket to a destination */
    PT_UDP_CLOSE = 2,      /* the socket was closed */
};

/* Counted in the kernel for each (socket, destination). */
struct pt_udp_dest_key {
    __u64 sk; /* the socket: its cookie, or its kernel address (kprobe form, and
               * sockets connected before the daemon) */
    __u8 daddr[16];
    __u16 dport;
    __u16 family;
    __u32 pad;
};

struct pt_udp_dest_value {
    __u64 msg_count;
    __u64 first_ns;
    __u64 last_ns;
};

struct pt_udp_session_event {
    struct pt_header h;
    __u32 record; /* enum pt_udp_record */
    __u32 pad;
    struct pt_udp_dest_key key; /* sk only, for PT_UDP_CLOSE */
};

/* What the kernel side knows of a UDP socket, by its kernel address: the
 * id its sessions are counted under, and whether one is live (its release
 * then ends it). */
struct pt_udp_sock {
    __u64 id;  /* as pt_udp_dest_key.sk */
    __u8 live; /* a session was started */
    __u8 pad[7];
};

/* The destination a send on a connected socket named, from the cgroup
 * sendmsg hook to sock_send_length in the same task. */
struct pt_udp_send {
    __u16 family;
    __u16 dport;
    __u8 daddr[16];
};

#endif
