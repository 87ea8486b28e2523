#!/usr/bin/env bash
# net_listen: TCP listeners and UDP binds on 127.x and ::1, random binds,
# excluded ports, failed listens, same_namespace_only, and a snapshot that
# finds a listener older than the daemon.
source "$(dirname "$0")/lib.sh"
require_root
make_netns

# A listener that exists before the daemon starts.
python3 "$(dirname "$0")/sock.py" tcp-listen 127.0.0.9 7600 $((90 + ${PIDTREE_ATTACH_TIMEOUT:-0})) > "$WORK/old.pid" &
old_listener=$!
for i in $(seq 1 50); do [ -s "$WORK/old.pid" ] && break; sleep 0.1; done
old_pid=$(head -n1 "$WORK/old.pid")

CONFIG=$(write_config listen.yml <<'YAML'
net_listen:
  protocols: [tcp, udp]
  exclude_random_bind: true
  same_namespace_only: true
  snapshot_periodicity: 3600
  excludeports: [7650]
  filters:
    - network: 127.0.0.66/32
YAML
)
start_daemon "$CONFIG"

line=$(wait_json ".probe == \"net_listen\" and .pid == $old_pid") ||
    fail "snapshot did not list the listener that predates the daemon"
echo "$line" | jq -e '.laddr == "127.0.0.9" and .port == 7600 and .protocol == "tcp" and
    (.proctree[0].cmdline | contains("sock.py tcp-listen")) and .proctree[-1].pid == 1' \
    >/dev/null || fail "snapshot event fields: $line"
pass "snapshot lists a listener started before the daemon"

check_listen() { # LABEL PID LADDR PORT PROTOCOL
    local line
    line=$(wait_json ".probe == \"net_listen\" and .pid == $2") || fail "$1: no event for $2"
    echo "$line" | jq -e --arg a "$3" --argjson p "$4" --arg proto "$5" \
        '.laddr == $a and .port == $p and .protocol == $proto and .error == "" and
         (.proctree[0].cmdline | contains("sock.py")) and .proctree[-1].pid == 1' >/dev/null ||
        fail "$1: wrong fields: $line"
    pass "$1"
}

pid=$(sock tcp-listen 127.0.0.7 7601 0.2); check_listen "TCP listener on 127.0.0.7" "$pid" 127.0.0.7 7601 tcp
pid=$(sock tcp-listen ::1 7602 0.2); check_listen "TCP listener on ::1" "$pid" ::1 7602 tcp
pid=$(sock tcp-listen :: 7603 0.2); check_listen "TCP listener on ::" "$pid" :: 7603 tcp
pid=$(sock udp-bind 127.0.0.7 7604); check_listen "UDP bind on 127.0.0.7" "$pid" 127.0.0.7 7604 udp
pid=$(sock udp-bind ::1 7605); check_listen "UDP bind on ::1" "$pid" ::1 7605 udp

declare -a dropped=()
dropped+=("$(sock udp-bind 127.0.0.7 0)")        # random bind
dropped+=("$(sock tcp-listen-unbound 4)")        # listen without bind: random port
dropped+=("$(sock tcp-listen 127.0.0.7 7650 0.2)") # excluded port
dropped+=("$(sock tcp-listen 127.0.0.66 7651 0.2)") # filtered address
# A listen that fails: the port is taken by the old listener.
dropped+=("$(sock tcp-listen 127.0.0.9 7600 0.2)")
# A listener in another network namespace.
dropped+=("$(ip netns exec "$NETNS" python3 "$(dirname "$0")/sock.py" tcp-listen 198.51.100.2 7652 0.2 | head -n1)")

marker=$(sock tcp-listen 127.0.0.8 7699 0.2)
wait_json ".pid == $marker" >/dev/null || fail "marker listener missing"
for p in "${dropped[@]}"; do
    [ "$(count_json ".probe == \"net_listen\" and .pid == $p")" -eq 0 ] ||
        fail "event for pid $p should have been dropped: $(jq -c "select(.pid == $p)" "$OUT")"
done
pass "random binds, excluded ports, filtered addresses, failed listens and other namespaces dropped"
stop_daemon
kill "$old_listener" 2>/dev/null || true

# Without same_namespace_only, the namespace's listener is reported, and
# protocols defaults to tcp only.
CONFIG=$(write_config listen2.yml <<'YAML'
net_listen: {}
YAML
)
start_daemon "$CONFIG"
pid=$(ip netns exec "$NETNS" python3 "$(dirname "$0")/sock.py" tcp-listen 198.51.100.2 7653 0.2 | head -n1)
check_listen "namespace listener reported without same_namespace_only" "$pid" 198.51.100.2 7653 tcp
# listen() without bind(): reported with the port the kernel chose, as the
# original did (not 0).
python3 -c 'import os, socket, sys, time
s = socket.socket(); s.listen(1)
print(os.getpid(), s.getsockname()[1], flush=True); time.sleep(0.3)' > "$WORK/unbound.txt"
read -r pid chosen < "$WORK/unbound.txt"
check_listen_any() { # LABEL PID LADDR PORT PROTOCOL (any command line)
    local line
    line=$(wait_json ".probe == \"net_listen\" and .pid == $2") || fail "$1: no event for $2"
    echo "$line" | jq -e --arg a "$3" --argjson p "$4" --arg proto "$5" \
        '.laddr == $a and .port == $p and .protocol == $proto' >/dev/null || fail "$1: $line"
    pass "$1"
}
check_listen_any "listen() without bind() reports the chosen port $chosen" "$pid" 0.0.0.0 "$chosen" tcp
udp=$(sock udp-bind 127.0.0.7 7654)
marker=$(sock tcp-listen 127.0.0.8 7698 0.2)
wait_json ".pid == $marker" >/dev/null || fail "marker listener missing"
[ "$(count_json ".pid == $udp")" -eq 0 ] || fail "UDP bind reported with protocols [tcp]"
pass "UDP binds not reported when protocols is the default [tcp]"
stop_daemon
finish
