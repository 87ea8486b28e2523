#!/usr/bin/env bash
# Rules against the real kernel (README, "Rules"): a kernel kill rule
# stops a connect (IPv4 and IPv6) before a listener the test runs sees
# anything; interrupt and stop; a CIDR rule; a rule on the process's
# ancestry (the daemon's); audit writes and does nothing; a listener killed
# at its listen(); the daemon itself is never signalled; -p shows the
# kernel side; a malformed rule is refused with its line. Ports 46100-46149
# on loopback only.
source "$(dirname "$0")/lib.sh"
require_root

PEER="$(dirname "$0")/rules_peer.py"
RULES="$WORK/rules"
mkdir -p "$RULES"

config=$(write_config config.yml <<'EOF'
tcp_connect:
  includeports: [46100-46149]
net_listen:
  includeports: [46100-46149]
EOF
)

cat > "$RULES/10-kernel.yml" <<'EOF'
rules:
  - name: kill-46101
    probes: [tcp_connect]
    match: {daddr: 127.0.0.0/8, port: 46101}
    action: kill
  - name: kill-46102-v6
    probes: [tcp_connect]
    match: {daddr: "::1", port: 46102}
    action: kill
  - name: interrupt-46103
    probes: [tcp_connect]
    match: {port: 46103, comm: python3}
    action: interrupt
  - name: stop-46104
    probes: [tcp_connect]
    match: {port: 46104}
    action: stop
  - name: cidr-46106
    probes: [tcp_connect]
    match: {daddr: 127.77.0.0/16, port: 46106}
    action: kill
  - name: audit-46107
    probes: [tcp_connect]
    match: {port: 46107}
    action: kill
    audit: true
  - name: listener-46109
    probes: [net_listen]
    match: {port: 46109}
    action: kill
EOF
cat > "$RULES/20-daemon.yml" <<'EOF'
rules:
  - name: marked-parent-46105
    probes: [tcp_connect]
    match:
      port: 46105
      ancestor: {cmdline: "*rules-marker-46105*"}
    action: kill
  - name: log-46108
    probe: tcp_connect
    match: {port: 46108}
EOF

# -p shows the kernel side: the map entries and where each rule acts.
"$PIDTREE_BIN" -p -c "$config" --rules-dir "$RULES" > "$WORK/module.c" 2> "$WORK/p.err" ||
    fail "-p with rules: $(cat "$WORK/p.err")"
grep -q '^#define PT_RULES 1$' "$WORK/module.c" || fail "-p: no PT_RULES"
grep -q 'attach cgroup connect4 -> tcp_connect__connect4' "$WORK/module.c" ||
    fail "-p: no connect4 hook"
grep -qE '^ \*   #[0-9]+ kill-46101: probe_mask 0x[0-9a-f]+ signal 9 addr ::ffff:127\.0\.0\.0/104 \(mapped\) port 46101-46101$' \
    "$WORK/module.c" || fail "-p: kill-46101's entry: $(grep -A12 'Kernel rules' "$WORK/module.c")"
grep -q 'marked-parent-46105: conditions the kernel cannot test' "$WORK/module.c" ||
    fail "-p: the ancestor rule is not said to stay in the daemon"
pass "-p prints the kernel rules' entries and why the others stay in the daemon"

start_daemon "$config" --rules-dir "$RULES" --ctl-socket "$WORK/ctl.sock"

# connect_to HOST PORT HOLD: runs a client; its output in $WORK/client.out,
# its exit status in $CLIENT_RC, its pid in $CLIENT_PID.
connect_to() {
    CLIENT_RC=0
    timeout 20 python3 "$PEER" connect "$1" "$2" "$3" > "$WORK/client.out" 2>/dev/null ||
        CLIENT_RC=$?
    CLIENT_PID=$(head -n 1 "$WORK/client.out")
}

# listen_on HOST PORT: a listener waiting up to 3 s; its verdict later in
# $WORK/listener.out.
listen_on() {
    : > "$WORK/listener.out"
    timeout 20 python3 "$PEER" listen "$1" "$2" 3 > "$WORK/listener.out" 2>/dev/null &
    LISTENER=$!
    local i
    for i in $(seq 100); do
        grep -q ready "$WORK/listener.out" && return 0
        sleep 0.05
    done
    fail "listener on $1:$2 did not start"
}

# mark_of PID RULE FIELD: the field of RULE's mark on PID's tcp_connect line.
mark_of() {
    wait_json ".pid == $1 and .probe == \"tcp_connect\"" 10 |
        jq -r --arg r "$2" ".rules[]? | select(.name == \$r) | .$3"
}

