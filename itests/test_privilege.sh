#!/usr/bin/env bash
# Least privilege: once attached the daemon holds only CAP_BPF, CAP_PERFMON,
# CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (src/privilege.h says why), in its
# effective, permitted and bounding sets, with nothing inheritable or
# ambient; events, -w filter swaps (bpf() on the maps) and a SIGHUP restart
# (a new compile, load and attach in the same process) still work; the
# output file it creates is not world-readable.
source "$(dirname "$0")/lib.sh"
require_root

# CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_PERFMON (38), CAP_BPF (39).
KEPT=$(printf '%016x' $(((1 << 2) | (1 << 12) | (1 << 19) | (1 << 38) | (1 << 39))))

cap_field() { # cap_field PID FIELD: the hex mask from /proc/PID/status
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

check_caps() { # check_caps LABEL
    local eff prm inh amb bnd
    eff=$(cap_field "$DAEMON_PID" CapEff)
    prm=$(cap_field "$DAEMON_PID" CapPrm)
    inh=$(cap_field "$DAEMON_PID" CapInh)
    amb=$(cap_field "$DAEMON_PID" CapAmb)
    bnd=$(cap_field "$DAEMON_PID" CapBnd)
    [ "$eff" = "$KEPT" ] || fail "$1: CapEff $eff ($(capsh --decode="$eff")), expected $KEPT"
    [ "$prm" = "$KEPT" ] || fail "$1: CapPrm $prm, expected $KEPT"
    [ "$inh" = 0000000000000000 ] || fail "$1: CapInh $inh, expected none"
    [ "$amb" = 0000000000000000 ] || fail "$1: CapAmb $amb, expected none"
    [ "$bnd" = "$KEPT" ] || fail "$1: CapBnd $bnd, expected $KEPT"
}

CONFIG=$WORK/priv.yml
# Only this test's ports: other traffic on a busy host stays out of $OUT.
cat > "$CONFIG" <<'YAML'
tcp_connect:
  includeports: [7901-7909]
  filters:
    - network: 127.0.51.0/24
YAML
OUTFILE=$WORK/created/out.jsonl
mkdir -p "$WORK/created"
umask 022
: > "$ERR"
"$PIDTREE_BIN" -c "$CONFIG" -f "$OUTFILE" -w 2> "$ERR" &
DAEMON_PID=$!
OUT=$OUTFILE
for i in $(seq 1 600); do grep -q "attached in" "$ERR" && break; kill -0 "$DAEMON_PID" || break; sleep 0.1; done
grep -q "attached in" "$ERR" || fail "daemon did not attach: $(cat "$ERR")"

check_caps "after attach"
grep -q "capabilities kept after attach: cap_dac_read_search,cap_net_admin,cap_sys_ptrace,cap_perfmon,cap_bpf=ep$" "$ERR" ||
    fail "the kept set is not logged: $(cat "$ERR")"
pass "after attach: CapEff = CapPrm = CapBnd = bpf, perfmon, net_admin, sys_ptrace, dac_read_search; nothing inheritable or ambient"

mode=$(stat -c %a "$OUTFILE")
[ $((8#$mode & 8#007)) -eq 0 ] || fail "output file created with mode $mode: others can read it"
pass "the output file is created with mode $mode (umask 022): not world-readable"

p=$(tcp_connect_to 127.0.50.1 7901)
wait_json ".probe == \"tcp_connect\" and .pid == $p" > /dev/null || fail "no event after the drop"
q=$(tcp_connect_to 127.0.51.1 7902)
r=$(tcp_connect_to 127.0.50.1 7903)
wait_json ".pid == $r" > /dev/null || fail "no event after the drop (second)"
[ "$(count_json ".pid == $q")" -eq 0 ] || fail "filter not applied after the drop"
pass "events arrive and filters apply with the reduced set"

# -w swaps the filters through bpf() map updates: CAP_BPF is enough.
cat > "$CONFIG" <<'YAML'
tcp_connect:
  includeports: [7901-7909]
  filters:
    - network: 127.0.52.0/24
YAML
for i in $(seq 1 100); do grep -q "filters swapped" "$ERR" && break; sleep 0.1; done
grep -q "filters swapped" "$ERR" || fail "filter swap failed after the drop: $(tail -n 5 "$ERR")"
s=$(tcp_connect_to 127.0.52.1 7904)
t=$(tcp_connect_to 127.0.51.1 7905)
wait_json ".pid == $t" > /dev/null || fail "no event for the now unfiltered 127.0.51.1"
[ "$(count_json ".pid == $s")" -eq 0 ] || fail "swapped filter not applied"
pass "-w swaps filters with the reduced set"

# SIGHUP compiles, loads and attaches again with the kept capabilities (the
# compiler helper inherits the lowered bounding set).
kill -HUP "$DAEMON_PID"
for i in $(seq 1 600); do grep -q "pidtree-bcc: restarted:\|restart failed" "$ERR" && break; sleep 0.1; done
grep -q "pidtree-bcc: restarted:" "$ERR" || fail "SIGHUP restart failed: $(tail -n 5 "$ERR")"
check_caps "after the SIGHUP restart"
u=$(tcp_connect_to 127.0.50.1 7906)
wait_json ".pid == $u" > /dev/null || fail "no event after the restart"
pass "a SIGHUP restart loads and attaches with the kept set"

stop_daemon

# What CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are kept for: a net_listen
# snapshot finds a listening socket's owner through /proc/PID/fd, which for
# another user's process needs both (and CAP_SYS_PTRACE for a process with
# capabilities the daemon lacks: any ordinary root process). The control: a
# root listener without capabilities, which the daemon may always inspect.
start_listener() { # start_listener FILE PORT [CMD...]: a 60 s listener run by CMD; its pid
    local file=$1 port=$2; shift 2
    # The system's python: nobody may not reach an interpreter under /root.
    "$@" /usr/bin/python3 "$(dirname "$0")/sock.py" tcp-listen 127.0.0.61 "$port" 60 > "$file" &
    for _ in $(seq 1 50); do [ -s "$file" ] && break; sleep 0.1; done
    [ -s "$file" ] || fail "listener '$*' did not start"
    head -n 1 "$file"
}
nobody_pid=$(start_listener "$WORK/nobody.pid" 7961 setpriv --reuid=nobody --regid=nogroup --clear-groups)
root_pid=$(start_listener "$WORK/root.pid" 7962 setpriv --bounding-set -all --inh-caps -all)
cat > "$CONFIG" <<'YAML'
net_listen:
  snapshot_periodicity: 1
YAML
start_daemon "$CONFIG"
wait_json ".pid == $nobody_pid and .port == 7961 and .proctree[0].username == \"nobody\"" > /dev/null ||
    fail "the snapshot missed nobody's listener after the drop"
stop_daemon
pass "after the drop a snapshot still finds another user's listener (pid $nobody_pid, nobody)"

# Without them (bounding set of the loading capabilities only) it cannot.
: > "$OUT"
setpriv --bounding-set -all,+bpf,+perfmon,+net_admin --inh-caps -all -- \
    "$PIDTREE_BIN" -c "$CONFIG" -f "$OUT" 2> "$ERR" &
DAEMON_PID=$!
for _ in $(seq 1 600); do grep -q "attached in" "$ERR" && break; sleep 0.1; done
grep -q "attached in" "$ERR" || fail "no attach with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN only: $(cat "$ERR")"
wait_json ".pid == $root_pid and .port == 7962" > /dev/null || fail "the snapshot missed the capability-less root listener"
sleep 2 # two more snapshots
[ "$(count_json ".pid == $nobody_pid")" -eq 0 ] || fail "found nobody's listener without the capabilities"
stop_daemon
pass "with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN only, a capability-less root listener is found and nobody's is not"
finish
