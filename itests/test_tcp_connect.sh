#!/usr/bin/env bash
# tcp_connect end to end: real connections from known process chains to
# 127.x, ::1 and a host in a network namespace produce one event each with
# the right addresses, port and tree; a tree stays complete when the whole
# chain exited before the daemon read the event.
source "$(dirname "$0")/lib.sh"
require_root
make_netns

CONFIG=$(write_config tcp.yml <<'YAML'
tcp_connect:
  filters:
    - subnet_name: not-used
      network: 192.0.2.0/24
YAML
)
start_daemon "$CONFIG"

# A chain: this test -> sh (marker) -> bash (connects). The marker makes the
# parent recognisable in the tree.
chain_connect() {
    local host=$1 port=$2
    sh -c 'marker_parent=1; bash -c "echo \$\$; exec 3<>/dev/tcp/$0/$1" "$0" "$1" 2>/dev/null; true' \
        "$host" "$port"
}

check_event() {
    local label=$1 pid=$2 daddr=$3 port=$4 line
    line=$(wait_json ".probe == \"tcp_connect\" and .pid == $pid") ||
        fail "$label: no event for pid $pid"
    echo "$line" | jq -e --arg d "$daddr" --argjson p "$port" \
        '.daddr == $d and .port == $p and .error == ""' >/dev/null ||
        fail "$label: wrong fields: $line"
    echo "$line" | jq -e --argjson pid "$pid" '
        .proctree[0].pid == $pid and
        (.proctree[0].cmdline | startswith("bash -c echo")) and
        (.proctree[1].cmdline | contains("marker_parent=1")) and
        .proctree[-1].pid == 1 and
        ([.proctree[] | has("pid") and has("cmdline") and has("username")] | all) and
        .proctree[0].username == "root"' >/dev/null ||
        fail "$label: wrong proctree: $line"
    echo "$line" | jq -e '.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")' \
        >/dev/null || fail "$label: bad timestamp: $line"
    pass "$label: event with daddr $daddr port $port and a full tree"
}

pid=$(chain_connect 127.0.0.2 7001)
check_event "IPv4 loopback" "$pid" 127.0.0.2 7001
line=$(wait_json ".pid == $pid")
echo "$line" | jq -e '.saddr == "127.0.0.1"' >/dev/null || fail "saddr: $line"
pass "IPv4 saddr is the source address"

pid=$(chain_connect ::1 7002)
check_event "IPv6 loopback" "$pid" ::1 7002

pid=$(chain_connect 198.51.100.2 7003)
check_event "namespace host" "$pid" 198.51.100.2 7003
line=$(wait_json ".pid == $pid")
echo "$line" | jq -e '.saddr == "198.51.100.1"' >/dev/null || fail "saddr: $line"
pass "namespace connection comes from the veth address"

# Exactly one event per connection attempt.
[ "$(count_json ".pid == $pid")" -eq 1 ] || fail "more than one event for one connect"
pass "one event per connection attempt"

# The race the original documented: stop the daemon, let a chain connect
# and exit entirely, resume. The tree must still be complete, from the
# kernel's lifecycle events rather than /proc.
kill -STOP "$DAEMON_PID"
pid=$(sh -c 'exec_gone_parent=1; bash -c "echo \$\$; exec 3<>/dev/tcp/127.0.0.3/7004" 2>/dev/null; true')
sleep 0.2
[ ! -e "/proc/$pid" ] || fail "test process $pid still exists"
kill -CONT "$DAEMON_PID"
line=$(wait_json ".pid == $pid") || fail "no event for exited process $pid"
echo "$line" | jq -e '.error == "" and (.proctree[0].cmdline | startswith("bash -c echo")) and
    (.proctree[1].cmdline | contains("exec_gone_parent=1")) and .proctree[-1].pid == 1' >/dev/null ||
    fail "tree of exited chain incomplete: $line"
pass "complete tree for a chain that exited before the daemon looked"

stop_daemon
pass "SIGTERM stops the daemon with status 0"
finish
