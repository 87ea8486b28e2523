#!/usr/bin/env bash
# The kprobe form of every probe, for kernels without the tracepoints: this
# kernel has no kprobes to attach them to, so the test renders them (-p with
# attach: kprobe) and loads every program through the kernel's verifier.
source "$(dirname "$0")/lib.sh"
require_root

cfg=$(write_config kprobe.yml <<'YAML'
tcp_connect: {attach: kprobe}
net_listen: {attach: kprobe, protocols: [tcp, udp]}
udp_session: {attach: kprobe}
file_open: {attach: kprobe, include_paths: [/tmp/]}
tcp_accept: {attach: kprobe}
exec: {attach: kprobe, include_failed: true}
bashreadline: {attach: kprobe}
YAML
)
"$PIDTREE_BIN" -c "$cfg" -p > "$WORK/module.c"
for f in tcp_connect__tcp_v4_connect_ret tcp_connect__tcp_v6_connect net_listen__inet_listen \
         net_listen__inet_bind_ret udp_session__udp_sendmsg udp_session__udpv6_sendmsg \
         file_open__do_sys_openat2 file_open__do_sys_openat2_ret bashreadline__readline_ret \
         tcp_accept__inet_csk_accept_ret; do
    grep -q "^int $f(struct pt_regs \*ctx)" "$WORK/module.c" || fail "kprobe program $f not rendered"
done
pass "-p renders the kprobe forms when asked for them"

python3 "$(dirname "$0")/load_module.py" "$(dirname "$PIDTREE_BIN")/pidtree-bcc-compile" \
    "$WORK/module.c" > "$WORK/loaded" || fail "kprobe forms rejected: $(tail -n 30 "$WORK/loaded")"
n=$(grep -c '^loaded ' "$WORK/loaded")
[ "$n" -ge 16 ] || fail "only $n programs loaded: $(cat "$WORK/loaded")"
pass "all $n programs of the kprobe forms pass the verifier"
finish
