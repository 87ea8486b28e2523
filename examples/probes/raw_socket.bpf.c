/* raw_socket.bpf.c: one event per socket() creating a raw or packet socket.
 * The daemon generates `struct raw_socket_event` from raw_socket.yml and
 * defines PT_SETTING_include_packet from the config. */

#define RAW_SOCKET_TYPE_MASK 0xf /* the type without SOCK_NONBLOCK/CLOEXEC */
#define RAW_SOCK_RAW 3
#define RAW_AF_PACKET 17

static __always_inline int raw_socket_submit(int family, int type, int protocol)
{
    type &= RAW_SOCKET_TYPE_MASK;
    if (type != RAW_SOCK_RAW && !(PT_SETTING_include_packet && family == RAW_AF_PACKET))
        return 0;
    struct raw_socket_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->family = family;
    e->sock_type = type;
    e->protocol = protocol;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    pt_events.ringbuf_submit(e, pt_event_flags());
    return 0;
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

int raw_socket__sys_enter_socket(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_socket *args = ctx;
    return raw_socket_submit(args->family, args->type, args->protocol);
}

#else

int raw_socket__sys_socket(struct pt_regs *ctx)
{
    return raw_socket_submit(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx));
}

#endif
