#!/usr/bin/env bash
# The control socket against a running daemon (README, "The control
# socket"): ctl add, ls, rm, stats, trace; a malformed rule refused with
# its line and the rules in force untouched; add and rm while connects go
# on, none of their events lost; root only (the socket's mode, then the
# peer's credentials); -w re-reads the rules directory, and a bad edit
# leaves the rules in force. Ports 46150-46199 on loopback only.
source "$(dirname "$0")/lib.sh"
require_root

PEER="$(dirname "$0")/rules_peer.py"
SOCK="$WORK/run/ctl.sock"
RULES="$WORK/rules"
mkdir -p "$RULES"
ctl() { "$PIDTREE_BIN" ctl --ctl-socket "$SOCK" "$@"; }

config=$(write_config config.yml <<'EOF'
tcp_connect:
  includeports: [46150-46199]
EOF
)
cat > "$RULES/base.yml" <<'EOF'
rules:
  - {name: base-log, probe: tcp_connect, match: {port: 46151}}
EOF

start_daemon "$config" --rules-dir "$RULES" --ctl-socket "$SOCK" -w
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "the socket's mode is $(stat -c %a "$SOCK")"
[ "$(stat -c %a "$WORK/run")" = 700 ] || fail "the socket's directory's mode is not 700"
pass "the socket is 0600, in a directory the daemon made 0700"

# One connect to PORT; prints the client's pid.
connect_once() {
    python3 "$PEER" connect 127.0.0.1 "$1" 0 > "$WORK/once.out" 2>/dev/null || true
    head -n 1 "$WORK/once.out"
}

ctl ls > "$WORK/ls" || fail "ctl ls failed"
[ "$(jq -r .name "$WORK/ls")" = base-log ] || fail "ls: $(cat "$WORK/ls")"
[ "$(jq -r .source "$WORK/ls")" = rules-dir ] || fail "ls: source"
pass "ctl ls lists the rules directory's rule"

cat > "$WORK/added.yml" <<'EOF'
rules:
  - name: added-kill
    probes: [tcp_connect]
    match: {port: 46152}
    action: kill
  - name: added-tree
    probes: [tcp_connect]
    match: {port: 46153, ancestor: {pid: 1}}
EOF
ctl add "$WORK/added.yml" > "$WORK/add.out" || fail "ctl add failed"
grep -q "^added: added-kill added-tree$" "$WORK/add.out" || fail "add said: $(cat "$WORK/add.out")"
ctl ls > "$WORK/ls"
[ "$(jq -r 'select(.name == "added-kill") | .where' "$WORK/ls")" = kernel ] ||
    fail "added-kill is not in the kernel: $(cat "$WORK/ls")"
[ "$(jq -r 'select(.name == "added-tree") | .where' "$WORK/ls")" = daemon ] ||
    fail "added-tree is not the daemon's"
CLIENT_RC=0
python3 "$PEER" connect 127.0.0.1 46152 5 > /dev/null 2>&1 || CLIENT_RC=$?
[ "$CLIENT_RC" -eq 137 ] || fail "the added kill rule did not kill (exit $CLIENT_RC)"
pid=$(connect_once 46153)
line=$(wait_json ".pid == $pid" 10) || fail "no event for the tree rule's connect"
[ "$(jq -r '.rules[0].name' <<< "$line")" = added-tree ] || fail "the tree rule did not mark"
pass "ctl add: a kernel rule kills at once, a daemon rule marks, no restart"

# A malformed file: refused with its line; the rules in force stay.
cat > "$WORK/bad.yml" <<'EOF'
rules:
  - name: fine
    probes: [tcp_connect]
  - name: broken
    probes: [tcp_connect]
    match: {port: eighty}
EOF
expect_exit 1 "$WORK/bad.yml:6: rules[1].match.port: 'eighty' is not a number" ctl add "$WORK/bad.yml"
[ "$(ctl ls | wc -l)" -eq 3 ] || fail "a refused add changed the rules: $(ctl ls)"
ctl ls | jq -s -e 'any(.[]; .name == "fine")' > /dev/null && fail "half of a refused file was added"
pass "ctl add of a malformed file: refused with its line, the rules in force stay"

printf 'rules:\n  - {name: base-log, probe: tcp_connect}\n' > "$WORK/clash.yml"
expect_exit 1 "rule 'base-log' is defined in the rules directory" ctl add "$WORK/clash.yml"
expect_exit 1 "no rule named 'nope'" ctl rm added-kill nope
[ "$(ctl ls | wc -l)" -eq 3 ] || fail "a refused rm removed something"
ctl rm added-kill > "$WORK/rm.out" || fail "ctl rm failed"
grep -q "^removed: added-kill$" "$WORK/rm.out" || fail "rm said: $(cat "$WORK/rm.out")"
CLIENT_RC=0
python3 "$PEER" connect 127.0.0.1 46152 0 > /dev/null 2>&1 || CLIENT_RC=$?
[ "$CLIENT_RC" -eq 0 ] || fail "after rm the rule still kills (exit $CLIENT_RC)"
pass "ctl rm: all or nothing, and the kernel stops acting at once"

# trace: two clients with different filters get their lines, as written.
ctl trace port=46154 > "$WORK/trace1" &
T1=$!
ctl trace rule=added-tree > "$WORK/trace2" &
T2=$!
for i in $(seq 100); do
    [ "$(ctl stats | jq -s '.[-1].ctl.trace_clients')" = 2 ] && break
    sleep 0.05
