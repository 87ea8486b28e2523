#!/usr/bin/env bash
# A local user's flood: nobody runs a 40-deep chain of shells, each with a
# 120 KB argument, making 2,000 connections. Lines stay within 64 KiB and
# say they were cut; nobody's events beyond the per-user budget are dropped
# and reported in rate_limited lines; another user's events are all
# written. Under a sustained storm, SIGTERM takes effect promptly.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config flood.yml <<'YAML'
tcp_connect: {}
YAML
)
NEST="$(dirname "$0")/nest.sh"
cp "$NEST" "$WORK/nest.sh"; chmod 755 "$WORK/nest.sh"
start_daemon "$CONFIG"

big=$(head -c 120000 /dev/zero | tr '\0' 'F')
runuser -u nobody -- bash "$WORK/nest.sh" 40 2000 127.0.0.11 "$big" &
flood=$!
: > "$WORK/pids"
for i in $(seq 1 40); do
    tcp_connect_to 127.0.0.12 $((7900 + i)) >> "$WORK/pids"
    sleep 0.05
done
wait "$flood" || true # the last attempt was refused
for p in $(cat "$WORK/pids"); do
    wait_json ".pid == $p" 60 >/dev/null || fail "root's event (pid $p) missing during the flood"
done
pass "all 40 of root's events written during nobody's flood"

longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$OUT")
[ "$longest" -le 65536 ] || fail "a line of $longest bytes (bound: 65536)"
flood_line=$(wait_json '.daddr == "127.0.0.11"') || fail "no event of the flood written"
printf '%s' "$flood_line" | jq -e '.truncated == true and .proctree[0].truncated == true and
    (.proctree[0].cmdline | length) <= 4096 and .proctree[-1].pid == 1' >/dev/null ||
    fail "the flood's line does not say it was cut, or lost the root of its tree"
pass "lines within 64 KiB (longest $longest bytes), cut trees marked truncated, root kept"

wait_json '.type == "rate_limited" and .username == "nobody" and .dropped > 0' 5 >/dev/null ||
    fail "no rate_limited line for nobody"
dropped=$(jq -s '[.[] | select(.type == "rate_limited" and .uid == 65534) | .dropped] | add' "$OUT")
written=$(count_json '.daddr == "127.0.0.11"')
lost=$(grep -o "probe 'tcp_connect'.*" "$ERR" || true)
[ $((dropped + written)) -le 2000 ] || fail "more flood events than connections"
pass "nobody's flood: $written written, $dropped dropped and reported per user"
stop_daemon
grep -q "rate-limited" "$ERR" || fail "rate-limited events not in the stats"

# A storm that keeps the ring buffer full: SIGTERM within 5 s.
start_daemon "$CONFIG"
storm=()
for i in 1 2 3 4; do
    timeout 30 bash -c 'for ((;;)); do { : 3<>/dev/tcp/127.0.0.13/7998; } 2>/dev/null; done' &
    storm+=($!)
done
sleep 3
kill -TERM "$DAEMON_PID"
for i in $(seq 1 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
alive=0; kill -0 "$DAEMON_PID" 2>/dev/null && alive=1
kill "${storm[@]}" 2>/dev/null || true
wait "${storm[@]}" 2>/dev/null || true
[ $alive -eq 0 ] || fail "SIGTERM not handled within 5 s of a storm"
rc=0; wait "$DAEMON_PID" || rc=$?; DAEMON_PID=""
[ $rc -eq 0 ] || fail "exit $rc after SIGTERM during a storm"
pass "SIGTERM during a storm stops the daemon within 5 s"
finish
