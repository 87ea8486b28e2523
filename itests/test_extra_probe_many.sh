#!/usr/bin/env bash
# Five extra probes of sixteen tracepoints each, every probe reusing one
# program for all its points: 80 attachments besides the built-in ones.
# Every one must be held (each probe reports all sixteen syscalls of one
# process) and the stop must be clean (no attachment lost or closed twice).
source "$(dirname "$0")/lib.sh"
require_root

SYSCALLS=(getcwd getegid geteuid getgid getgroups getpgid getpid getppid getpriority
          getresgid getresuid getsid getuid newuname sched_getscheduler sched_yield)
N_PROBES=5
PROBES="$WORK/probes"
mkdir -p "$PROBES"
for k in $(seq 1 $N_PROBES); do
    {
        echo "attach:"
        echo "  tracepoint:"
        for s in "${SYSCALLS[@]}"; do
            echo "    - {target: syscalls/sys_enter_$s, program: many$k}"
        done
        echo "fields:"
        echo "  - {name: nr, type: s32}"
        echo "settings:"
        echo "  - {name: tgid, type: int, default: 0}"
    } > "$PROBES/many$k.yml"
    cat > "$PROBES/many$k.bpf.c" <<C
int many$k(void *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != PT_SETTING_tgid)
        return 0;
    int nr = -1;
    /* Every sys_enter_* record has its syscall number at offset 8. */
    bpf_probe_read_kernel(&nr, sizeof(nr), (char *)ctx + 8);
    struct many${k}_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->nr = nr;
    pt_events.ringbuf_submit(e, 0);
    return 0;
}
C
done

# The traced process waits (bounded) for the daemon, then makes each
# syscall a few times.
GO="$WORK/go"
python3 - "$GO" > "$WORK/caller.pid" <<'PY' &
import os, sys, time
print(os.getpid(), flush=True)
for _ in range(600):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.1)
for _ in range(3):
    os.getcwd(); os.getegid(); os.geteuid(); os.getgid(); os.getgroups(); os.getpgid(0)
    os.getpid(); os.getppid(); os.getpriority(os.PRIO_PROCESS, 0); os.getresgid()
    os.getresuid(); os.getsid(0); os.getuid(); os.uname(); os.sched_getscheduler(0)
    os.sched_yield()
PY
CALLER_JOB=$!
for _ in $(seq 1 50); do [ -s "$WORK/caller.pid" ] && break; sleep 0.1; done
CALLER=$(head -n 1 "$WORK/caller.pid")
[ -n "$CALLER" ] || fail "the traced process did not start"

cfg=$(write_config many.yml < <(
    for k in $(seq 1 $N_PROBES); do printf 'many%d:\n  tgid: %d\n' "$k" "$CALLER"; done))
start_daemon "$cfg" --extra-probe-path "$PROBES"
grep -q "^pidtree-bcc: $N_PROBES probe(s) attached" "$ERR" || fail "start-up line: $(cat "$ERR")"
touch "$GO"
wait "$CALLER_JOB" || fail "the traced process failed"

for k in $(seq 1 $N_PROBES); do
    distinct=0
    for _ in $(seq 1 100); do
        distinct=$(jq -r "select(.probe == \"many$k\" and .pid == $CALLER) | .nr" "$OUT" |
            sort -u | wc -l)
        [ "$distinct" -eq ${#SYSCALLS[@]} ] && break
        sleep 0.1
    done
    [ "$distinct" -eq ${#SYSCALLS[@]} ] ||
        fail "probe many$k reported $distinct of ${#SYSCALLS[@]} syscalls"
done
pass "each of $N_PROBES probes reports all ${#SYSCALLS[@]} of its tracepoints"

stop_daemon
if grep -E "Bad file descriptor|failed" "$ERR"; then
    fail "the stop was not clean"
fi
grep -q "probe 'many$N_PROBES': [1-9][0-9]* events written" "$ERR" ||
    fail "no stats for the last probe: $(cat "$ERR")"
pass "the daemon detaches every attachment and stops cleanly"
finish
