#!/usr/bin/env bash
# Restarts and the compiler: a restart (SIGHUP, or a -w change that needs
# one) whose config then fails to start leaves the daemon running the old
# one; a restart that works loses no event and writes none twice; a killed
# compiler is named as the reason.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config restart.yml <<'YAML'
tcp_connect: {}
YAML
)
start_daemon "$CONFIG" -w
daemon=$DAEMON_PID

# wait_log N PATTERN: until PATTERN occurs N times in $ERR (30 s at most).
wait_log() {
    local i
    for i in $(seq 1 300); do
        [ "$(grep -c -- "$2" "$ERR")" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# Parses, but cannot start: a plugin that does not exist.
cat > "$WORK/bad-start.yml" <<'YAML'
tcp_connect:
  plugins:
    nosuchplugin:
      enabled: true
YAML
cp "$WORK/bad-start.yml" "$CONFIG.new"; mv "$CONFIG.new" "$CONFIG"
wait_log 1 "restart failed: still running the previous configuration" ||
    fail "-w restart with a config that cannot start: no 'restart failed'"
kill -0 "$daemon" 2>/dev/null || fail "the daemon died of a -w restart that failed"
a=$(tcp_connect_to 127.0.0.9 7701)
wait_json ".pid == $a" >/dev/null || fail "no events after a failed -w restart"
pass "a -w change that cannot start keeps the old configuration running"

kill -HUP "$daemon"
wait_log 2 "restart failed: still running the previous configuration" ||
    fail "SIGHUP with a config that cannot start: no 'restart failed'"
kill -0 "$daemon" 2>/dev/null || fail "the daemon died of a SIGHUP restart that failed"
b=$(tcp_connect_to 127.0.0.9 7702)
wait_json ".pid == $b" >/dev/null || fail "no events after a failed SIGHUP restart"
pass "SIGHUP with a config that cannot start keeps the old configuration running"

# Does not parse at all: SIGHUP (a -w edit is refused before any restart).
printf 'tcp_connect: [unclosed\n' > "$CONFIG.new"; mv "$CONFIG.new" "$CONFIG"
sleep 1.5
kill -HUP "$daemon"
wait_log 3 "restart failed: still running the previous configuration" ||
    fail "SIGHUP with a config that does not parse: no 'restart failed'"
c=$(tcp_connect_to 127.0.0.9 7703)
wait_json ".pid == $c" >/dev/null || fail "no events after a SIGHUP with a broken config"
pass "SIGHUP with a config that does not parse keeps the old configuration running"

# A restart that works: connections made all through it are each written
# exactly once.
printf 'tcp_connect: {}\n' > "$CONFIG.new"; mv "$CONFIG.new" "$CONFIG"
sleep 1.5
attached=$(grep -c "attached in" "$ERR")
: > "$WORK/pids"
(
    for i in $(seq 1 150); do
        tcp_connect_to 127.0.0.10 $((7800 + i % 100)) >> "$WORK/pids"
        sleep 0.03
    done
) &
loop=$!
sleep 0.5
kill -HUP "$daemon"
wait_log $((attached + 1)) "attached in" || fail "SIGHUP did not restart"
wait "$loop"
grep -q "restarted: the old probes stayed attached" "$ERR" || fail "no handover reported"
sleep 1
missing=0; twice=0
while read -r p; do
    n=$(count_json ".pid == $p and .probe == \"tcp_connect\"")
    [ "$n" -eq 0 ] && missing=$((missing + 1))
    [ "$n" -gt 1 ] && twice=$((twice + 1))
done < "$WORK/pids"
[ "$missing" -eq 0 ] || fail "$missing of $(wc -l < "$WORK/pids") connections made during the restart missing"
[ "$twice" -eq 0 ] || fail "$twice connections written twice across the restart"
kill -0 "$daemon" || fail "daemon gone after the restart"
pass "$(wc -l < "$WORK/pids") connections during a SIGHUP restart: none missing, none twice"
stop_daemon

# A compiler that is killed: the error says so.
mkdir "$WORK/bin"
cp "$PIDTREE_BIN" "$WORK/bin/pidtree-bcc"
printf '#!/bin/sh\nkill -KILL $$\n' > "$WORK/bin/pidtree-bcc-compile"
chmod 755 "$WORK/bin/pidtree-bcc-compile"
rc=0
timeout 60 "$WORK/bin/pidtree-bcc" -c "$CONFIG" -f "$OUT" 2> "$ERR" || rc=$?
[ $rc -eq 1 ] || fail "killed compiler: exit $rc, expected 1"
grep -q "cannot load the eBPF programs: .*killed by signal 9" "$ERR" ||
    fail "killed compiler: no reason given: $(cat "$ERR")"
pass "a killed compiler is reported with its signal"
finish
