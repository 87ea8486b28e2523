#!/usr/bin/env bash
# Builds the pidtree-bcc container image: scripts/docker-image.sh [IMAGE]
#
# BASE=local builds the Debian base image itself with debootstrap from the
# host's Debian mirror, for hosts that cannot pull from a registry.
set -euo pipefail
IMAGE=${1:-pidtree-bcc}
BASE=${BASE:-debian:bookworm-slim}
cd "$(dirname "$0")/.."

command -v docker > /dev/null || { echo "docker-image: docker is not installed" >&2; exit 1; }
docker info > /dev/null 2>&1 || { echo "docker-image: no Docker daemon is reachable" >&2; exit 1; }

if [ "$BASE" = local ]; then
    command -v debootstrap > /dev/null || apt-get install -y debootstrap
    rootfs=$(mktemp -d /tmp/pidtree-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    tar -C "$rootfs" -c . | docker import - pidtree-bcc-base:bookworm
    BASE=pidtree-bcc-base:bookworm
fi
docker build --build-arg BASE="$BASE" -t "$IMAGE" .
echo "built $IMAGE; run it with: make docker-run CONFIG=example_config.yml"
