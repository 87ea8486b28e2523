/* tcp_accept.bpf.c: one event per inbound TCP connection a process
 * accepts, in the accepting process's context. `filters` apply to the
 * remote address, with the local port for their port lists; port rules to
 * the local port.
 *
 * Tracepoint form: syscalls:sys_exit_accept and sys_exit_accept4. No other
 * tracepoint fires in the acceptor when it takes a connection (the state
 * changes happen in softirq, before anyone accepts), so the returned fd is
 * followed to its socket: task->files->fdt->fd[fd]->private_data (struct
 * socket)->sk, at offsets the daemon takes from the running kernel's BTF
 * (TCP_ACCEPT_OFF_*), or from the headers when it has none. Attaching
 * syscall tracepoints puts every syscall of every task on the slower traced
 * path (README, Performance).
 * Kprobe form: inet_csk_accept's return, which is the new sock.
 *
 * Only the leading fields of sock_common are read at fixed offsets
 * (pt_sock_read); the IPv6 addresses come after fields that moved, so
 * their offsets come from BTF or the headers too.
 */
#define TCP_ACCEPT_SOCK_STREAM 1

#ifndef TCP_ACCEPT_OFF_SKC_V6_DADDR
#include <net/sock.h>
#define TCP_ACCEPT_OFF_SKC_V6_DADDR offsetof(struct sock_common, skc_v6_daddr)
#define TCP_ACCEPT_OFF_SKC_V6_RCV_SADDR offsetof(struct sock_common, skc_v6_rcv_saddr)
#endif

/* Reports the connection on `sk` unless a filter drops it. */
static __always_inline int tcp_accept_submit(const char *sk)
{
    struct pt_sock_head head = {};
    __u8 laddr[16] = {}, raddr[16] = {};
    if (pt_sock_read(sk, TCP_ACCEPT_OFF_SKC_V6_DADDR, TCP_ACCEPT_OFF_SKC_V6_RCV_SADDR, &head, raddr,
                     laddr))
        return 0;
    __u16 rport = ntohs(head.dport);
    if (pt_filtered(PT_PROBE_ID, head.family, raddr, head.num))
        return 0;
    struct pt_tcp_accept_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->family = head.family;
    e->lport = head.num;
    e->rport = rport;
    e->pad = 0;
    __builtin_memcpy(e->laddr.addr, laddr, 16);
    __builtin_memcpy(e->raddr.addr, raddr, 16);
    pt_events.ringbuf_submit(e, pt_event_flags());
    return 0;
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

#ifndef TCP_ACCEPT_OFF_TASK_FILES
#include <linux/fdtable.h>
#include <linux/net.h>
#define TCP_ACCEPT_OFF_TASK_FILES offsetof(struct task_struct, files)
#define TCP_ACCEPT_OFF_FILES_FDT offsetof(struct files_struct, fdt)
#define TCP_ACCEPT_OFF_FDT_MAX_FDS offsetof(struct fdtable, max_fds)
#define TCP_ACCEPT_OFF_FDT_FD offsetof(struct fdtable, fd)
#define TCP_ACCEPT_OFF_FILE_PRIVATE_DATA offsetof(struct file, private_data)
#define TCP_ACCEPT_OFF_SOCKET_TYPE offsetof(struct socket, type)
#define TCP_ACCEPT_OFF_SOCKET_SK offsetof(struct socket, sk)
#endif

/* The sock behind the caller's descriptor `fd`, or NULL. */
static __always_inline const char *tcp_accept_fd_sock(long fd)
{
    const char *task = (const char *)bpf_get_current_task();
    const char *files = NULL, *fdt = NULL, *fds = NULL, *file = NULL, *sock = NULL, *sk = NULL;
    unsigned int max_fds = 0;
    short type = 0;
    if (bpf_probe_read_kernel(&files, sizeof(files), task + TCP_ACCEPT_OFF_TASK_FILES) || !files ||
        bpf_probe_read_kernel(&fdt, sizeof(fdt), files + TCP_ACCEPT_OFF_FILES_FDT) || !fdt ||
        bpf_probe_read_kernel(&max_fds, sizeof(max_fds), fdt + TCP_ACCEPT_OFF_FDT_MAX_FDS) ||
        fd >= max_fds ||
        bpf_probe_read_kernel(&fds, sizeof(fds), fdt + TCP_ACCEPT_OFF_FDT_FD) || !fds ||
        bpf_probe_read_kernel(&file, sizeof(file), fds + fd * sizeof(void *)) || !file ||
        bpf_probe_read_kernel(&sock, sizeof(sock), file + TCP_ACCEPT_OFF_FILE_PRIVATE_DATA) ||
        !sock || bpf_probe_read_kernel(&type, sizeof(type), sock + TCP_ACCEPT_OFF_SOCKET_TYPE) ||
        type != TCP_ACCEPT_SOCK_STREAM ||
        bpf_probe_read_kernel(&sk, sizeof(sk), sock + TCP_ACCEPT_OFF_SOCKET_SK))
        return NULL;
    return sk;
}

/* accept and accept4 exit with the same record: one program serves both. */
int tcp_accept__sys_exit_accept(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_accept *args = ctx;
    if (args->ret < 0)
        return 0;
    return tcp_accept_submit(tcp_accept_fd_sock(args->ret));
}

#else /* PT_ATTACH_KPROBE */

int tcp_accept__inet_csk_accept_ret(struct pt_regs *ctx)
{
    return tcp_accept_submit((const char *)PT_REGS_RC(ctx));
}

#endif
