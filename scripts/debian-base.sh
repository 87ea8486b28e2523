#!/usr/bin/env bash
# Prints the path of a minimal Debian root filesystem tarball, making it once
# with debootstrap from the Debian mirror (no image registry):
#   scripts/debian-base.sh
# Cached in $PIDTREE_DOCKER_CACHE (default /var/cache/pidtree-docker), keyed
# by suite and mirror. The container image's base (scripts/docker-image.sh)
# and the package test's clean root (itests/deploy/test_deb.sh) both start
# from it.
set -euo pipefail
CACHE=${PIDTREE_DOCKER_CACHE:-/var/cache/pidtree-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
key=$(echo "minbase $SUITE $MIRROR" | sha1sum | cut -c1-12)
tarball=$CACHE/base-$SUITE-$key.tar
if [ -s "$tarball" ]; then
    echo "$tarball"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "debian-base: debootstrap needs root (sudo)" >&2; exit 1; }
command -v debootstrap > /dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
mkdir -p "$CACHE"
rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
log=$CACHE/debootstrap.log
echo "debian-base: building a Debian $SUITE root with debootstrap (once; cached in $CACHE)" >&2
debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" > "$log" 2>&1 ||
    { tail -n 20 "$log" >&2; exit 1; }
# What a registry's slim image also leaves out.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