done
a=$(connect_once 46154)
b=$(connect_once 46153)
wait_json ".pid == $b" 10 >/dev/null || fail "trace: no event"
for i in $(seq 100); do
    [ -s "$WORK/trace1" ] && [ -s "$WORK/trace2" ] && break
    sleep 0.05
done
kill "$T1" "$T2" 2>/dev/null || true
wait "$T1" "$T2" 2>/dev/null || true
[ "$(jq -r .pid "$WORK/trace1")" = "$a" ] || fail "trace port=46154: $(cat "$WORK/trace1")"
[ "$(jq -r .pid "$WORK/trace2")" = "$b" ] || fail "trace rule=added-tree: $(cat "$WORK/trace2")"
grep -qF "$(jq -c "select(.pid == $a)" "$OUT")" "$WORK/trace1" ||
    fail "trace's line differs from the output's"
pass "ctl trace: each client gets the lines its filters pass, as the output has them"

# add and rm while connects go on: every connect is written.
( trap - EXIT; exec python3 "$PEER" storm 127.0.0.1 46155 200 ) &
LOAD=$!
for i in $(seq 10); do
    ctl add "$WORK/added.yml" > /dev/null || fail "add under load failed"
    ctl rm added-kill > /dev/null || fail "rm under load failed"
done
wait "$LOAD"
for i in $(seq 100); do
    [ "$(count_json '.port == 46155')" -ge 200 ] && break
    sleep 0.1
done
[ "$(count_json '.port == 46155')" -eq 200 ] ||
    fail "add/rm under load: $(count_json '.port == 46155') of 200 connects written"
pass "20 changes during 200 connects: all 200 written"

ctl stats > "$WORK/stats"
jq -s -e 'map(select(.probe == "tcp_connect"))[0] | .events >= 205 and .rule_hits >= 3' \
    "$WORK/stats" > /dev/null || fail "stats: $(cat "$WORK/stats")"
pass "ctl stats: per-probe events and rule hits"

# Root only: a user cannot connect (the mode), nor talk once they can (the
# peer's credentials).
chmod 755 "$WORK/run"
expect_exit 1 "permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$PIDTREE_BIN" ctl --ctl-socket "$SOCK" ls
chmod 666 "$SOCK"
expect_exit 1 "permission denied: only root may use the control socket" setpriv --reuid=65534 \
    --regid=65534 --clear-groups "$PIDTREE_BIN" ctl --ctl-socket "$SOCK" ls
chmod 600 "$SOCK"
chmod 700 "$WORK/run"
[ "$(ctl stats | jq -s '.[-1].ctl.refused')" -ge 1 ] || fail "the refusal is not counted"
pass "a non-root client is refused: by the socket's mode, and by its credentials"

# -w: a good edit of the directory takes effect, a bad one is refused.
cat > "$RULES/more.yml" <<'EOF'
rules:
  - {name: dir-kill, probes: [tcp_connect], match: {port: 46156}, action: kill}
EOF
for i in $(seq 50); do
    ctl ls | jq -s -e 'any(.[]; .name == "dir-kill")' > /dev/null && break
    sleep 0.1
done
ctl ls | jq -s -e 'any(.[]; .name == "dir-kill")' > /dev/null || fail "-w: the new file not read"
cat > "$RULES/more.yml" <<'EOF'
rules:
  - {name: dir-kill, probes: [tcp_connect], match: {port: 46156}, action: detonate}
EOF
for i in $(seq 50); do
    grep -q "rules change refused" "$ERR" && break
    sleep 0.1
done
grep -q "rules change refused, the rules in force stay: $RULES/more.yml:2" "$ERR" ||
    fail "-w: a bad edit not refused with its line: $(tail -3 "$ERR")"
CLIENT_RC=0
python3 "$PEER" connect 127.0.0.1 46156 5 > /dev/null 2>&1 || CLIENT_RC=$?
[ "$CLIENT_RC" -eq 137 ] || fail "-w: after a bad edit the rule in force stopped acting"
pass "-w: the rules directory re-read; a bad edit refused, the rules in force stay"

# A restart (SIGHUP) keeps the rules: ctl's too, and the kernel ones act
# from the new probes' maps.
cat > "$RULES/more.yml" <<'EOF2'
rules:
  - {name: dir-kill, probes: [tcp_connect], match: {port: 46156}, action: kill}
EOF2
kill -HUP "$DAEMON_PID"
for i in $(seq 300); do
    grep -q "^pidtree-bcc: restarted" "$ERR" && break
    sleep 0.1
done
grep -q "^pidtree-bcc: restarted" "$ERR" || fail "SIGHUP: no restart"
ctl ls | jq -s -e 'any(.[]; .name == "added-tree" and .source == "ctl")' > /dev/null ||
    fail "SIGHUP: the ctl rule is gone: $(ctl ls)"
CLIENT_RC=0
python3 "$PEER" connect 127.0.0.1 46156 5 > /dev/null 2>&1 || CLIENT_RC=$?
[ "$CLIENT_RC" -eq 137 ] || fail "SIGHUP: the kernel rule no longer acts (exit $CLIENT_RC)"
pass "a SIGHUP restart keeps the rules in force, ctl's too"

stop_daemon
[ ! -e "$SOCK" ] || fail "the socket is left behind"
pass "the socket is removed on the way out"
finish
