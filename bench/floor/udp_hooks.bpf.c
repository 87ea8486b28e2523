/* udp_hooks.bpf.c: programs that do nothing (see udp_hooks.yml), one per
 * hook (a cgroup program is loaded for the hook it attaches to). Cgroup
 * programs return 1 to let the call go on. */

int udp_hooks__connect4(struct bpf_sock_addr *ctx)
{
    return 1;
}

int udp_hooks__connect6(struct bpf_sock_addr *ctx)
{
    return 1;
}

int udp_hooks__sendmsg4(struct bpf_sock_addr *ctx)
{
    return 1;
}

int udp_hooks__sendmsg6(struct bpf_sock_addr *ctx)
{
    return 1;
}

int udp_hooks__sock_release(struct bpf_sock *sk)
{
    return 1;
}

int udp_hooks__raw(struct bpf_raw_tracepoint_args *ctx)
{
    return 0;
}
