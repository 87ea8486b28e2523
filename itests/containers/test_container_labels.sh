#!/usr/bin/env bash
# container_labels and container identity with real containers (podman,
# runc, the cgroupfs manager) and a podman service of the test's own
# serving the Docker Engine API on a socket only it uses:
#
# - the daemon starts before the engine answers: nothing of the labelled
#   probe is reported (fails closed), said in a log line; containers are
#   still named by their cgroup on the probe without labels;
# - the engine comes: the two labelled containers' events only, with their
#   id, name, runtime, and pids as the containers see them;
# - a container started after the daemon is reported within seconds;
# - the engine stops: known containers go on being reported; one started
#   meanwhile is not, until the engine is back;
# - -w: new labels select the other container.
#
# Traffic stays in each container's own network namespace (--network none:
# loopback only). Every wait is bounded.
source "$(dirname "$0")/../lib.sh"
require_root
SRC=$PIDTREE_SOURCE_DIR
SOCKET_DIR=/run/pidtree-itest-containers
SOCKET=$SOCKET_DIR/podman.sock
IMAGE=localhost/pidtree-itest-busybox:latest
PREFIX=pt-labels-$$
SERVICE_PID=""
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)

containers_cleanup() {
    local rc=$?
    local c
    for c in a b c d e; do "${PODMAN[@]}" rm -f -t 0 "$PREFIX-$c" > /dev/null 2>&1 || true; done
    service_stop
    # cleanup (lib.sh) takes the status from $?; errexit would end the trap
    # at a failing `(exit $rc)` before it ran.
    set +e
    (exit $rc)
    cleanup
}
trap containers_cleanup EXIT

service_start() {
    SERVICE_PID=$("$SRC/scripts/podman-service.sh" "$SOCKET") ||
        fail "podman's service did not start on $SOCKET"
    [ -n "$SERVICE_PID" ] || fail "a service already answered on $SOCKET (left over?)"
}

service_stop() {
    [ -n "$SERVICE_PID" ] || return 0
    kill "$SERVICE_PID" 2> /dev/null || true
    local _
    for _ in $(seq 1 100); do kill -0 "$SERVICE_PID" 2> /dev/null || break; sleep 0.1; done
    SERVICE_PID=""
    rm -f "$SOCKET"
}

# A busybox root, imported once: no registry is needed.
image_build() {
    podman image exists "$IMAGE" && return 0
    local root=$WORK/rootfs
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/etc"
    cp /bin/busybox "$root/bin/busybox"
    chroot "$root" /bin/busybox --install -s /bin
    tar -C "$root" -cf "$WORK/rootfs.tar" .
    podman import "$WORK/rootfs.tar" "$IMAGE" > /dev/null
}

# container NAME CONNECT_PORT LISTEN_PORT [--label K=V ...]: every 0.3 s a
# listener on LISTEN_PORT and a connection to CONNECT_PORT (refused), in the
# container's own loopback.
container() {
    local name=$PREFIX-$1 connect=$2 listen=$3
    shift 3
    "${PODMAN[@]}" run -d --name "$name" --network none "$@" "$IMAGE" sh -c '
        while true; do
            nc -l -p "$1" < /dev/null > /dev/null 2>&1 &
            nc 127.0.0.1 "$0" < /dev/null > /dev/null 2>&1
            sleep 0.3
            kill $! 2> /dev/null; wait 2> /dev/null
        done' "$connect" "$listen" > /dev/null || fail "cannot run container $name"
}

cid() { "${PODMAN[@]}" inspect -f '{{.Id}}' "$PREFIX-$1"; }
cpid() { "${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$PREFIX-$1"; }

# events_on PORT [SINCE_LINE]: tcp_connect events to PORT (after line SINCE).
events_on() {
    tail -n +"$((${2:-0} + 1))" "$OUT" | jq -c "select(.probe == \"tcp_connect\" and .port == $1)"
}

[ -x /bin/busybox ] || fail "busybox-static is needed (scripts/install-deps.sh installs it)"
mkdir -p "$SOCKET_DIR"
rm -f "$SOCKET"
# Once up and down: the script installs podman and runc when missing and
# writes the containers.conf that runc needs on these hosts.
service_start
service_stop
image_build
pass "image $IMAGE (busybox, imported locally)"

# a and b match the labels asked for; c has none; d and e come later.
container a 7731 7741 --label app=webshop --label tier=front
container b 7732 7742 --label team=blue
container c 7733 7743
ID_A=$(cid a)
ID_B=$(cid b)
ID_C=$(cid c)
PID_A=$(cpid a)

CONFIG=$(write_config labels.yml <<'YAML'
tcp_connect:
  container_labels:
    - app=web*,tier=front
    - team=blue
net_listen:
  protocols: [tcp]
YAML
)
export DOCKER_HOST=unix://$SOCKET
start_daemon "$CONFIG" -w

# ---- No engine yet: fails closed, says so; identity from cgroups.
grep -q "probe 'tcp_connect': container_labels: the container engine at $SOCKET has not answered: nothing is reported" "$ERR" ||
    fail "no fail-closed line: $(cat "$ERR")"
wait_json ".probe == \"net_listen\" and .port == 7743" 10 > "$WORK/listen_c" ||
    fail "no net_listen event from container c"
jq -e --arg id "$ID_C" '.container_id == $id and .container_runtime == "podman" and
    (has("container_name") | not) and .ns_pid > 1' "$WORK/listen_c" > /dev/null ||
    fail "container c's event lacks its identity: $(cat "$WORK/listen_c")"