for target in "127.0.0.1 46101 kill-46101" "::1 46102 kill-46102-v6"; do
    set -- $target
    listen_on "$1" "$2"
    connect_to "$1" "$2" 2
    wait "$LISTENER" || true
    [ "$CLIENT_RC" -eq 137 ] || fail "$3: the client exited $CLIENT_RC, not by SIGKILL"
    grep -q connected "$WORK/client.out" && fail "$3: the client's connect succeeded"
    grep -q nothing "$WORK/listener.out" ||
        fail "$3: the listener saw a connection: $(cat "$WORK/listener.out")"
    [ "$(mark_of "$CLIENT_PID" "$3" by)" = kernel ] || fail "$3: not marked by the kernel"
    [ "$(mark_of "$CLIENT_PID" "$3" refused)" = true ] || fail "$3: not marked refused"
    [ "$(mark_of "$CLIENT_PID" "$3" result)" = done ] || fail "$3: result is not done"
    pass "$3: killed in the kernel before its connect reached the listener on $1"
done

connect_to 127.0.0.1 46103 5
[ "$CLIENT_RC" -eq 130 ] || fail "interrupt: the client exited $CLIENT_RC, not by SIGINT"
[ "$(mark_of "$CLIENT_PID" interrupt-46103 action)" = interrupt ] || fail "interrupt: no mark"
pass "interrupt: SIGINT from the kernel"

: > "$WORK/stopped.out"
timeout 20 python3 "$PEER" connect 127.0.0.1 46104 5 > "$WORK/stopped.out" 2>/dev/null &
STOPPER=$!
state=""
stopped_pid=""
for i in $(seq 100); do
    stopped_pid=$(head -n 1 "$WORK/stopped.out")
    [ -n "$stopped_pid" ] && state=$(awk '{print $3}' "/proc/$stopped_pid/stat" 2>/dev/null || true)
    [ "$state" = T ] && break
    sleep 0.05
done
[ "$state" = T ] || fail "stop: the client is in state '$state', not stopped"
[ "$(mark_of "$stopped_pid" stop-46104 result)" = done ] || fail "stop: no mark"
kill -KILL "$stopped_pid"
wait "$STOPPER" 2>/dev/null || true
pass "stop: SIGSTOP from the kernel"

connect_to 127.77.1.1 46106 0
[ "$CLIENT_RC" -eq 137 ] || fail "cidr: a connect into 127.77.0.0/16 exited $CLIENT_RC"
killed_pid=$CLIENT_PID
connect_to 127.78.1.1 46106 0
[ "$CLIENT_RC" -eq 0 ] || fail "cidr: a connect outside 127.77.0.0/16 exited $CLIENT_RC"
grep -q "error 111" "$WORK/client.out" || fail "cidr: outside the network, not ECONNREFUSED"
wait_json ".pid == $CLIENT_PID" 10 >/dev/null || fail "cidr: the connect outside not reported"
[ "$(count_json ".pid == $CLIENT_PID and .rules != null")" -eq 0 ] ||
    fail "cidr: the connect outside the network is marked"
[ "$(mark_of "$killed_pid" cidr-46106 result)" = done ] || fail "cidr: no mark"
pass "a CIDR rule: 127.77.0.0/16 killed, 127.78.1.1 left alone"

connect_to 127.0.0.1 46107 0
[ "$CLIENT_RC" -eq 0 ] || fail "audit: the client exited $CLIENT_RC"
grep -q "error 111" "$WORK/client.out" || fail "audit: the connect was not made (refused by a rule?)"
[ "$(mark_of "$CLIENT_PID" audit-46107 result)" = audit ] || fail "audit: not marked audit"
[ "$(mark_of "$CLIENT_PID" audit-46107 action)" = kill ] || fail "audit: the action is not said"
pass "audit: marked with what it would do, and nothing done"

# A rule on the tree is the daemon's: the process under the marked shell
# dies, one under another does not.
# The client would sleep 10 s after its connect; killed, the shell reports
# its status (137) long before.
started=$(date +%s)
timeout 20 bash -c ': rules-marker-46105; python3 "$0" connect 127.0.0.1 46105 10; echo rc=$?' \
    "$PEER" > "$WORK/client.out" 2>/dev/null || fail "ancestor: the marked shell failed"
