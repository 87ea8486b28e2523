#!/usr/bin/env bash
# The benchmark (`sudo make bench`): every scenario in one run, the workload
# alone and with the daemon attached, on this machine. Prints a markdown
# table and writes bench/results/latest.{json,md}. Benchmarks are not tests:
# the exit status is 0 whether or not a target is met, non-zero only when
# something broke (the daemon did not start, a tool is missing).
#
# Traffic goes only to 127.0.0.0/8 and a network namespace made here
# (198.51.100.2 behind a veth). Every run is bounded in time and count.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/daemon.sh
ROOT=$PWD
SECS=${BENCH_SECONDS:-5}     # per workload run
SOAK=${BENCH_SOAK:-60}       # RSS flatness run; 600 for the 10-minute target
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }

bench_tools
WORK=$(mktemp -d /tmp/pidtree-bench.XXXXXX)
NETNS=ptbench$$
DAEMON_PID=""
RESULTS=$WORK/results.jsonl

cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    netns_delete "$NETNS"
    rm -rf "$WORK"
}
trap cleanup EXIT

source scripts/netns.sh
netns_create "$NETNS"

config() { # config NAME BODY: writes $WORK/NAME.yml
    printf '%s\n' "$2" > "$WORK/$1.yml"
    echo "$WORK/$1.yml"
}
# Extra daemon arguments of `measured` (the floors' --extra-probe-path).
DAEMON_ARGS=()
CFG_TCP=$(config tcp 'tcp_connect: {}')
# Every built-in probe, for start-up and memory.
CFG_ALL=$(config all 'tcp_connect: {}
net_listen: {protocols: [tcp, udp]}
udp_session: {}
exec: {}
bashreadline: {}
tcp_accept: {}
file_open: {}')
# Every probe that needs no syscall tracepoint configured, every destination
# of the workloads filtered: what the daemon costs the traffic it is told to
# ignore, and work it has no interest in at all. The exec workload's own
# binary is excluded by name (the lifecycle record is sent for the trees
# all the same).
FILTERED_NETS='[{network: 127.0.0.0/8}, {network: 198.51.100.0/24}, {network: "::1/128"}]'
FILTERED_BODY="tcp_connect: {filters: $FILTERED_NETS}
net_listen: {protocols: [tcp, udp], filters: $FILTERED_NETS}
udp_session: {filters: $FILTERED_NETS}
exec: {exclude_filenames: [/bin/true, /usr/bin/true]}
bashreadline: {}"
CFG_ALL_FILTERED=$(config all_filtered "$FILTERED_BODY")
# And with the two probes that can only hook syscall tracepoints here
# (tcp_accept, file_open): attaching any puts every syscall on the host on
# the kernel's slow path, which is what these rows measure. file_open
# includes only a directory nothing opens.
mkdir -p "$WORK/nothing"
CFG_EVERY_FILTERED=$(config every_filtered "$FILTERED_BODY
tcp_accept: {filters: $FILTERED_NETS}
file_open: {include_paths: [$WORK/nothing/]}")

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status"; }

# measured NAME CONFIG LOADGEN_ARGS...: runs the workload with the daemon
# and records rate, events, loss, CPU and memory as one JSON object.
measured() {
    local name=$1 cfg=$2; shift 2
    local out=$WORK/$name.jsonl t0 t1 c0 c1 run hz
    bench_start_daemon "$cfg" "$out" "${DAEMON_ARGS[@]}"
    c0=$(bench_cpu_ticks); t0=$(date +%s.%N)
    run=$("$LOADGEN" "$@" -d "$SECS")
    sleep 0.5 # let the last events drain before reading CPU
    c1=$(bench_cpu_ticks); t1=$(date +%s.%N); hz=$(getconf CLK_TCK)
    local hwm; hwm=$(hwm_kb)
    bench_stop_daemon
    jq -n --arg name "$name" --argjson run "$run" \
        --argjson events "$(wc -l < "$out")" --argjson lost "$(bench_kernel_lost)" \
        --argjson cpu "$(awk -v c="$((c1 - c0))" -v hz="$hz" -v t="$(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" 'BEGIN {print c / hz / t}')" \
        --argjson hwm "$hwm" --argjson startup "$STARTUP_S" \
        --argjson cpu_s "$(awk -v c="$((c1 - c0))" -v hz="$hz" 'BEGIN {print c / hz}')" \
        '{scenario: $name, rate: $run.rate, generated: $run.count, events: $events,
          lost_kernel: $lost, daemon_cpu: $cpu, daemon_cpu_s: $cpu_s,
          daemon_us_per_event: (if $events > 0 then $cpu_s * 1e6 / $events else null end),
          workload_cpu_us_per_unit: $run.cpu_us_per_unit,
          peak_rss_mb: ($hwm / 1024), startup_s: $startup}' >> "${OUT_JSON:-$RESULTS}"
}

baseline() { # baseline NAME LOADGEN_ARGS...: the workload alone
    local name=$1; shift
    jq -n --arg name "$name" --argjson run "$("$LOADGEN" "$@" -d "$SECS")" \
        '{scenario: $name, rate: $run.rate, generated: $run.count,
          workload_cpu_us_per_unit: $run.cpu_us_per_unit}' >> "${OUT_JSON:-$RESULTS}"
}

# paired NAME CONFIG LOADGEN_ARGS...: the workload alone and with the daemon
# on CONFIG, alternated $PAIRS times (default 5). The ratio of each pair
# (rate with / rate alone) is kept; the median and the spread (min, max)
# are reported: this machine's rate drifts by a few per cent between runs,
# more than the overhead being measured, and alternating cancels the drift.
PAIRS=${BENCH_PAIRS:-5}
paired() {
    local name=$1 cfg=$2 i
    shift 2
    OUT_JSON=$WORK/trials.jsonl
    : > "$OUT_JSON"
    for i in $(seq "$PAIRS"); do
        baseline "${name}_alone" "$@"
        measured "${name}_with" "$cfg" "$@"
    done
    unset OUT_JSON
    jq -s --arg s "$name" '
        def median: sort | .[(length - 1) / 2 | floor];
        [.[] | select(.scenario == $s + "_alone") | .rate] as $a |
        [.[] | select(.scenario == $s + "_with")] as $w |
        [range($a | length) | $w[.].rate / $a[.]] as $r |
        [.[] | select(.scenario == $s + "_alone") | .workload_cpu_us_per_unit] as $ac |
        [range($ac | length) | $ac[.] / $w[.].workload_cpu_us_per_unit] as $cr |
        {scenario: ($s + "_overhead"), pairs: ($r | length), ratios: $r,
         ratio_median: ($r | median), ratio_min: ($r | min), ratio_max: ($r | max),
         cpu_ratio_median: ($cr | median), cpu_ratio_min: ($cr | min), cpu_ratio_max: ($cr | max),
         rate_alone_median: ($a | median), rate_with_median: ([$w[].rate] | median),
         events_with: ([$w[].events] | add), lost_kernel: ([$w[].lost_kernel] | add)}' \
        "$WORK/trials.jsonl" >> "$RESULTS"
}

echo "== start-up with every built-in probe ($PAIRS times)" >&2
for i in $(seq "$PAIRS"); do
    bench_start_daemon "$CFG_ALL" /dev/null
    sleep 1
    jq -n --argjson s "$STARTUP_S" --argjson rss "$(rss_kb)" \
        '{startup_s: $s, rss_mb: ($rss / 1024)}' >> "$WORK/startups.jsonl"
    bench_stop_daemon
done
jq -s 'def median: sort | .[(length - 1) / 2 | floor];
    {scenario: "startup_all_probes", runs: length, startup_s: ([.[].startup_s] | median),
     startup_min_s: ([.[].startup_s] | min), startup_max_s: ([.[].startup_s] | max),
     rss_after_start_mb: ([.[].rss_mb] | median)}' "$WORK/startups.jsonl" >> "$RESULTS"

echo "== overhead, every probe configured, every destination filtered ($PAIRS pairs each)" >&2
paired connect_loopback "$CFG_ALL_FILTERED" connect 127.0.0.1 9
paired connect_netns "$CFG_ALL_FILTERED" connect 198.51.100.2 9
paired established "$CFG_ALL_FILTERED" established 127.0.0.1 9920
paired udp "$CFG_ALL_FILTERED" udp 127.0.0.1 9
echo "== overhead on unrelated work ($PAIRS pairs each)" >&2
paired open "$CFG_ALL_FILTERED" open
paired pipe "$CFG_ALL_FILTERED" pipe
paired forkexec "$CFG_ALL_FILTERED" forkexec
echo "== the same with tcp_accept and file_open too ($PAIRS pairs each)" >&2
paired every_established "$CFG_EVERY_FILTERED" established 127.0.0.1 9920
paired every_udp "$CFG_EVERY_FILTERED" udp 127.0.0.1 9
paired every_open "$CFG_EVERY_FILTERED" open
paired every_pipe "$CFG_EVERY_FILTERED" pipe
paired every_forkexec "$CFG_EVERY_FILTERED" forkexec
echo "== floors: the hooks alone, their programs returning at once ($PAIRS pairs each)" >&2
# What udp_session costs the UDP storm, and what its hooks cost with
# programs that do nothing (bench/floor/udp_hooks): the part no program
# can win back. Likewise one syscall tracepoint (bench/floor/syscall_hooks)
# under the open storm: the traced path tcp_accept and file_open put every
# syscall on.
paired floor_udp_session "$(config udp_session "udp_session: {filters: $FILTERED_NETS}")" \
    udp 127.0.0.1 9
DAEMON_ARGS=(--extra-probe-path "$PWD/bench/floor")
paired floor_udp_hooks "$(config udp_hooks 'udp_hooks: {}')" udp 127.0.0.1 9
paired floor_syscall_hook "$(config syscall_hooks 'syscall_hooks: {}')" open
DAEMON_ARGS=()

echo "== reported events: one-thread storms" >&2
measured connect_loopback_reported "$CFG_TCP" connect 127.0.0.1 9
measured connect_netns_reported "$CFG_TCP" connect 198.51.100.2 9
echo "== fork storm: a new process per connection" >&2
baseline fork_alone fork 127.0.0.1 9
measured fork_reported "$CFG_TCP" fork 127.0.0.1 9
echo "== UDP sessions: 2 destinations x 2 datagrams, then close" >&2
baseline udp_alone udp 127.0.0.1 9
measured udp_reported "$(config udp 'udp_session: {}')" udp 127.0.0.1 9
echo "== listen churn" >&2
baseline listen_alone listen 127.0.0.1 9911
measured listen_reported "$(config listen 'net_listen: {}')" listen 127.0.0.1 9911

echo "== latency at 10,000 events/s" >&2
mkfifo "$WORK/fifo"
"$LATENCY" < "$WORK/fifo" > "$WORK/latency.json" &
reader=$!
bench_start_daemon "$CFG_TCP" "$WORK/fifo"
"$LOADGEN" connect 127.0.0.1 9 -r 10000 -d "$SECS" > "$WORK/paced.json"
sleep 0.5
bench_stop_daemon
wait "$reader"
jq -n --argjson lat "$(cat "$WORK/latency.json")" --argjson run "$(cat "$WORK/paced.json")" \
    '{scenario: "latency_10k", rate: $run.rate, generated: $run.count, events: $lat.lines,
      p50_ms: $lat.p50_ms, p99_ms: $lat.p99_ms, max_ms: $lat.max_ms}' >> "$RESULTS"

