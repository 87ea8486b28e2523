#!/usr/bin/env bash
# The soak (`sudo make soak`, or SOAK_SECONDS=120 bench/soak.sh): every probe
# with every plugin, under mixed load (connects, a new process per connect,
# UDP sessions, listen churn) plus an unprivileged flooder (nobody, a 40-deep
# chain of shells with 120 KB arguments each, connecting as fast as bash
# can), for SOAK_SECONDS (default 600). Samples the daemon's RSS and fd
# count; measures the latency of another user's (root's, paced) events from
# the kernel's timestamp to the line arriving through a FIFO; reports the
# daemon's losses and per-user drops. Writes bench/results/soak.{json,md}.
#
# Not a test: the exit status is non-zero only when something broke. Traffic
# goes only to 127.0.0.0/8; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/daemon.sh
ROOT=$PWD
SECS=${SOAK_SECONDS:-600}
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root (sudo make soak)" >&2; exit 1; }
bench_tools
WORK=$(mktemp -d /tmp/pidtree-soak.XXXXXX)
chmod 755 "$WORK"
DAEMON_PID=""
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

printf '127.0.0.1 soak-loopback\n' > "$WORK/hosts"
cat > "$WORK/soak.yml" <<YAML
tcp_connect:
  plugins:
    identityplugin: {enabled: true}
    sourceipmap: {hostfiles: [$WORK/hosts]}
    loginuidmap: {top_level: false}
net_listen:
  plugins:
    identityplugin: {enabled: true}
    loginuidmap: {top_level: true}
udp_session:
  plugins:
    identityplugin: {enabled: true}
YAML
cp itests/nest.sh "$WORK/nest.sh"

mkfifo "$WORK/fifo"
# Root's events go to 127.0.0.12: their latency is the figure that says
# whether the flooder starves other users.
"$LATENCY" '"daddr":"127.0.0.12"' < "$WORK/fifo" > "$WORK/latency.json" &
reader=$!
bench_start_daemon "$WORK/soak.yml" "$WORK/fifo"
echo "== soak: ${SECS} s, every probe and plugin, mixed load and a flooder" >&2

"$LOADGEN" connect 127.0.0.1 9 -r 2000 -d "$SECS" > "$WORK/connect.json" & PIDS+=($!)
"$LOADGEN" fork 127.0.0.2 9 -r 100 -d "$SECS" > "$WORK/fork.json" 2>/dev/null & PIDS+=($!)
"$LOADGEN" udp 127.0.0.3 9 -r 200 -d "$SECS" > "$WORK/udp.json" & PIDS+=($!)
"$LOADGEN" listen 127.0.0.4 9911 -r 20 -d "$SECS" > "$WORK/listen.json" & PIDS+=($!)
"$LOADGEN" connect 127.0.0.12 9 -r 20 -d "$SECS" > "$WORK/victim.json" & PIDS+=($!)
big=$(head -c 120000 /dev/zero | tr '\0' 'F')
(
    end=$((SECONDS + SECS))
    while [ $SECONDS -lt $end ]; do
        timeout $((end - SECONDS + 1)) runuser -u nobody -- \
            bash "$WORK/nest.sh" 40 2000 127.0.0.11 "$big" || true
    done
) & PIDS+=($!)

samples=$WORK/samples.jsonl
t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$SECS" ]; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "soak: the daemon died" >&2; cat "$WORK/daemon.err" >&2; exit 1; }
    jq -nc --argjson t $((SECONDS - t0)) \
        --argjson rss "$(awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status")" \
        --argjson fds "$(ls "/proc/$DAEMON_PID/fd" | wc -l)" \
        '{t: $t, rss_kb: $rss, fds: $fds}' >> "$samples"
    sleep 5
done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
sleep 1
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
wait "$reader" || true
[ $rc -eq 0 ] || { echo "soak: daemon exited $rc" >&2; cat "$WORK/daemon.err" >&2; exit 1; }

stat() { # stat FIELD: summed over the probes' stop lines
    sed -n "s/.*: \([0-9]*\) events written, \([0-9]*\) unwritten (output), \([0-9]*\) rate-limited, \([0-9]*\) lost in the kernel/\1 \2 \3 \4/p" \
        "$WORK/daemon.err" | awk -v f="$1" '{ s += $f } END { print s + 0 }'
}
mkdir -p bench/results
jq -s --argjson secs "$SECS" --argjson lat "$(cat "$WORK/latency.json")" \
    --argjson victim "$(cat "$WORK/victim.json")" --argjson connect "$(cat "$WORK/connect.json")" \
    --argjson written "$(stat 1)" --argjson unwritten "$(stat 2)" \
    --argjson limited "$(stat 3)" --argjson lost "$(stat 4)" \
    --arg summary "$(grep "stopped:" "$WORK/daemon.err")" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg date "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" --argjson cores "$(nproc)" \
    '{seconds: $secs, date: $date, commit: $commit, kernel: $kernel, cores: $cores,
      rss_kb: {first: .[0].rss_kb, last: .[-1].rss_kb, max: (map(.rss_kb) | max)},
      fds: {first: .[0].fds, last: .[-1].fds, max: (map(.fds) | max)},
      events_written: $written, unwritten_output: $unwritten, rate_limited: $limited,
      lost_kernel: $lost, connect_rate: $connect.rate,
      victim: {generated: $victim.count, written: $lat.lines, p50_ms: $lat.p50_ms,
               p99_ms: $lat.p99_ms, max_ms: $lat.max_ms},
      daemon_summary: $summary, samples: .}' "$samples" > bench/results/soak.json
jq -r '"## Soak: \(.seconds) s, every probe and plugin, mixed load + an unprivileged flooder\n",
    "| measure | value |", "|---|---|",
    "| RSS first / last / max (MB) | \(.rss_kb.first / 1024 | floor) / \(.rss_kb.last / 1024 | floor) / \(.rss_kb.max / 1024 | floor) |",
    "| fds first / last / max | \(.fds.first) / \(.fds.last) / \(.fds.max) |",
    "| events written | \(.events_written) |",
    "| unwritten (output) / rate-limited / lost in the kernel | \(.unwritten_output) / \(.rate_limited) / \(.lost_kernel) |",
    "| root events (paced 20/s): generated / written | \(.victim.generated) / \(.victim.written) |",
    "| root event latency p50 / p99 / max (ms) | \(.victim.p50_ms) / \(.victim.p99_ms) / \(.victim.max_ms) |",
    "", "(\(.date), commit \(.commit), kernel \(.kernel), \(.cores) cores)"' \
    bench/results/soak.json | tee bench/results/soak.md
