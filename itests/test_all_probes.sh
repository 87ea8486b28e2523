#!/usr/bin/env bash
# Every built-in probe at once in one daemon, one event of each kind from a
# process the test knows: the kernel matrix's quick check that every form
# (forced with PIDTREE_FORCE_ATTACH, or the automatic choice) compiles,
# loads, attaches and reports on a kernel, with one compile for them all.
source "$(dirname "$0")/lib.sh"
require_root

SOCK="$PIDTREE_SOURCE_DIR/itests/sock.py"
mkdir -p "$WORK/files"
: > "$WORK/files/seen"
CONFIG=$(write_config all.yml <<YAML
tcp_connect: {}
net_listen: {protocols: [tcp, udp]}
udp_session: {session_max_duration: 1}
tcp_accept: {}
file_open: {include_paths: [$WORK/files/]}
bashreadline: {}
exec: {include_failed: true, filenames: ["/bin/true", "/nonexistent/*"]}
YAML
)
start_daemon "$CONFIG"
grep "probe(s) attached" "$ERR" # the compile time, for the kernel matrix's log

# expect PROBE PID JQ_CONDITION LABEL: an event of PROBE from PID with it.
expect() {
    local line
    line=$(wait_json ".probe == \"$1\" and .pid == $2" 30) || fail "$4: no $1 event from $2"
    echo "$line" | jq -e ".proctree[0].pid == $2 and .proctree[-1].pid == 1 and ($3)" > /dev/null ||
        fail "$4: wrong event: $line"
    pass "$4"
}

pid=$(tcp_connect_to 127.0.9.1 7956)
expect tcp_connect "$pid" '.daddr == "127.0.9.1" and .port == 7956' "tcp_connect"
pid=$(sock tcp-listen 127.0.9.1 7957 0.2)
expect net_listen "$pid" '.laddr == "127.0.9.1" and .port == 7957 and .protocol == "tcp"' \
    "net_listen"
pid=$(sock udp-send close 127.0.9.1:7958:2)
expect udp_session "$pid" '.destinations[0].daddr == "127.0.9.1" and .destinations[0].port == 7958
    and .destinations[0].msg_count == 2' "udp_session"
python3 "$SOCK" tcp-accept 127.0.9.1 7959 1 10 > "$WORK/server" &
for _ in $(seq 1 100); do grep -q listening "$WORK/server" && break; sleep 0.1; done
cport=$(python3 "$SOCK" tcp-connect-from 127.0.9.2 127.0.9.1 7959 | tail -n 1)
wait $!
pid=$(head -n 1 "$WORK/server")
expect tcp_accept "$pid" ".laddr == \"127.0.9.1\" and .lport == 7959 and .raddr == \"127.0.9.2\"
    and .rport == $cport" "tcp_accept"
pid=$(python3 "$PIDTREE_SOURCE_DIR/itests/opens.py" read:"$WORK/files/seen" write:"$WORK/other" |
    head -n 1)
expect file_open "$pid" ".path == \"$WORK/files/seen\" and .retval >= 0" "file_open"
python3 "$PIDTREE_SOURCE_DIR/itests/pty_shell.py" bash --norc --noprofile -i -- \
    'echo pt9_all' 'exit' > "$WORK/typed" || fail "the shell session failed: $(cat "$WORK/typed")"
pid=$(head -n 1 "$WORK/typed")
expect bashreadline "$pid" '.command == "echo pt9_all"' "bashreadline"
bash -c "echo \$\$ > '$WORK/exec.pid'; /nonexistent/pt9all 2>/dev/null; exec /bin/true pt9all"
pid=$(cat "$WORK/exec.pid")
expect exec "$pid" '.filename == "/bin/true" and .retval == 0
    and .proctree[0].cmdline == "/bin/true pt9all"' "exec"
line=$(wait_json ".probe == \"exec\" and .filename == \"/nonexistent/pt9all\"") ||
    fail "failed exec: not reported"
echo "$line" | jq -e ".retval == -2 and .proctree[1].pid == $pid" > /dev/null ||
    fail "failed exec: wrong event: $line"
pass "exec, failed"
stop_daemon
finish
