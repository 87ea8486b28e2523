#!/usr/bin/env bash
# --extra-probe-path: a probe described by NAME.yml + NAME.bpf.c, copied to a
# temporary directory, compiles into the module, attaches to its syscall
# tracepoint and reports its own fields with the common ones and the tree.
source "$(dirname "$0")/lib.sh"
require_root

PROBES="$WORK/probes"
mkdir -p "$PROBES"
cp "$PIDTREE_SOURCE_DIR"/examples/probes/raw_socket.{yml,bpf.c} "$PROBES/"

# A setting from the config reaches the template: with include_packet off,
# a SOCK_DGRAM packet socket is not reported but a SOCK_RAW one is.
cfg=$(write_config raw.yml <<'YAML'
raw_socket:
  include_packet: false
tcp_connect:
  filters:
    - {network: 0.0.0.0, network_mask: 0.0.0.0}
YAML
)
"$PIDTREE_BIN" -c "$cfg" --extra-probe-path "$PROBES" -p > "$WORK/module.c"
grep -q '^struct raw_socket_event {$' "$WORK/module.c" || fail "-p lacks the generated struct"
grep -q '^#define PT_SETTING_include_packet 0LL$' "$WORK/module.c" || fail "setting not rendered"
pass "-p renders the generated event struct and the setting"

start_daemon "$cfg" --extra-probe-path "$PROBES"
python3 - <<'PY'
import socket
socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0).close()
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.close()
PY
line=$(wait_json '.probe == "raw_socket"') || fail "no raw_socket event"
echo "$line" | jq -e '.family == 2 and .sock_type == 3 and .protocol == 1 and .comm == "python3"
    and (.proctree | length) >= 2 and (.proctree[0].cmdline | endswith("python3 -"))
    and (.proctree[-1].pid == 1) and .error == ""' > /dev/null ||
    fail "raw_socket event fields wrong: $line"
pass "raw socket reported with its fields and process tree"
sleep 0.5
[ "$(count_json '.probe == "raw_socket" and .family == 17')" -eq 0 ] ||
    fail "packet socket reported although include_packet is false"
pass "include_packet: false drops the packet socket in the kernel"
stop_daemon

# Cgroup socket hooks and raw tracepoints (bench/floor's probes, whose
# programs do nothing): each is loaded for its hook and attached, and the
# calls they see go on (a cgroup program's 1).
FLOOR="$WORK/floor"
mkdir -p "$FLOOR"
cp "$PIDTREE_SOURCE_DIR"/bench/floor/udp_hooks.{yml,bpf.c} "$FLOOR/"
hooks=$(write_config hooks.yml <<'YAML'
udp_hooks: {}
YAML
)
"$PIDTREE_BIN" -c "$hooks" --extra-probe-path "$FLOOR" -p > "$WORK/hooks.c"
for a in "cgroup sendmsg4 -> udp_hooks__sendmsg4" "cgroup sock_release -> udp_hooks__sock_release" \
    "raw_tracepoint sock/sock_send_length -> udp_hooks__raw"; do
    grep -qF " * attach $a" "$WORK/hooks.c" || fail "-p does not attach $a"
done
start_daemon "$hooks" --extra-probe-path "$FLOOR"
python3 - <<'PY' || fail "a UDP send or connect under the cgroup hooks failed"
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", r.getsockname())
s.connect(r.getsockname())
s.send(b"y")
r.settimeout(5)
assert r.recv(8) == b"x" and r.recv(8) == b"y"
PY
grep -q "1 probe(s) attached" "$ERR" || fail "the hooks did not attach: $(cat "$ERR")"
stop_daemon
pass "cgroup and raw tracepoint attach points: attached, and the calls go on"

# Bad descriptions and bad options exit 2 with the file and field.
expect_fail() { # expect_fail STDERR_SUBSTRING ARGS...
    local msg=$1 rc=0; shift
    "$PIDTREE_BIN" "$@" -p > /dev/null 2> "$WORK/stderr" || rc=$?
    [ $rc -eq 2 ] || fail "'$*' exited $rc, expected 2: $(cat "$WORK/stderr")"
    grep -qF -- "$msg" "$WORK/stderr" || fail "stderr lacks '$msg': $(cat "$WORK/stderr")"
}
bad=$(write_config bad_option.yml <<'YAML'
raw_socket:
  include_packet: 3
YAML
)
expect_fail "raw_socket.include_packet: expected true or false" -c "$bad" --extra-probe-path "$PROBES"
pass "a wrongly typed probe setting exits 2"
sed -i 's/type: u16}/type: float}/' "$PROBES/raw_socket.yml"
expect_fail "raw_socket.yml: fields[0].type: expected one of" -c "$cfg" --extra-probe-path "$PROBES"
pass "a malformed description exits 2 naming the file and field"
rm "$PROBES/raw_socket.bpf.c"
expect_fail "template" -c "$cfg" --extra-probe-path "$PROBES"
pass "a description without its template exits 2"
finish
