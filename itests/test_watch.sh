#!/usr/bin/env bash
# -w: a filter change in an included file is swapped in without a restart
# and without losing events; a broken edit is refused and the old config
# stays; a change that needs a restart restarts; SIGHUP restarts.
source "$(dirname "$0")/lib.sh"
require_root

cat > "$WORK/filters.yml" <<'YAML'
- network: 127.0.40.0/24
YAML
CONFIG=$(write_config watch.yml <<'YAML'
tcp_connect:
  filters: !include filters.yml
YAML
)
start_daemon "$CONFIG" -w
daemon=$DAEMON_PID

a=$(tcp_connect_to 127.0.40.1 7801)   # filtered by the first version
b=$(tcp_connect_to 127.0.41.1 7802)   # passes
wait_json ".pid == $b" >/dev/null || fail "event before the swap missing"
[ "$(count_json ".pid == $a")" -eq 0 ] || fail "127.0.40.1 not filtered initially"

# Swap: now 127.0.41.0/24 is filtered and 127.0.40.0/24 passes.
cat > "$WORK/filters.yml.new" <<'YAML'
- network: 127.0.41.0/24
YAML
mv "$WORK/filters.yml.new" "$WORK/filters.yml"
for i in $(seq 1 100); do grep -q "filters swapped" "$ERR" && break; sleep 0.1; done
grep -q "filters swapped" "$ERR" || fail "included file change not picked up"
c=$(tcp_connect_to 127.0.40.1 7803)
d=$(tcp_connect_to 127.0.41.1 7804)
wait_json ".pid == $c" >/dev/null || fail "127.0.40.1 still filtered after the swap"
[ "$(count_json ".pid == $d")" -eq 0 ] || fail "127.0.41.1 not filtered after the swap"
kill -0 "$daemon" || fail "daemon died during the swap"
pass "filters swapped from an included file without a restart"

# A broken edit is refused; the running filters stay.
echo "- network: 127.0.300.0/24" > "$WORK/filters.yml"
for i in $(seq 1 100); do grep -q "config change ignored" "$ERR" && break; sleep 0.1; done
grep -q "config change ignored.*filters.yml" "$ERR" || fail "broken edit not reported"
e=$(tcp_connect_to 127.0.41.1 7805)
f=$(tcp_connect_to 127.0.40.1 7806)
wait_json ".pid == $f" >/dev/null || fail "daemon stopped working after a broken edit"
[ "$(count_json ".pid == $e")" -eq 0 ] || fail "old filters lost after a broken edit"
pass "a broken edit is refused and the old filters stay"

# A change that cannot be swapped restarts the daemon (same pid: re-exec).
echo "- network: 127.0.41.0/24" > "$WORK/filters.yml"
cat > "$CONFIG" <<'YAML'
tcp_connect:
  filters: !include filters.yml
  attach: tracepoint
YAML
for i in $(seq 1 300); do [ "$(grep -c "attached in" "$ERR")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c "attached in" "$ERR")" -ge 2 ] || fail "no restart after a non-swappable change"
g=$(tcp_connect_to 127.0.42.1 7807)
wait_json ".pid == $g" >/dev/null || fail "no events after the restart"
pass "a non-swappable change restarts the daemon"

kill -HUP "$DAEMON_PID"
for i in $(seq 1 300); do [ "$(grep -c "attached in" "$ERR")" -ge 3 ] && break; sleep 0.1; done
[ "$(grep -c "attached in" "$ERR")" -ge 3 ] || fail "SIGHUP did not restart"
h=$(tcp_connect_to 127.0.42.1 7808)
wait_json ".pid == $h" >/dev/null || fail "no events after SIGHUP"
pass "SIGHUP restarts with the config re-read"
stop_daemon
finish
