#!/usr/bin/env bash
# bench/rules.sh: what rules cost and how fast they act (README, "Rules").
# As root: sudo bench/rules.sh (scripts/bench.sh may call it). Loopback
# only, ports 46200-46249.
#
#   - event to signal: a child's connect() to a port an interrupt rule
#     names, from just before the call to its SIGINT handler, for a kernel
#     rule (refused and signalled in the cgroup connect hook) and for a
#     daemon rule (the same rule with a tree condition);
#   - the daemon's cost per event of matching 0, 1, 10 and 100 rules
#     (bench/rules_eval: in-process, no kernel);
#   - the cost of kernel rules to connect(): one thread connecting as fast
#     as it can to a closed port (every connect reported) without rules,
#     with rules on and no kernel rule, and with 64 kernel rules that do
#     not match.
#
# Writes bench/results/rules.json and rules.md. RULES_BENCH_SECONDS (default
# 3) per rate run (three of each, alternated), RULES_BENCH_KILLS (default
# 200) per latency run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/rules.sh: run as root" >&2; exit 1; }
SECS=${RULES_BENCH_SECONDS:-3}
KILLS=${RULES_BENCH_KILLS:-200}
BUILD=${BUILD:-build}
cmake --build "$BUILD" --target pidtree-bcc rule_latency rules_eval > /dev/null
BIN=$PWD/$BUILD/pidtree-bcc
LAT=$PWD/$BUILD/bench/rule_latency
EVAL=$PWD/$BUILD/bench/rules_eval
WORK=$(mktemp -d /tmp/pidtree-bench-rules.XXXXXX)
DAEMON_PID=""
cleanup() {
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/config.yml" <<'EOF'
tcp_connect:
  includeports: [46200-46249]
EOF

source bench/daemon.sh

# start RULES_DIR|"": a daemon (rules on when a directory is given), until
# its probes are attached.
start() {
    local args=()
    [ -n "$1" ] && args=(--rules-dir "$1" --ctl-socket none)
    bench_start_daemon "$WORK/config.yml" /dev/null "${args[@]}"
}

stop() {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || true
    DAEMON_PID=""
}

mkdir -p "$WORK/latency" "$WORK/none" "$WORK/k64"
cat > "$WORK/latency/rules.yml" <<'EOF'
rules:
  - {name: kernel-signal, probes: [tcp_connect], match: {port: 46201}, action: interrupt}
  - {name: daemon-signal, probes: [tcp_connect], match: {port: 46202, ancestor: {pid: 1}},
     action: interrupt}
EOF
echo "rules: []" > "$WORK/none/rules.yml"
{
    echo "rules:"
    for i in $(seq 64); do
        echo "  - {name: k$i, probes: [tcp_connect], match: {port: 46230, uid: $((50000 + i))}, action: kill}"
    done
} > "$WORK/k64/rules.yml"

echo "bench/rules.sh: event to signal ($KILLS connects each)" >&2
start "$WORK/latency"
kernel=$("$LAT" signal 46201 "$KILLS")
daemon=$("$LAT" signal 46202 "$KILLS")
stop

echo "bench/rules.sh: matching cost in the daemon" >&2
eval_runs=$("$EVAL" | jq -s -c .)

echo "bench/rules.sh: connect() rate, $SECS s each" >&2
# The machine is shared: three rounds, alternated, and the median of each.
runs_off=() runs_on=() runs_k64=()
for round in 1 2 3; do
    start ""
    runs_off+=("$("$LAT" rate 46220 "$SECS")")
    stop
    start "$WORK/none"
    runs_on+=("$("$LAT" rate 46220 "$SECS")")
    stop
    start "$WORK/k64"
    runs_k64+=("$("$LAT" rate 46220 "$SECS")")
    stop
done
median() { printf '%s\n' "$@" | jq -s -c 'sort_by(.per_s) | .[1] + {runs: map(.per_s)}'; }
rate_off=$(median "${runs_off[@]}")
rate_on=$(median "${runs_on[@]}")
rate_k64=$(median "${runs_k64[@]}")

mkdir -p bench/results
jq -n --argjson kernel "$kernel" --argjson daemon "$daemon" --argjson eval "$eval_runs" \
    --argjson off "$rate_off" --argjson on "$rate_on" --argjson k64 "$rate_k64" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg kernel_release "$(uname -r)" --arg when "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{when: $when, commit: $commit, kernel: $kernel_release,
      event_to_signal: {kernel_rule: $kernel, daemon_rule: $daemon},
      daemon_matching: $eval,
      connect_rate: {no_rules: $off, rules_on_no_kernel_rule: $on, kernel_rules_64: $k64}}' \
    > bench/results/rules.json

{
    echo "Rules: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null), kernel $(uname -r), $(nproc) cores"
    echo
    echo "| connect() to signal handler ($KILLS connects) | p50 | p99 | max |"
    echo "| --- | --- | --- | --- |"
    for k in kernel daemon; do
        j=${!k}
        echo "| $k rule | $(jq -r '.p50_us' <<< "$j") us | $(jq -r '.p99_us' <<< "$j") us | $(jq -r '.max_us' <<< "$j") us |"
    done
    echo
    echo "| daemon rules per event (none match) | fields only (port, network) | mixed (also comm, cmdline, ancestor) |"
    echo "| --- | --- | --- |"
    for n in 0 1 10 100; do
        f=$(jq -r ".[] | select(.rules == $n and .kinds == \"fields\") | .ns_per_event" <<< "$eval_runs")
        m=$(jq -r ".[] | select(.rules == $n and .kinds == \"mixed\") | .ns_per_event" <<< "$eval_runs")
        echo "| $n | $f ns | $m ns |"
    done
    echo
    echo "| connect() to a closed port, one thread, every connect reported | connects/s (median) | runs |"
    echo "| --- | --- | --- |"
    echo "| no rules (no cgroup connect hook) | $(jq -r .per_s <<< "$rate_off") | $(jq -r '.runs | join(", ")' <<< "$rate_off") |"
    echo "| rules on, no kernel rule | $(jq -r .per_s <<< "$rate_on") | $(jq -r '.runs | join(", ")' <<< "$rate_on") |"
    echo "| 64 kernel rules, none matching | $(jq -r .per_s <<< "$rate_k64") | $(jq -r '.runs | join(", ")' <<< "$rate_k64") |"
} > bench/results/rules.md
cat bench/results/rules.md
