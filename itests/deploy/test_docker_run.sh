#!/usr/bin/env bash
# `make docker-run` end to end: builds the image on the locally made Debian
# base (no registry), runs it exactly as `make docker-run` does with the
# example config, connects from a chain of host processes to the test host
# in a network namespace, finds the event with the host's process tree in
# the container's output, then `docker stop` and exit status 0.
#
# Uses a Docker engine when one answers, else podman's Docker-compatible
# service (started here, and stopped again, when it is not running).
# PIDTREE_DOCKER_TIMEOUT (default 1800 s) bounds the build and start-up.
source "$(dirname "$0")/../lib.sh"
require_root
SRC=$PIDTREE_SOURCE_DIR
IMAGE=pidtree-bcc-test
NAME=pidtree-bcc-test-$$
SERVICE_PID=""
RUN_PID=""
LIMIT=${PIDTREE_DOCKER_TIMEOUT:-1800}

deploy_cleanup() {
    local rc=$?
    if [ -n "$RUN_PID" ]; then
        docker rm -f "$NAME" > /dev/null 2>&1 || true
        wait "$RUN_PID" 2> /dev/null || true
    fi
    [ -z "$SERVICE_PID" ] || { kill "$SERVICE_PID" 2> /dev/null || true; }
    (exit $rc)
    cleanup
}
trap deploy_cleanup EXIT

if ! docker info > /dev/null 2>&1; then
    SERVICE_PID=$("$SRC/scripts/podman-service.sh")
    export DOCKER_HOST=unix:///run/podman/podman.sock
    docker info > /dev/null 2>&1 || fail "podman's service does not answer the docker CLI"
fi
pass "a Docker API answers (${DOCKER_HOST:-the Docker engine})"
make_netns

# Exactly `make docker-run`; JSON lines on stdout (with the build's
# output, which make also prints there), the daemon's messages on stderr.
make -s -C "$SRC" docker-run DOCKER=docker IMAGE="$IMAGE" NAME="$NAME" \
    CONFIG="$SRC/example_config.yml" > "$WORK/stdout" 2> "$ERR" &
RUN_PID=$!
for _ in $(seq 1 $((LIMIT * 2))); do
    grep -q "attached in" "$ERR" && break
    kill -0 "$RUN_PID" 2> /dev/null || fail "make docker-run exited: $(tail -n 20 "$ERR")"
    sleep 0.5
done
grep -q "attached in" "$ERR" || fail "the container did not attach within $LIMIT s"
grep -q "capabilities kept after attach" "$ERR" || fail "the daemon did not drop capabilities"
docker image inspect "$IMAGE" --format '{{.Id}}' > /dev/null || fail "no image $IMAGE"
pass "make docker-run built $IMAGE on the local base and the daemon attached"

# A chain on the host: this test -> sh (marker) -> bash (connects); the
# example config filters loopback and private ranges, not 198.51.100.2.
pid=$(sh -c 'marker_parent=1; bash -c "echo \$\$; exec 3<>/dev/tcp/198.51.100.2/8080" 2>/dev/null; true')
line=""
for _ in $(seq 1 150); do
    line=$(grep '^{' "$WORK/stdout" | jq -c "select(.probe == \"tcp_connect\" and .pid == $pid)" 2> /dev/null | head -n 1)
    [ -n "$line" ] && break
    sleep 0.1
done
[ -n "$line" ] || fail "no tcp_connect event for host pid $pid in the container's output"
echo "$line" | jq -e --argjson pid "$pid" --argjson self $$ '
    .daddr == "198.51.100.2" and .port == 8080 and .error == "" and
    .proctree[0].pid == $pid and (.proctree[0].cmdline | startswith("bash -c echo")) and
    (.proctree[1].cmdline | contains("marker_parent=1")) and
    ([.proctree[].pid] | index($self)) != null and
    .proctree[-1].pid == 1 and .proctree[0].username == "root"' > /dev/null ||
    fail "event lacks the host's process tree: $line"
pass "the event carries the host's process tree, from pid $pid through this test ($$) to PID 1"

docker stop -t 30 "$NAME" > /dev/null || fail "docker stop $NAME failed"
rc=0
for _ in $(seq 1 600); do kill -0 "$RUN_PID" 2> /dev/null || break; sleep 0.1; done
wait "$RUN_PID" || rc=$?
RUN_PID=""
[ $rc -eq 0 ] || fail "make docker-run exited $rc after docker stop: $(tail -n 5 "$ERR")"
grep -q "pidtree-bcc: stopped:" "$ERR" || fail "the daemon did not report its stop"
pass "docker stop: the daemon stopped cleanly and make docker-run exited 0"
finish
