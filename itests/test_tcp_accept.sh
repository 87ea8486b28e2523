#!/usr/bin/env bash
# tcp_accept: one event per accepted inbound TCP connection, in the
# accepting process's context (its tree), with laddr/lport/raddr/rport: on
# 127.x, on ::1, on a dual-stack listener (an IPv4 peer prints as IPv4) and
# from a host in a network namespace; filters on the remote address (their
# port lists with the local port), port rules on the local port.
source "$(dirname "$0")/lib.sh"
require_root

# This test's own namespace and addresses (198.18.0.0/15: no other test's).
NETNS="pt9a$$"
netns_create "$NETNS" 198.18.9.1 198.18.9.2

CONFIG=$(write_config tcp_accept.yml <<'YAML'
tcp_accept:
  filters:
    - {network: 127.0.10.0/24}
    - {network: 127.0.11.0/24, except_ports: [7952]}
  excludeports: [7953]
YAML
)
start_daemon "$CONFIG"

SOCK="$PIDTREE_SOURCE_DIR/itests/sock.py"
# accept_from SRC HOST PORT [NETNS [LISTEN_HOST]]: a listener on
# LISTEN_HOST (HOST) that accepts one connection from SRC to HOST; prints
# "LISTENER_PID CLIENT_PORT".
accept_from() {
    local src=$1 host=$2 port=$3 netns=${4:-} listen=${5:-$2}
    python3 "$SOCK" tcp-accept "$listen" "$port" 1 5 > "$WORK/server" &
    local server=$!
    for _ in $(seq 1 50); do grep -q listening "$WORK/server" && break; sleep 0.1; done
    local cport
    if [ -n "$netns" ]; then
        cport=$(ip netns exec "$netns" python3 "$SOCK" tcp-connect-from "$src" "$host" "$port" | tail -n 1)
    else
        cport=$(python3 "$SOCK" tcp-connect-from "$src" "$host" "$port" | tail -n 1)
    fi
    wait $server
    echo "$(head -n 1 "$WORK/server") $cport"
}

expect_accept() { # LABEL SRC HOST PORT LADDR RADDR [NETNS [LISTEN_HOST]]
    local label=$1 src=$2 host=$3 port=$4 laddr=$5 raddr=$6 netns=${7:-} listen=${8:-$3}
    read -r server cport < <(accept_from "$src" "$host" "$port" "$netns" "$listen")
    local line
    line=$(wait_json ".probe == \"tcp_accept\" and .pid == $server") || fail "$label: not reported"
    echo "$line" | jq -e --arg laddr "$laddr" --arg raddr "$raddr" --argjson lport "$port" \
        --argjson rport "$cport" --argjson pid "$server" '.laddr == $laddr and .lport == $lport
        and .raddr == $raddr and .rport == $rport and .proctree[0].pid == $pid
        and (.proctree[0].cmdline | test("sock.py tcp-accept")) and .proctree[-1].pid == 1
        and .error == ""' > /dev/null || fail "$label: wrong event: $line"
    pass "$label"
}

expect_accept "accept on 127.0.9.1 from 127.0.9.2" 127.0.9.2 127.0.9.1 7951 127.0.9.1 127.0.9.2
expect_accept "accept on ::1" ::1 ::1 7951 ::1 ::1
expect_accept "dual-stack listener, IPv4 peer printed as IPv4" 127.0.9.3 127.0.9.1 7955 \
    127.0.9.1 127.0.9.3 "" ::
expect_accept "accept from the namespace's host" 198.18.9.2 198.18.9.1 7954 198.18.9.1 \
    198.18.9.2 "$NETNS"
expect_accept "a filtered subnet's except_ports passes its local port" 127.0.11.5 127.0.9.1 \
    7952 127.0.9.1 127.0.11.5

# Dropped in the kernel: the remote subnet, the subnet with another local
# port, the excluded local port.
dropped=()
read -r s _ < <(accept_from 127.0.10.5 127.0.9.1 7951); dropped+=("$s")
read -r s _ < <(accept_from 127.0.11.5 127.0.9.1 7951); dropped+=("$s")
read -r s _ < <(accept_from 127.0.9.2 127.0.9.1 7953); dropped+=("$s")
read -r s _ < <(accept_from 127.0.9.2 127.0.9.1 7951); passed=$s
wait_json ".pid == $passed" > /dev/null || fail "the accept after the dropped ones not reported"
for s in "${dropped[@]}"; do
    [ "$(count_json ".pid == $s")" -eq 0 ] || fail "accept by $s not filtered"
done
pass "filters on the remote address, port rules and except_ports on the local port"

# A failed accept (non-blocking, nothing pending) reports nothing.
failed=$(python3 - <<'PY'
import os, socket
print(os.getpid(), flush=True)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.9.1", 7951))
s.listen(1)
s.setblocking(False)
try:
    s.accept()
except BlockingIOError:
    pass
PY
)
read -r s _ < <(accept_from 127.0.9.2 127.0.9.1 7951)
wait_json ".pid == $s" > /dev/null || fail "the accept after the failed one not reported"
[ "$(count_json ".pid == $failed")" -eq 0 ] || fail "a failed accept was reported"
pass "a failed accept reports nothing"
stop_daemon
finish
