#!/usr/bin/env bash
# Makes podman's Docker-compatible API answer on /run/podman/podman.sock, for
# the docker CLI (DOCKER_HOST=unix:///run/podman/podman.sock):
#   scripts/podman-service.sh [SOCKET]
#       prints the pid of the service it started, nothing when one already
#       answered. SOCKET (default /run/podman/podman.sock) gives a service of
#       one's own (the container_labels tests stop and restart theirs);
#       its log is then SOCKET.log.
# Installs podman and runc when missing. Where systemd runs, the podman.socket
# unit is the better way; this is for hosts (and CI) without it.
set -euo pipefail
SOCKET=${1:-/run/podman/podman.sock}
LOG=/var/log/pidtree-podman-service.log
[ "$SOCKET" = /run/podman/podman.sock ] || LOG=$SOCKET.log
[ "$(id -u)" -eq 0 ] || { echo "podman-service: run as root" >&2; exit 1; }

answers() { curl -sf --max-time 5 --unix-socket "$SOCKET" http://d/_ping > /dev/null 2>&1; }
if answers; then
    exit 0
fi
if ! command -v podman > /dev/null || ! command -v runc > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >&2
fi
# podman raises RLIMIT_NOFILE in every container to 1048576 by default; runc
# then fails ("error setting rlimits") where the host's hard limit is lower.
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 1048576 ] &&
    [ ! -e /etc/containers/containers.conf ]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n' > /etc/containers/containers.conf
    echo "podman-service: wrote /etc/containers/containers.conf (no default ulimits:" \
        "the host's open-file limit is below podman's default)" >&2
fi
mkdir -p "$(dirname "$SOCKET")"
# runc and cgroupfs: crun and the systemd cgroup manager need a systemd host.
setsid podman --runtime runc --cgroup-manager cgroupfs system service --time=0 \
    "unix://$SOCKET" > "$LOG" 2>&1 < /dev/null &
pid=$!
for _ in $(seq 1 100); do
    answers && { echo "$pid"; exit 0; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
done
echo "podman-service: the service did not answer on $SOCKET:" >&2
tail -n 20 "$LOG" >&2
kill "$pid" 2> /dev/null || true
exit 1