sleep 2
[ "$(count_json '.probe == "tcp_connect"')" -eq 0 ] ||
    fail "tcp_connect reported before the engine answered: $(jq -c 'select(.probe == "tcp_connect")' "$OUT" | head -n 3)"
pass "before the engine answers: container_labels reports nothing (said in the log); identity from the cgroup"

# ---- The engine comes.
service_start
wait_json '.probe == "tcp_connect" and .port == 7731' 15 > /dev/null || fail "no event from container a"
wait_json '.probe == "tcp_connect" and .port == 7732' 15 > /dev/null || fail "no event from container b"
grep -q "probe 'tcp_connect': container_labels: 2 container(s) match" "$ERR" ||
    fail "no count of matching containers: $(grep container "$ERR")"
line=$(events_on 7731 | tail -n 1)
echo "$line" | jq -e --arg id "$ID_A" --arg name "$PREFIX-a" --argjson init "$PID_A" '
    .container_id == $id and .container_name == $name and .container_runtime == "podman" and
    .ns_pid > 1 and .proctree[0].pid == .pid and .proctree[0].ns_pid == .ns_pid and
    (.proctree[0].cmdline | startswith("nc 127.0.0.1 7731")) and
    ([.proctree[] | select(.ns_pid == 1)][0].pid == $init) and
    ([.proctree[] | select(has("ns_pid") | not)] | length) >= 2 and .proctree[-1].pid == 1' \
    > /dev/null || fail "container a's event: $line"
line=$(events_on 7732 | tail -n 1)
echo "$line" | jq -e --arg id "$ID_B" --arg name "$PREFIX-b" '
    .container_id == $id and .container_name == $name and .ns_pid > 1' > /dev/null ||
    fail "container b's event: $line"
# The host's own connection, and container c's, stay out.
(bash -c 'exec 3<> /dev/tcp/127.0.0.1/7739' 2> /dev/null || true)
sleep 2
[ "$(count_json '.probe == "tcp_connect" and (.port == 7733 or .port == 7739)')" -eq 0 ] ||
    fail "an unlabelled container's or the host's connection reported"
[ "$(count_json '.probe == "tcp_connect" and (has("container_id") | not)')" -eq 0 ] ||
    fail "a tcp_connect event without a container"
pass "the engine answers: only a and b, with id, name, runtime, and pids inside (init $PID_A is 1)"

# ---- A container started now.
container d 7734 7744 --label team=blue
ID_D=$(cid d)
started=$(date +%s%N)
wait_json '.probe == "tcp_connect" and .port == 7734' 10 > "$WORK/first_d" ||
    fail "no event from container d, started after the daemon"
seen=$(date +%s%N)
jq -e --arg id "$ID_D" --arg name "$PREFIX-d" '.container_id == $id and .container_name == $name' \
    "$WORK/first_d" > /dev/null || fail "container d's event: $(cat "$WORK/first_d")"
pass "a container started after the daemon: reported $(((seen - started) / 1000000)) ms after podman run returned"

# ---- The engine stops: what is known stays; a container started meanwhile
# waits for the engine.
service_stop
for _ in $(seq 1 50); do grep -q "closed its event stream" "$ERR" && break; sleep 0.1; done
grep -q "closed its event stream" "$ERR" || fail "the engine's end not noticed: $(tail -n 5 "$ERR")"
mark=$(wc -l < "$OUT")
sleep 1.5
[ -n "$(events_on 7731 "$mark")" ] || fail "container a no longer reported while the engine is away"
container e 7735 7745 --label team=blue
ID_E=$(cid e)
sleep 3
[ -z "$(events_on 7735)" ] || fail "container e reported before the engine could say its labels"
service_start
wait_json '.probe == "tcp_connect" and .port == 7735' 15 > "$WORK/first_e" ||
    fail "container e not reported once the engine is back"
jq -e --arg id "$ID_E" --arg name "$PREFIX-e" '.container_id == $id and .container_name == $name' \
    "$WORK/first_e" > /dev/null || fail "container e's event: $(cat "$WORK/first_e")"
grep -q "answering: .* container(s) running" <(tail -n 20 "$ERR") || fail "no reconnection line"
pass "engine stopped: a still reported, e (started meanwhile) held back; restarted: e reported"

# ---- -w: labels that select another container (c, run again with a
# label; a and b no longer match).
"${PODMAN[@]}" rm -f -t 0 "$PREFIX-c" > /dev/null
container c 7733 7743 --label app=legacy
ID_C=$(cid c)
cat > "$CONFIG.new" <<'YAML'
tcp_connect:
  container_labels:
    - app=legacy
net_listen:
  protocols: [tcp]
YAML
mv "$CONFIG.new" "$CONFIG"
for _ in $(seq 1 100); do grep -q "config reloaded" "$ERR" && break; sleep 0.1; done
grep -q "config reloaded: filters swapped" "$ERR" || fail "the label change was not swapped in: $(tail -n 5 "$ERR")"
wait_json '.probe == "tcp_connect" and .port == 7733' 10 > "$WORK/first_c" ||
    fail "container c not reported after the label change"
jq -e --arg id "$ID_C" '.container_id == $id' "$WORK/first_c" > /dev/null ||
    fail "container c's event: $(cat "$WORK/first_c")"
mark=$(wc -l < "$OUT")
sleep 2
[ -z "$(events_on 7731 "$mark")$(events_on 7732 "$mark")" ] ||
    fail "a and b still reported after the label change"
pass "-w: new labels take effect without a restart (c in, a and b out)"

stop_daemon
finish
