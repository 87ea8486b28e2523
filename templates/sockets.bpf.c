/* sockets.bpf.c: the type of each socket, from socket(2), by (process, fd).
 *
 * Syscall tracepoints see fds, not sockets, and reading the type through
 * task->files would depend on struct layouts that differ between the
 * headers and the running kernel. So the type is remembered when the
 * socket is made. An LRU map bounds it; a socket made before the daemon
 * started is simply unknown, and the probes resolve it in userland. Closed
 * fds are left to the LRU: a reused fd is overwritten by its next socket(),
 * and lookups happen only in socket syscalls, which fail on other fds.
 */

BPF_TABLE("lru_hash", struct pt_sock_key, struct pt_sock_info, pt_sockets, PT_MAX_SOCKETS);
BPF_HASH(pt_socket_args, __u64, struct pt_sock_info, 4096);

int pt_sockets__sys_enter_socket(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_socket *args = ctx;
    if (args->family != AF_INET && args->family != AF_INET6)
        return 0;
    struct pt_sock_info info = {.family = args->family, .type = args->type & 0xf};
    __u64 tid = bpf_get_current_pid_tgid();
    pt_socket_args.update(&tid, &info);
    return 0;
}

int pt_sockets__sys_exit_socket(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_socket *args = ctx;
    __u64 tid = bpf_get_current_pid_tgid();
    struct pt_sock_info *info = pt_socket_args.lookup(&tid);
    if (!info)
        return 0;
    if (args->ret >= 0) {
        struct pt_sock_key key = {.tgid = tid >> 32, .fd = args->ret};
        pt_sockets.update(&key, info);
    }
    pt_socket_args.delete(&tid);
    return 0;
}

static __always_inline struct pt_sock_info *pt_socket_lookup(__u32 fd)
{
    struct pt_sock_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd};
    return pt_sockets.lookup(&key);
}
