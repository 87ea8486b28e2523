# Shared helpers for the integration tests: run the real daemon as root
# against the running kernel and check the JSON lines it writes.
#
# Traffic goes only to 127.0.0.0/8, ::1, or the network namespace a test
# creates (198.51.100.0/24 behind a veth pair). Every wait is bounded.
set -euo pipefail

: "${PIDTREE_BIN:?PIDTREE_BIN must point at the pidtree-bcc binary}"
: "${PIDTREE_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
source "$PIDTREE_SOURCE_DIR/scripts/netns.sh"

TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/pidtree-${TEST_NAME}.XXXXXX")
chmod 755 "$WORK"
OUT="$WORK/out.jsonl"
ERR="$WORK/err.log"
DAEMON_PID=""
NETNS=""
CHECKS=0

cleanup() {
    local rc=$?
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    # Background helpers (listeners) must not outlive a failed test.
    local job
    for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
    if [ -n "$NETNS" ]; then
        netns_delete "$NETNS"
    fi
    if [ $rc -ne 0 ]; then
        echo "--- daemon stderr ($ERR)"; tail -n 40 "$ERR" 2>/dev/null || true
        echo "--- daemon output ($OUT)"; tail -n 20 "$OUT" 2>/dev/null || true
        echo "FAIL: $TEST_NAME"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }

require_root() {
    [ "$(id -u)" -eq 0 ] || fail "integration tests run the daemon and need root (sudo)"
}

# start_daemon CONFIG [extra args...]: runs the daemon writing to $OUT and
# waits (at most 60 s) until its probes are attached.
start_daemon() {
    local config=$1; shift
    : > "$OUT"; : > "$ERR"
    "$PIDTREE_BIN" -c "$config" -f "$OUT" "$@" 2> "$ERR" &
    DAEMON_PID=$!
    # Under software emulation (the QEMU kernel matrix) a compile takes
    # minutes, not a second: PIDTREE_ATTACH_TIMEOUT stretches the wait.
    local i limit=$((${PIDTREE_ATTACH_TIMEOUT:-60} * 10))
    for i in $(seq 1 "$limit"); do
        grep -q "attached in" "$ERR" && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon exited during start-up: $(cat "$ERR")"
        sleep 0.1
    done
    fail "daemon did not attach within ${PIDTREE_ATTACH_TIMEOUT:-60} s"
}

# stop_daemon: SIGTERM; the daemon must exit 0.
stop_daemon() {
    kill -TERM "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=""
    [ $rc -eq 0 ] || fail "daemon exited $rc on SIGTERM"
}

# wait_json JQ_FILTER [TIMEOUT_S]: waits until a line of $OUT satisfies the
# jq boolean filter; prints the first such line.
wait_json() {
    local filter=$1 timeout=${2:-15} i line
    for i in $(seq 1 $((timeout * 10))); do
        line=$(jq -c "select($filter)" "$OUT" 2>/dev/null | head -n 1)
        if [ -n "$line" ]; then printf '%s\n' "$line"; return 0; fi
        sleep 0.1
    done
    return 1
}

# wait_swap: waits (at most 10 s) until -w says it swapped a change in
# without a restart; fails the test otherwise.
wait_swap() {
    local i
    for i in $(seq 1 100); do grep -q "filters swapped" "$ERR" && return 0; sleep 0.1; done
    fail "config change not swapped: $(tail -n 3 "$ERR")"
}

# count_json JQ_FILTER: how many lines satisfy the filter now.
count_json() {
    jq -c "select($1)" "$OUT" | wc -l
}

# tcp_connect_to HOST PORT: one connection attempt from a bash process
# (refused or not); prints that process's pid.
tcp_connect_to() {
    local host=$1 port=$2
    bash -c 'echo $$; exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null || true
}

# make_netns: the test host 198.51.100.2 in a namespace (scripts/netns.sh).
# Sets $NETNS.
make_netns() {
    NETNS="pt$$"
    netns_create "$NETNS"
}

# write_config NAME <<EOF ... EOF: writes a config file into $WORK.
write_config() {
    cat > "$WORK/$1"
    echo "$WORK/$1"
}

finish() {
    echo "$CHECKS passed, 0 failed"
}

# sock ACTION ARGS...: runs itests/sock.py; prints its pid (first line).
sock() {
    # An action that is meant to fail (a listen on a taken port) still
    # prints its pid first; its exit status is not the test's.
    { python3 "$(dirname "${BASH_SOURCE[0]}")/sock.py" "$@" 2>/dev/null || true; } | head -n 1
}

# expect_exit STATUS STDERR_SUBSTRING CMD...: runs CMD (stdout to
# $WORK/stdout, stderr to $WORK/stderr) and checks its exit status and
# that stderr says what it should.
expect_exit() {
    local want=$1 msg=$2; shift 2
    local rc=0
    "$@" > "$WORK/stdout" 2> "$WORK/stderr" || rc=$?
    [ $rc -eq "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$WORK/stderr")"
    grep -qF -- "$msg" "$WORK/stderr" || fail "'$*': stderr lacks '$msg': $(cat "$WORK/stderr")"
}

# expect_filtered LABEL FILTERED_HOST PASSING_HOST PORT: one connection to
# each (PORT and PORT+1); the second must be reported, the first not.
expect_filtered() {
    local a b
    a=$(tcp_connect_to "$2" "$4")
    b=$(tcp_connect_to "$3" $(($4 + 1)))
    wait_json ".pid == $b" >/dev/null || fail "$1: $3 not reported"
    [ "$(count_json ".pid == $a")" -eq 0 ] || fail "$1: $2 not filtered"
    pass "$1"
}
