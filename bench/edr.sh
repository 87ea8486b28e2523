#!/usr/bin/env bash
# The EDR probes' costs (exec, file_open), beside scripts/bench.sh's network
# scenarios, which calls this script. Writes bench/results/edr.{json,md} and
# prints the markdown. A benchmark, not a test: exit status 0 whether or not
# a target is met, non-zero only when something broke.
#
#   exec storm: fork + exec of a tiny program at EDR_EXEC_RATE (1,600/s)
#     with the exec probe reporting every one: daemon CPU (target < 5% of
#     one core), events reported / execs made.
#   open storm, excluded: open("/dev/null") + close as fast as one thread
#     goes, alone and with file_open excluding /dev/ (and including only a
#     directory nothing else opens), EDR_PAIRS (5)
#     alternated pairs: the median of the pairs' rate ratios (target >=
#     0.97).
#   open storm, matching: opens of a path file_open includes at
#     EDR_OPEN_RATE (20,000/s): events / opens (target: all, none lost).
#
# EDR_SECONDS (5) per run; everything bounded in time. No network traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/daemon.sh
SECS=${EDR_SECONDS:-5}
PAIRS=${EDR_PAIRS:-5}
EXEC_RATE=${EDR_EXEC_RATE:-1600}
OPEN_RATE=${EDR_OPEN_RATE:-20000}
[ "$(id -u)" -eq 0 ] || { echo "edr: run as root" >&2; exit 1; }

bench_tools
WORK=$(mktemp -d /tmp/pidtree-edr.XXXXXX)
chmod 755 "$WORK"
DAEMON_PID=""
RESULTS=$WORK/results.jsonl
cleanup() {
    if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/match"
: > "$WORK/match/file"
# A static program to exec: the exec storm measures the tracer, not ld.so.
printf 'int main(void) { return 0; }\n' > "$WORK/tiny.c"
cc -O2 -static -o "$WORK/tiny" "$WORK/tiny.c" 2>/dev/null || cp /bin/true "$WORK/tiny"

config() { printf '%s\n' "$2" > "$WORK/$1.yml"; echo "$WORK/$1.yml"; }
CFG_EXEC=$(config exec 'exec: {}')
# /dev/null excluded by name, and every other path by the include list:
# the host's own opens (builds, other tests) would otherwise be reported
# during the storm and their cost counted against it.
CFG_OPEN_EXCLUDED=$(config open_excluded "file_open: {include_paths: [$WORK/match/], exclude_paths: [/dev/]}")
CFG_OPEN_MATCH=$(config open_match "file_open: {include_paths: [$WORK/match/]}")


# with_daemon NAME CONFIG JQ_SELECT LOADGEN_ARGS...: the workload with the
# daemon; records its rate, the events JQ_SELECT picks, kernel losses and
# the daemon's CPU (cores) over the run.
with_daemon() {
    local name=$1 cfg=$2 select=$3; shift 3
    local out=$WORK/$name.jsonl c0 c1 t0 t1 run
    bench_start_daemon "$cfg" "$out"
    c0=$(bench_cpu_ticks); t0=$(date +%s.%N)
    run=$("$LOADGEN" "$@" -d "$SECS")
    sleep 0.5 # the last events drain
    c1=$(bench_cpu_ticks); t1=$(date +%s.%N)
    bench_stop_daemon
    jq -n --arg name "$name" --argjson run "$run" \
        --argjson events "$(jq -c "select($select)" "$out" | wc -l)" \
        --argjson lost "$(bench_kernel_lost)" --argjson startup "$STARTUP_S" \
        --argjson cpu "$(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v a="$t1" -v b="$t0" \
            'BEGIN {print c / hz / (a - b)}')" \
        '{scenario: $name, rate: $run.rate, generated: $run.count, events: $events,
          lost_kernel: $lost, daemon_cpu: $cpu, startup_s: $startup}' >> "${OUT_JSON:-$RESULTS}"
}

alone() { # alone NAME LOADGEN_ARGS...
    local name=$1; shift
    jq -n --arg name "$name" --argjson run "$("$LOADGEN" "$@" -d "$SECS")" \
        '{scenario: $name, rate: $run.rate, generated: $run.count}' >> "${OUT_JSON:-$RESULTS}"
}

if "$BIN" -c "$CFG_EXEC" -p > /dev/null 2>&1; then
    echo "== exec storm at $EXEC_RATE/s, every exec reported" >&2
    alone exec_alone forkexec -t 2 -r "$EXEC_RATE" -p "$WORK/tiny"
    with_daemon exec_reported "$CFG_EXEC" ".probe == \"exec\" and .filename == \"$WORK/tiny\"" \
        forkexec -t 2 -r "$EXEC_RATE" -p "$WORK/tiny"
else
    echo "== exec storm skipped: this build has no exec probe" >&2
fi

echo "== open storm to excluded paths, $PAIRS alternated pairs" >&2
OUT_JSON=$WORK/pairs.jsonl
: > "$OUT_JSON"
for i in $(seq 1 "$PAIRS"); do
    alone open_alone open
    with_daemon open_excluded "$CFG_OPEN_EXCLUDED" '.probe == "file_open"' open
done
unset OUT_JSON
# Pair i is lines 2i-1 (alone) and 2i (with the daemon).
jq -s '[range(0; length; 2) as $i | .[$i + 1].rate / .[$i].rate] as $r |
    {scenario: "open_excluded_pairs", ratios: $r, median_ratio: ($r | sort | .[length / 2 | floor]),
     alone_rates: [.[] | select(.scenario == "open_alone") | .rate],
     excluded_rates: [.[] | select(.scenario == "open_excluded") | .rate],
     events: ([.[] | select(.scenario == "open_excluded") | .events] | add),
     daemon_cpu: ([.[] | select(.scenario == "open_excluded") | .daemon_cpu] | add / length)}' \
    "$WORK/pairs.jsonl" >> "$RESULTS"

echo "== matching opens at $OPEN_RATE/s" >&2
with_daemon open_reported "$CFG_OPEN_MATCH" ".probe == \"file_open\" and .path == \"$WORK/match/file\"" \
    open -r "$OPEN_RATE" -p "$WORK/match/file"

mkdir -p bench/results
machine=$(jq -n --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    --arg kernel "$(uname -r)" --argjson cores "$(nproc)" --arg date "$(date -u +%FT%TZ)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    '{cpu: $cpu, cores: $cores, kernel: $kernel, date: $date, commit: $commit, load: $load}')
jq -s --argjson machine "$machine" '{machine: $machine, scenarios: .}' "$RESULTS" \
    > bench/results/edr.json
python3 bench/edr_report.py bench/results/edr.json | tee bench/results/edr.md
