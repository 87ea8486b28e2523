#!/usr/bin/env bash
# Output: a FIFO works; command lines with any bytes give valid JSON and are
# bounded; lines captured before SIGTERM are all written.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config out.yml <<'YAML'
tcp_connect: {}
YAML
)

# Hostile command lines: newline, quotes, backslash, invalid UTF-8, control
# bytes, and one 100 KB argument.
start_daemon "$CONFIG"
big=$(head -c 100000 /dev/zero | tr '\0' 'A')
# Each process stays a second after connecting, so its full command line
# can be read from /proc (the kernel captures at most 4 KB of arguments).
pid1=$(bash -c 'echo $$; : 3<>/dev/tcp/127.0.0.4/7301; sleep 1' $'line1\nline2 "q" \\ \x01' 2>/dev/null || true)
pid2=$(bash -c 'echo $$; : 3<>/dev/tcp/127.0.0.4/7302; sleep 1' $'bad\xff\xfeutf8 \xc3\x28' 2>/dev/null || true)
pid3=$(bash -c 'echo $$; : 3<>/dev/tcp/127.0.0.4/7303; sleep 1' "$big" 2>/dev/null || true)
wait_json ".pid == $pid3" >/dev/null || fail "no event for the 100 KB command line"
while IFS= read -r l; do
    printf '%s' "$l" | jq -e . >/dev/null || fail "invalid JSON line: ${l:0:200}"
done < "$OUT"
pass "every line is valid JSON"
wait_json ".pid == $pid1" | jq -e '.proctree[0].cmdline | contains("line1\nline2 \"q\" \\")' \
    >/dev/null || fail "newline/quotes not preserved"
pass "newlines, quotes and backslashes survive"
wait_json ".pid == $pid2" | jq -e '.proctree[0].cmdline | contains("bad\ufffd\ufffdutf8")' \
    >/dev/null || fail "invalid UTF-8 not replaced"
pass "invalid UTF-8 becomes U+FFFD"
# Command lines are bounded (4 KiB): the entry says it was cut.
wait_json ".pid == $pid3" | jq -e '.proctree[0] | (.cmdline | length) <= 4096 and
    (.cmdline | length) > 4000 and .truncated == true' >/dev/null ||
    fail "100 KB argument not cut to 4 KiB with truncated: true"
wait_json ".pid == $pid1" | jq -e '.proctree[0] | has("truncated") | not' >/dev/null ||
    fail "a short command line is marked truncated"
pass "a 100 KB argument is cut to 4 KiB and marked truncated"
stop_daemon

# A FIFO as the output: lines arrive through it, and a burst made right
# before SIGTERM is written in full before the daemon exits.
mkfifo "$WORK/fifo"
cat "$WORK/fifo" > "$WORK/fifo.out" &
reader=$!
"$PIDTREE_BIN" -c "$CONFIG" -f "$WORK/fifo" 2> "$ERR" &
DAEMON_PID=$!
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
grep -q "attached in" "$ERR" || fail "daemon did not attach with a FIFO output"
pids=()
for i in $(seq 1 50); do pids+=("$(tcp_connect_to 127.0.0.5 $((7400 + i)))"); done
sleep 0.5
stop_daemon
wait $reader
for p in "${pids[@]}"; do
    # jq -e reports on the last input only: slurp and ask about all.
    jq -se "any(.[]; .pid == $p)" "$WORK/fifo.out" >/dev/null || fail "event for $p missing from FIFO"
done
pass "all 50 events came through the FIFO before a clean exit"

# The reader going away is a runtime failure: exit 1, with the reason.
rm -f "$WORK/fifo"; mkfifo "$WORK/fifo"
head -c 1 "$WORK/fifo" > /dev/null &
"$PIDTREE_BIN" -c "$CONFIG" -f "$WORK/fifo" 2> "$ERR" &
DAEMON_PID=$!
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
for i in $(seq 1 20); do tcp_connect_to 127.0.0.5 7500 >/dev/null; sleep 0.1;
    kill -0 "$DAEMON_PID" 2>/dev/null || break; done
rc=0; wait "$DAEMON_PID" || rc=$?; DAEMON_PID=""
[ $rc -eq 1 ] || fail "broken FIFO: exit $rc, expected 1"
grep -q "cannot write to the output" "$ERR" || fail "broken FIFO: no reason given"
pass "a reader that goes away stops the daemon with status 1"
finish
