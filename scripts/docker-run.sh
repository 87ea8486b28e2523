#!/usr/bin/env bash
# Runs the image in the foreground, as `make docker-run` does:
#   scripts/docker-run.sh IMAGE CONFIG [NAME]
# JSON lines on stdout, the daemon's messages on stderr; `docker stop NAME`
# (SIGTERM) ends it with exit status 0.
#
# CAUTION: --privileged and --pid host give the container every capability
# and the host's process table: it sees and traces everything on the host.
set -euo pipefail
IMAGE=$1
CONFIG=$(realpath "$2")
NAME=${3:-pidtree-bcc}
cd "$(dirname "$0")/.."
source scripts/container-engine.sh
container_engine

# --privileged     all capabilities (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN to
#                  mount tracefs) and no seccomp filter: bpf() and
#                  perf_event_open() are blocked by the default profile
# --pid host       the host's processes: /proc, pids and trees are the host's
# --net host       the host's sockets, for net_listen's /proc/net snapshots
# /sys             tracefs and the kernel's BTF, read and written in place
# /lib/modules, /usr/src   the running kernel's headers, which the probes
#                  are compiled against at start-up (read-only)
# /etc/passwd      host usernames in the trees instead of bare uids (read-only)
exec "$DOCKER" run --rm --name "$NAME" --privileged --pid host --net host \
    -v /sys:/sys -v /lib/modules:/lib/modules:ro -v /usr/src:/usr/src:ro \
    -v /etc/passwd:/etc/passwd:ro -v "$CONFIG":/etc/pidtree-bcc/config.yml:ro \
    "$IMAGE" -c /etc/pidtree-bcc/config.yml
