#!/usr/bin/env bash
# Least privilege: once attached the daemon holds only CAP_BPF,
# CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (src/privilege.h says why), with
# nothing inheritable or ambient and its bounding set untouched; events,
# -w filter swaps (bpf() on the maps) and a SIGHUP restart (a re-exec that
# must load the programs again) still work; the output file it creates is
# not world-readable.
source "$(dirname "$0")/lib.sh"
require_root

# CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_BPF (39).
KEPT=$(printf '%016x' $(((1 << 2) | (1 << 19) | (1 << 39))))

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
    [ "$bnd" = "$(cap_field $$ CapBnd)" ] || fail "$1: CapBnd $bnd changed"
}

CONFIG=$WORK/priv.yml
cat > "$CONFIG" <<'YAML'
tcp_connect:
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
grep -q "capabilities kept after attach: cap_dac_read_search,cap_sys_ptrace,cap_bpf=ep" "$ERR" ||
    fail "the kept set is not logged: $(cat "$ERR")"
pass "after attach: CapEff = CapPrm = bpf, sys_ptrace, dac_read_search; nothing inheritable or ambient"

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

# SIGHUP re-executes: as root the bounding set gives the loading
# capabilities back, and the new image drops them again once attached.
kill -HUP "$DAEMON_PID"
for i in $(seq 1 600); do [ "$(grep -c "attached in" "$ERR")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c "attached in" "$ERR")" -ge 2 ] || fail "SIGHUP restart failed: $(tail -n 5 "$ERR")"
check_caps "after the SIGHUP restart"
u=$(tcp_connect_to 127.0.50.1 7906)
wait_json ".pid == $u" > /dev/null || fail "no event after the restart"
pass "SIGHUP restart loads again and drops again"

stop_daemon
finish
