# Sourced by the benchmark scripts, from the repository's top: one way to
# build the tools and to start the daemon under test.

# bench_tools: builds the daemon and the load tools in $BUILD (default
# build) and sets BIN, LOADGEN and LATENCY to them.
bench_tools() {
    BUILD=${BUILD:-build}
    cmake --build "$BUILD" --target pidtree-bcc loadgen line_latency > /dev/null
    BIN=$PWD/$BUILD/pidtree-bcc
    LOADGEN=$PWD/$BUILD/bench/loadgen
    LATENCY=$PWD/$BUILD/bench/line_latency
}

# bench_start_daemon CONFIG OUTPUT [ARGS...]: runs $BIN writing OUTPUT
# (with ARGS: bench/rules.sh's rules), its stderr in
# $WORK/daemon.err, and waits (at most 60 s) until its probes are attached.
# Sets DAEMON_PID and STARTUP_S (seconds from launch to attached); exits the
# calling script when the daemon dies or does not attach.
bench_start_daemon() {
    local t0 deadline
    t0=$(date +%s.%N)
    deadline=$((SECONDS + 60))
    "$BIN" -c "$1" -f "$2" "${@:3}" 2> "$WORK/daemon.err" &
    DAEMON_PID=$!
    until grep -q "attached in" "$WORK/daemon.err"; do
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/daemon.err" >&2; exit 1; }
        [ "$SECONDS" -lt "$deadline" ] || { echo "bench: daemon did not attach in 60 s" >&2; exit 1; }
        sleep 0.01
    done
    STARTUP_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')
}

# bench_stop_daemon: SIGTERM to $DAEMON_PID; exits the calling script when
# the daemon does not stop cleanly.
bench_stop_daemon() {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || { echo "bench: daemon exited $? on SIGTERM" >&2; exit 1; }
    DAEMON_PID=""
}

# The daemon's CPU time in clock ticks, and the kernel losses its stop
# summary in $WORK/daemon.err reports.
bench_cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
bench_kernel_lost() { awk '/events written/ {s += $(NF-4)} END {print s + 0}' "$WORK/daemon.err"; }
