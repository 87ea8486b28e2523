#!/usr/bin/env bash
# Every built-in probe at once in one daemon, one event of each kind from a
# process the test knows: the kernel matrix's quick check that every form
# (forced with PIDTREE_FORCE_ATTACH, or the automatic choice) compiles,
# loads, attaches and reports on a kernel, with one compile for them all.
# PIDTREE_ALL_PROBES (default: every one) names the probes to run, to tell
# one probe's failure on a kernel from another's.
source "$(dirname "$0")/lib.sh"
require_root

SOCK="$PIDTREE_SOURCE_DIR/itests/sock.py"
mkdir -p "$WORK/files"
: > "$WORK/files/seen"
PROBES=${PIDTREE_ALL_PROBES:-tcp_connect net_listen udp_session tcp_accept file_open bashreadline exec}
want() { [[ " $PROBES " == *" $1 "* ]]; }
CONFIG=$WORK/all.yml
{
    want tcp_connect && echo "tcp_connect: {}"
    want net_listen && echo "net_listen: {protocols: [tcp, udp]}"
    want udp_session && echo "udp_session: {session_max_duration: 1}"
    want tcp_accept && echo "tcp_accept: {}"
    want file_open && echo "file_open: {include_paths: [$WORK/files/]}"
    want bashreadline && echo "bashreadline: {}"
    want exec && echo 'exec: {include_failed: true, filenames: ["/bin/true", "/nonexistent/*"]}'
} > "$CONFIG"
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

check_tcp_connect() {
    local pid; pid=$(tcp_connect_to 127.0.9.1 7956)
    expect tcp_connect "$pid" '.daddr == "127.0.9.1" and .port == 7956' "tcp_connect"
}
check_net_listen() {
    local pid; pid=$(sock tcp-listen 127.0.9.1 7957 0.2)
    expect net_listen "$pid" '.laddr == "127.0.9.1" and .port == 7957 and .protocol == "tcp"' \
        "net_listen"
}
check_udp_session() {
    local pid; pid=$(sock udp-send close 127.0.9.1:7958:2)
    expect udp_session "$pid" '.destinations[0].daddr == "127.0.9.1"
        and .destinations[0].port == 7958 and .destinations[0].msg_count == 2' "udp_session"
}
check_tcp_accept() {
    local pid cport
    python3 "$SOCK" tcp-accept 127.0.9.1 7959 1 10 > "$WORK/server" &
    for _ in $(seq 1 100); do grep -q listening "$WORK/server" && break; sleep 0.1; done
    cport=$(python3 "$SOCK" tcp-connect-from 127.0.9.2 127.0.9.1 7959 | tail -n 1)
    wait $!
    pid=$(head -n 1 "$WORK/server")
    expect tcp_accept "$pid" ".laddr == \"127.0.9.1\" and .lport == 7959
        and .raddr == \"127.0.9.2\" and .rport == $cport" "tcp_accept"
}
check_file_open() {
    local pid
    pid=$(python3 "$PIDTREE_SOURCE_DIR/itests/opens.py" read:"$WORK/files/seen" write:"$WORK/other" |
        head -n 1)
    expect file_open "$pid" ".path == \"$WORK/files/seen\" and .retval >= 0" "file_open"
}
check_bashreadline() {
    python3 "$PIDTREE_SOURCE_DIR/itests/pty_shell.py" bash --norc --noprofile -i -- \
        'echo pt9_all' 'exit' > "$WORK/typed" || fail "the shell session failed: $(cat "$WORK/typed")"
    expect bashreadline "$(head -n 1 "$WORK/typed")" '.command == "echo pt9_all"' "bashreadline"
}
check_exec() {
    local pid line
    bash -c "echo \$\$ > '$WORK/exec.pid'; /nonexistent/pt9all 2>/dev/null; exec /bin/true pt9all"
    pid=$(cat "$WORK/exec.pid")
    expect exec "$pid" '.filename == "/bin/true" and .retval == 0
        and .proctree[0].cmdline == "/bin/true pt9all"' "exec"
    line=$(wait_json ".probe == \"exec\" and .filename == \"/nonexistent/pt9all\"") ||
        fail "failed exec: not reported"
    echo "$line" | jq -e ".retval == -2 and .proctree[1].pid == $pid" > /dev/null ||
        fail "failed exec: wrong event: $line"
    pass "exec, failed"
}
for probe in $PROBES; do "check_$probe"; done
stop_daemon
finish