[ $(($(date +%s) - started)) -lt 8 ] || fail "ancestor: the marked client was not killed"
grep -q "^rc=137$" "$WORK/client.out" || fail "ancestor: the client was not killed by SIGKILL"
marked=$(head -n 1 "$WORK/client.out")
[ "$(mark_of "$marked" marked-parent-46105 by)" = daemon ] || fail "ancestor: no daemon mark"
[ "$(mark_of "$marked" marked-parent-46105 result)" = done ] || fail "ancestor: not done"
timeout 20 bash -c ': other-46105; python3 "$0" connect 127.0.0.1 46105 0; true' "$PEER" \
    > "$WORK/other.out" 2>/dev/null || fail "ancestor: the unmarked client failed"
other=$(head -n 1 "$WORK/other.out")
wait_json ".pid == $other" 10 >/dev/null || fail "ancestor: the unmarked connect not reported"
[ "$(count_json ".pid == $other and .rules != null")" -eq 0 ] ||
    fail "ancestor: the unmarked client's connect is marked"
pass "an ancestor-cmdline rule, from the daemon: the marked shell's child killed"

connect_to 127.0.0.1 46108 0
[ "$(mark_of "$CLIENT_PID" log-46108 action)" = log ] || fail "log: no mark"
pass "a log rule marks the line and does nothing"

CLIENT_RC=0
timeout 20 python3 "$(dirname "$0")/sock.py" tcp-listen 127.0.0.1 46109 5 > "$WORK/listen.out" \
    2>/dev/null || CLIENT_RC=$?
[ "$CLIENT_RC" -eq 137 ] || fail "listener: exited $CLIENT_RC, not killed"
lpid=$(head -n 1 "$WORK/listen.out")
line=$(wait_json ".pid == $lpid and .probe == \"net_listen\"" 10) || fail "listener: no event"
[ "$(jq -r '.rules[0].by' <<< "$line")" = kernel ] || fail "listener: not killed by the kernel"
pass "net_listen: a listener killed in the kernel at its listen()"

"$PIDTREE_BIN" ctl --ctl-socket "$WORK/ctl.sock" stats > "$WORK/stats"
jq -s -e 'map(select(.probe == "tcp_connect"))[0] | .rule_hits >= 8 and .actions >= 5' "$WORK/stats" \
    >/dev/null || fail "stats: $(cat "$WORK/stats")"
pass "ctl stats counts the hits and the actions"
stop_daemon

# The daemon itself is never signalled: with -w it fetches its remote
# include every second, and a kernel kill rule matches that connect.
cat > "$WORK/remote.yml" <<'EOF'
tcp_connect:
  includeports: [46100-46149]
EOF
( cd "$WORK" && exec timeout 60 python3 -m http.server --bind 127.0.0.1 46110 ) \
    > "$WORK/http.log" 2>&1 &
HTTP=$!
for i in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:46110/remote.yml" && break
    sleep 0.1
done
mkdir -p "$WORK/rules-self"
cat > "$WORK/rules-self/self.yml" <<'EOF'
rules:
  - {name: kill-fetches, probes: [tcp_connect], match: {port: 46110}, action: kill}
EOF
remote=$(write_config remote-config.yml <<'EOF'
_remote: !include http://127.0.0.1:46110/remote.yml
tcp_connect:
  includeports: [46100-46149]
EOF
)
start_daemon "$remote" -w --health-check-period 1 --rules-dir "$WORK/rules-self" \
    --ctl-socket none
line=$(wait_json ".pid == $DAEMON_PID and .probe == \"tcp_connect\" and .port == 46110" 15) ||
    fail "the daemon's own fetch was not seen"
[ "$(jq -r '.rules[0].result' <<< "$line")" = protected ] ||
    fail "the daemon's connect is not marked protected: $line"
kill -0 "$DAEMON_PID" || fail "the daemon was killed by its own rule"
stop_daemon
kill "$HTTP" 2>/dev/null || true
pass "the daemon is never signalled, nor its connects refused: protected"

# A malformed rule: refused at start-up with its file and line.
cat > "$RULES/30-bad.yml" <<'EOF'
rules:
  - name: typo
    probes: [tcp_connect]
    match:
      port: 80
      dadr: 10.0.0.1
EOF
expect_exit 2 "$RULES/30-bad.yml:6: rules[0].match.dadr: probe 'tcp_connect' has no field 'dadr'" \
    "$PIDTREE_BIN" -c "$config" --rules-dir "$RULES" -f "$WORK/never.jsonl"
pass "a malformed rule is refused with its file, line and field (exit 2)"

finish
