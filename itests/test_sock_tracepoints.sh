#!/usr/bin/env bash
# tcp_connect's and udp_session's socket tracepoints, in both of their
# programs: raw tracepoints reading the sock at offsets from the kernel's
# BTF, and the plain tracepoints a kernel without BTF gets
# (PIDTREE_KERNEL_BTF names a missing file). Each must attach the program
# it says and report IPv4 and IPv6 connects and connected UDP sends with
# the right addresses and ports, and a failed send must change none.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config sock.yml <<'YAML'
tcp_connect: {}
udp_session: {session_max_duration: 30}
YAML
)

# attached KIND: the -p listing of this config names KIND for both
# tracepoints, and not the other kind.
attached() {
    local kind=$1 other=raw_tracepoint module
    [ "$kind" = raw_tracepoint ] && other=tracepoint
    module=$("$PIDTREE_BIN" -c "$CONFIG" -p 2>/dev/null) || fail "-p failed"
    for tp in sock/inet_sock_set_state sock/sock_send_length; do
        grep -q "attach $kind $tp -> " <<< "$module" || fail "$kind: $tp not attached as $kind"
        ! grep -q "attach $other $tp -> " <<< "$module" || fail "$kind: $tp also as $other"
    done
}

# forms_check LABEL PORT_BASE: the events of one daemon.
forms_check() {
    local label=$1 base=$2 pid line
    local n=0
    for host in 127.0.0.21 ::1; do
        pid=$(tcp_connect_to "$host" $((base + n)))
        line=$(wait_json ".probe == \"tcp_connect\" and .pid == $pid") ||
            fail "$label: no tcp_connect event to $host"
        # The source lo picks for any 127.x is 127.0.0.1.
        echo "$line" | jq -e --arg h "$host" --argjson p $((base + n)) \
            '.daddr == $h and .saddr == (if $h == "::1" then "::1" else "127.0.0.1" end) and
             .port == $p' >/dev/null ||
            fail "$label: wrong tcp_connect event: $line"
        pass "$label: tcp_connect to $host"
        n=$((n + 1))
    done
    for host in 127.0.0.22 ::1; do
        pid=$(sock udp-connected close "$host" $((base + n)) 3)
        line=$(wait_json ".probe == \"udp_session\" and .pid == $pid" 20) ||
            fail "$label: no udp_session event for a connected socket to $host"
        echo "$line" | jq -e --arg h "$host" --argjson p $((base + n)) \
            '(.destinations | length) == 1 and .destinations[0].daddr == $h and
             .destinations[0].port == $p and .destinations[0].msg_count == 3' >/dev/null ||
            fail "$label: wrong udp_session event: $line"
        pass "$label: connected UDP socket to $host, 3 datagrams"
        n=$((n + 1))
    done
    # A failed send that named another destination leaves nothing behind
    # for the next sends on the socket to be counted under.
    pid=$(sock udp-connected-failed-send close 127.0.0.23 $((base + n)) 2)
    line=$(wait_json ".probe == \"udp_session\" and .pid == $pid" 20) ||
        fail "$label: no udp_session event after a failed send"
    echo "$line" | jq -e --argjson p $((base + n)) \
        '(.destinations | length) == 1 and .destinations[0].daddr == "127.0.0.23" and
         .destinations[0].port == $p and .destinations[0].msg_count == 2' >/dev/null ||
        fail "$label: wrong udp_session event after a failed send: $line"
    pass "$label: a failed send to another destination, then 2 datagrams to the peer"
}

attached raw_tracepoint
start_daemon "$CONFIG"
forms_check "raw tracepoints" 7810
stop_daemon

export PIDTREE_KERNEL_BTF=$WORK/no-such-btf
attached tracepoint
start_daemon "$CONFIG"
grep -q "no-such-btf" "$ERR" || fail "no warning names the missing BTF file: $(cat "$ERR")"
forms_check "plain tracepoints (no BTF)" 7820
stop_daemon
finish
