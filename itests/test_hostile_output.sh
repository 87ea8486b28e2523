#!/usr/bin/env bash
# Hostile places and broken outputs: -f refuses a symlink or a file another
# user planted; new files are 0600; a full disk leaves whole lines only and
# counts what it could not write; a stopped FIFO reader does not keep
# SIGTERM from working.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config out.yml <<'YAML'
tcp_connect: {}
YAML
)

# expect_refused PATH WHY: the daemon must exit non-zero naming WHY.
expect_refused() {
    local rc=0
    timeout 60 "$PIDTREE_BIN" -c "$CONFIG" -f "$1" 2> "$ERR" || rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "-f $1 accepted (exit $rc)"
    grep -q "$2" "$ERR" || fail "-f $1: no reason '$2': $(cat "$ERR")"
}

# The kernel's own guards (fs.protected_symlinks, protected_regular) would
# hide what the daemon does: they are off while the test plants, as on a
# host that has them off.
sym_was=$(sysctl -n fs.protected_symlinks)
reg_was=$(sysctl -n fs.protected_regular)
restore_sysctl() { sysctl -qw fs.protected_symlinks="$sym_was" fs.protected_regular="$reg_was"; }
trap 'rc=$?; restore_sysctl; (exit $rc); cleanup' EXIT
sysctl -qw fs.protected_symlinks=0 fs.protected_regular=0
# A symlink in /tmp planted by nobody, pointing at a root file.
echo "precious" > "$WORK/victim"
link=/tmp/pidtree-planted-link.$$
planted=/tmp/pidtree-planted-file.$$
rm -f "$link" "$planted"
runuser -u nobody -- ln -s "$WORK/victim" "$link"
expect_refused "$link" "symlink"
rm -f "$link"
[ "$(cat "$WORK/victim")" = "precious" ] || fail "the symlink's target was written"
pass "-f refuses a symlink planted by another user; the target is untouched"

runuser -u nobody -- touch "$planted"
expect_refused "$planted" "owned by uid"
[ ! -s "$planted" ] || fail "a file planted by nobody was written"
rm -f "$planted"
pass "-f refuses a file another user owns in a shared directory"
restore_sysctl

mkdir "$WORK/open"; chmod 0777 "$WORK/open"
expect_refused "$WORK/open/out.jsonl" "without the sticky"
pass "-f refuses a directory others can write to without the sticky bit"

rm -f "$WORK/new.jsonl"
"$PIDTREE_BIN" -c "$CONFIG" -f "$WORK/new.jsonl" 2> "$ERR" &
DAEMON_PID=$!
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
[ "$(stat -c %a "$WORK/new.jsonl")" = 600 ] || fail "new output file is $(stat -c %a "$WORK/new.jsonl")"
stop_daemon
pass "a new output file is created 0600"

# A full disk: a 64 KiB tmpfs holding a line an earlier run cut short.
mkdir "$WORK/small"
mount -t tmpfs -o size=64k tmpfs "$WORK/small"
trap 'rc=$?; umount "$WORK/small" 2>/dev/null; restore_sysctl; (exit $rc); cleanup' EXIT
small=$WORK/small/out.jsonl
printf '{"cut short' > "$small"
"$PIDTREE_BIN" -c "$CONFIG" -f "$small" 2> "$ERR" &
DAEMON_PID=$!
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
grep -q "attached in" "$ERR" || fail "daemon did not start on the small disk"
for i in $(seq 1 300); do
    bash -c 'exec 3<>/dev/tcp/127.0.0.8/7601' 2>/dev/null || true
done
for i in $(seq 1 50); do grep -q "output stalled" "$ERR" && break; sleep 0.1; done
grep -q "output stalled (No space left on device)" "$ERR" || fail "full disk not reported"
kill -0 "$DAEMON_PID" || fail "the daemon died of a full disk"
stop_daemon
[ "$(head -n 1 "$small")" = '{"cut short' ] || fail "the earlier cut line was not ended"
[ "$(tail -c 1 "$small" | od -An -c | tr -d ' ')" = '\n' ] || fail "file does not end in a newline"
lines=0
while IFS= read -r l; do
    lines=$((lines + 1))
    [ $lines -eq 1 ] && continue
    printf '%s' "$l" | jq -e . >/dev/null || fail "invalid line $lines on the full disk: ${l:0:100}"
done < "$small"
written=$(sed -n "s/.*probe 'tcp_connect': \([0-9]*\) events written, \([0-9]*\) unwritten.*/\1/p" "$ERR")
unwritten=$(sed -n "s/.*probe 'tcp_connect': \([0-9]*\) events written, \([0-9]*\) unwritten.*/\2/p" "$ERR")
[ "$written" -eq $((lines - 1)) ] || fail "events written says $written, the file has $((lines - 1))"
[ "$unwritten" -gt 0 ] || fail "no unwritten events counted on a full disk"
pass "a full disk: whole lines only, $written written and $unwritten counted unwritten"
umount "$WORK/small"

# A FIFO whose reader is stopped: SIGTERM still stops the daemon promptly.
mkfifo "$WORK/fifo"
cat "$WORK/fifo" > /dev/null &
reader=$!
"$PIDTREE_BIN" -c "$CONFIG" -f "$WORK/fifo" 2> "$ERR" &
DAEMON_PID=$!
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
kill -STOP "$reader"
big=$(head -c 3000 /dev/zero | tr '\0' 'B')
for i in $(seq 1 100); do
    bash -c 'exec 3<>/dev/tcp/127.0.0.8/7602' "$big" 2>/dev/null || true
done
sleep 1
kill -TERM "$DAEMON_PID"
for i in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -CONT "$reader"
    fail "SIGTERM ignored while the FIFO reader is stopped"
fi
rc=0; wait "$DAEMON_PID" || rc=$?; DAEMON_PID=""
kill -CONT "$reader"; kill "$reader" 2>/dev/null || true
[ $rc -eq 0 ] || fail "exit $rc after SIGTERM with a stopped reader"
grep -q "could not be written" "$ERR" || fail "unwritten lines not reported"
pass "SIGTERM stops the daemon within 10 s while the FIFO reader is stopped"
finish
