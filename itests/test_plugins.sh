#!/usr/bin/env bash
# Plugins on real events: sourceipmap (and a hostfile rewritten while the
# daemon runs), loginuidmap on a chain where only the lower processes have a
# loginuid, the out-of-tree example built against the installed header and
# loaded from --extra-plugin-path, and the loader's failure modes.
source "$(dirname "$0")/lib.sh"
require_root

# A listener on 127.0.0.1 keeps connections cheap and local.
listener_port=$((20000 + RANDOM % 20000))
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(120)' "$listener_port" &
LISTENER=$!
trap 'rc=$?; kill $LISTENER 2>/dev/null; (exit $rc); cleanup' EXIT

printf '# test hosts\n127.0.0.1 first-name alias\n::1 six-name\n' > "$WORK/hosts"
cfg=$(write_config plugins.yml <<YAML
tcp_connect:
  includeports: [$listener_port]
  plugins:
    sourceipmap:
      hostfiles: [$WORK/hosts]
    loginuidmap: {}
YAML
)
start_daemon "$cfg"

# bash A sets its loginuid, bash B (its child) connects: both carry it, the
# processes above them do not. (`; true` keeps bash A from exec'ing B.) The
# daemon is stopped meanwhile, so both are gone when it writes the line: the
# loginuid must come with the kernel's process records, not from /proc.
kill -STOP "$DAEMON_PID"
bash -c 'echo 4000 > /proc/self/loginuid; bash -c "exec 3<>/dev/tcp/127.0.0.1/$0" $0; true' \
    "$listener_port"
kill -CONT "$DAEMON_PID"
line=$(wait_json ".probe == \"tcp_connect\" and .port == $listener_port") || fail "no event"
echo "$line" | jq -e '.source_host == "first-name"' > /dev/null || fail "sourceipmap: $line"
pass "sourceipmap maps saddr 127.0.0.1 to first-name"
echo "$line" | jq -e '(.proctree[0].loginuid == 4000) and (.proctree[1].loginuid == 4000)
    and (.proctree[0].loginname | type == "string")
    and ([.proctree[2:][] | has("loginuid")] | any | not)' > /dev/null ||
    fail "loginuidmap: $line"
pass "loginuidmap marks the two processes with loginuid 4000 and no others"

# Rewriting the hostfile changes the name within the plugin's 2 s re-read.
printf '127.0.0.1 second-name\n' > "$WORK/hosts.new"
mv "$WORK/hosts.new" "$WORK/hosts"
found=0
for _ in $(seq 1 40); do
    tcp_connect_to 127.0.0.1 "$listener_port" > /dev/null
    if [ "$(count_json '.source_host == "second-name"')" -gt 0 ]; then found=1; break; fi
    sleep 0.25
done
[ $found -eq 1 ] || fail "rewritten hostfile not picked up"
pass "a rewritten hostfile is re-read while the daemon runs"
stop_daemon

# The example out-of-tree plugin, built only from the installed header and
# pkg-config, loaded from --extra-plugin-path.
prefix="$WORK/prefix"
cmake --install "$PIDTREE_BUILD_DIR" --prefix "$prefix" > /dev/null
pcdir=$(dirname "$(find "$prefix" -name pidtree-plugin.pc | head -n 1)")
cp -r "$PIDTREE_SOURCE_DIR/examples/plugin" "$WORK/example"
make -s -C "$WORK/example" PKG_CONFIG_PATH="$pcdir" PIDTREE_INCLUDE_DIR=/nonexistent > /dev/null
mkdir -m 755 "$WORK/extra"
cp "$WORK/example/hostnameplugin.so" "$WORK/extra/"
cfg=$(write_config example.yml <<YAML
tcp_connect:
  includeports: [$listener_port]
  plugins:
    hostnameplugin: {}
YAML
)
start_daemon "$cfg" --extra-plugin-path "$WORK/extra"
tcp_connect_to 127.0.0.1 "$listener_port" > /dev/null
line=$(wait_json ".port == $listener_port") || fail "no event with the example plugin"
echo "$line" | jq -e --arg h "$(hostname)" '.hostname == $h' > /dev/null ||
    fail "example plugin did not add hostname: $line"
pass "the example plugin, built against the installed header, adds its field"
stop_daemon

# Failure modes: each exits 2 with its message, before anything loads.
expect_fail() { # expect_fail STDERR_SUBSTRING CONFIG_BODY [ARGS...]
    local msg=$1 body=$2 rc=0; shift 2
    printf '%s\n' "$body" > "$WORK/bad.yml"
    "$PIDTREE_BIN" -c "$WORK/bad.yml" -f "$WORK/bad.out" "$@" 2> "$WORK/stderr" || rc=$?
    [ $rc -eq 2 ] || fail "exit $rc, expected 2 for '$msg': $(cat "$WORK/stderr")"
    grep -qF -- "$msg" "$WORK/stderr" || fail "stderr lacks '$msg': $(cat "$WORK/stderr")"
    pass "refused: $msg"
}
expect_fail "unknown plugin 'nosuchplugin'" 'tcp_connect: {plugins: {nosuchplugin: {}}}'
expect_fail "plugin 'sourceipmap' does not support probe 'net_listen'" \
    'net_listen: {plugins: {sourceipmap: {hostfiles: [/etc/hosts]}}}'
expect_fail "sourceipmap" 'tcp_connect: {plugins: {sourceipmap: {hostfiles: [/nonexistent/h]}}}'
chmod 777 "$WORK/extra"
expect_fail "writable by other users" 'tcp_connect: {plugins: {hostnameplugin: {}}}' \
    --extra-plugin-path "$WORK/extra"
chmod 755 "$WORK/extra"
chmod 666 "$WORK/extra/hostnameplugin.so"
expect_fail "hostnameplugin.so is writable by other users" \
    'tcp_connect: {plugins: {hostnameplugin: {}}}' --extra-plugin-path "$WORK/extra"

# unload_on_init_exception: the daemon starts without the broken plugin.
cfg=$(write_config unload.yml <<YAML
tcp_connect:
  includeports: [$listener_port]
  plugins:
    sourceipmap: {hostfiles: [/nonexistent/h], unload_on_init_exception: true}
YAML
)
start_daemon "$cfg"
grep -q "continuing without it" "$ERR" || fail "no message about the unloaded plugin"
tcp_connect_to 127.0.0.1 "$listener_port" > /dev/null
line=$(wait_json ".port == $listener_port") || fail "no event without the plugin"
echo "$line" | jq -e 'has("source_host") | not' > /dev/null || fail "plugin still ran: $line"
pass "unload_on_init_exception: logged, and events flow without the plugin"
stop_daemon
finish
