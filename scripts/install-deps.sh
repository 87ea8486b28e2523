#!/usr/bin/env bash
# Installs everything pidtree-bcc needs to build, run and test on a fresh
# Debian/Ubuntu host. Idempotent: safe to run before every build.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root (apt-get, /lib/modules)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
PKGS=(
    build-essential cmake pkg-config clang-format
    libbpfcc-dev bpfcc-tools libjansson-dev libyaml-dev libcurl4-openssl-dev
    libcmocka-dev libcap-dev jq iproute2 netcat-openbsd procps valgrind
    python3 qemu-system-x86 debootstrap e2fsprogs curl groff-base
    podman runc busybox-static debhelper dpkg-dev fakeroot
    clang libclang-rt-dev
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Kernel headers: BCC compiles probes at run time against the running
# kernel's headers, found under /lib/modules/$(uname -r)/build.
K=$(uname -r)
if [ -e "/lib/modules/$K/build/include/linux/kconfig.h" ] ||
   [ -e "/lib/modules/$K/source/include/linux/kconfig.h" ]; then
    exit 0
fi
if apt-get install -y -qq --no-install-recommends "linux-headers-$K" 2>/dev/null; then
    exit 0
fi
# No package for this kernel (a custom build): fall back to the
# distribution's generic headers. Debian splits them into -amd64 (arch,
# generated) and -common (sources); BCC needs build -> arch, source -> common.
arch=$(dpkg --print-architecture)
if ! dpkg-query -W -f='${Status}' "linux-headers-$arch" 2>/dev/null | grep -q "ok installed"; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "linux-headers-$arch"
fi
build=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n1)
if [ -z "$build" ]; then
    echo "install-deps: no kernel headers found under /usr/src" >&2
    exit 1
fi
common=${build%-"$arch"}-common
mkdir -p "/lib/modules/$K"
ln -sfn "$build" "/lib/modules/$K/build"
[ -d "$common" ] && ln -sfn "$common" "/lib/modules/$K/source"
echo "install-deps: WARNING: no headers package for kernel $K;" \
     "linked generic headers $(basename "$build") instead." \
     "Struct layouts may differ from the running kernel." >&2
