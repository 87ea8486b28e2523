#!/usr/bin/env bash
# Builds the pidtree-bcc container image: scripts/docker-image.sh [IMAGE]
#
# The base image is made here, not pulled: a minimal Debian bookworm root
# (scripts/debian-base.sh: debootstrap from the Debian mirror, which the
# image's own apt-get needs anyway), imported into the engine once. So a
# build needs a Debian mirror and no image registry, the same on every host.
# BASE=IMAGE (say BASE=debian:bookworm-slim) uses a registry's image instead.
set -euo pipefail
IMAGE=${1:-pidtree-bcc}
BASE=${BASE:-local}
cd "$(dirname "$0")/.."
source scripts/container-engine.sh
container_engine

if [ "$BASE" = local ]; then
    tarball=$(scripts/debian-base.sh)
    BASE=pidtree-bcc-base:$(basename "$tarball" .tar)
    "$DOCKER" image inspect "$BASE" > /dev/null 2>&1 || "$DOCKER" import "$tarball" "$BASE" > /dev/null
fi
# Host networking for the build's apt-get: podman without a network plugin
# has no other network, and it works the same with Docker.
"$DOCKER" build --network host --build-arg BASE="$BASE" -t "$IMAGE" .
echo "built $IMAGE on $BASE; run it with: make docker-run CONFIG=example_config.yml" >&2