echo "== RSS over a ${SOAK} s storm" >&2
bench_start_daemon "$CFG_TCP" /dev/null
rss_start=$(rss_kb)
"$LOADGEN" connect 127.0.0.1 9 -r 20000 -d "$SOAK" > /dev/null &
gen=$!
rss_max=$rss_start
while kill -0 "$gen" 2>/dev/null; do
    rss=$(rss_kb); [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    sleep 2
done
rss_end=$(rss_kb)
bench_stop_daemon
jq -n --argjson a "$rss_start" --argjson b "$rss_end" --argjson m "$rss_max" --argjson s "$SOAK" \
    '{scenario: "rss_soak", seconds: $s, rss_start_mb: ($a / 1024), rss_end_mb: ($b / 1024),
      rss_max_mb: ($m / 1024)}' >> "$RESULTS"

mkdir -p bench/results
machine=$(jq -n --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    --arg kernel "$(uname -r)" --argjson cores "$(nproc)" --arg date "$(date -u +%FT%TZ)" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    '{cpu: $cpu, cores: $cores, kernel: $kernel, date: $date, commit: $commit}')
jq -s --argjson machine "$machine" '{machine: $machine, scenarios: .}' "$RESULTS" \
    > bench/results/latest.json
python3 "$ROOT/bench/report.py" bench/results/latest.json | tee bench/results/latest.md

# BENCH_WITH_SOAK=1: the soak too (bench/soak.sh, SOAK_SECONDS, default 600).
if [ "${BENCH_WITH_SOAK:-0}" = 1 ]; then
    BUILD=$BUILD bench/soak.sh
fi
