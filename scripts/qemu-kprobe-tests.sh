#!/usr/bin/env bash
# The integration tests on Debian's stock kernel (kprobes enabled, matching
# headers) under QEMU: the path most production hosts take, which the
# kernel on these machines (no kprobes) cannot exercise.
#
#   scripts/qemu-kprobe-tests.sh [TEST ...]     (default: the tests below)
#
# Builds, once, a Debian root filesystem with the runtime libraries, the
# stock kernel and its own headers (cached in $PIDTREE_QEMU_CACHE), copies
# the project's build into an ext4 image, boots it, and runs each test with
# every probe forced to its kprobe form, then tcp_connect once more with the
# automatic choice. Results come back over the serial console; any failure
# fails the run. The whole run is bounded by PIDTREE_QEMU_TIMEOUT seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CACHE=${PIDTREE_QEMU_CACHE:-/var/cache/pidtree-qemu}
TIMEOUT=${PIDTREE_QEMU_TIMEOUT:-3000}
SUITE=${*:-test_tcp_connect test_net_listen test_udp_session}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "qemu-kprobe-tests: run as root" >&2; exit 1; }

need=()
command -v qemu-system-x86_64 > /dev/null || need+=(qemu-system-x86)
command -v debootstrap > /dev/null || need+=(debootstrap)
command -v mke2fs > /dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The stock kernel's exact version, as linux-image-amd64 names it today.
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
KVER=${KPKG#linux-image-}
PKGS=libbpfcc,libjansson4,libyaml-0-2,libcurl4,python3,jq,iproute2,procps,kmod,util-linux,bash
PKGS=$PKGS,initramfs-tools,make,gcc,libc6-dev,hostname
# The kernel comes from the security suite, which debootstrap does not read:
# installed afterwards with the host's own apt sources.
KERNEL_PKGS="$KPKG linux-headers-$KVER"
ROOTFS=$CACHE/rootfs-$(echo "$KERNEL_PKGS $PKGS" | sha1sum | cut -c1-12)

t0=$(date +%s)
if [ ! -e "$ROOTFS/.complete" ]; then
    echo "== building the guest root filesystem ($KVER) in $ROOTFS" >&2
    rm -rf "$ROOTFS"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 ||
        { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
    cp /etc/apt/sources.list.d/*.sources "$ROOTFS/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -e /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOTFS/etc/apt/"
    rm -f "$ROOTFS"/etc/apt/sources.list.d/*.disabled*
    mount -t proc proc "$ROOTFS/proc"
    { chroot "$ROOTFS" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get install -y -qq \
            --no-install-recommends $KERNEL_PKGS; } > "$CACHE/kernel-install.log" 2>&1 ||
        { umount "$ROOTFS/proc"; tail -n 30 "$CACHE/kernel-install.log" >&2; exit 1; }
    umount "$ROOTFS/proc"
    [ -e "$ROOTFS/boot/initrd.img-$KVER" ] || chroot "$ROOTFS" update-initramfs -c -k "$KVER"
    touch "$ROOTFS/.complete"
fi
t_rootfs=$(($(date +%s) - t0))

# The project goes in at the same path, so the build's absolute paths hold.
STAGE=$CACHE/stage
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -a "$ROOTFS/." "$STAGE/"
mkdir -p "$STAGE$ROOT"
tar -C "$ROOT" --exclude=./build-sanitize --exclude=./.git -cf - . | tar -C "$STAGE$ROOT" -xf -
cat > "$STAGE/pidtree-init" <<EOF
#!/bin/bash
# PID 1 of the guest: mounts, runs the tests, reports, powers off.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts pts /dev/pts
# /tmp stays on the image: the project may live under it (a CI checkout).
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ip link set lo up
hostname pidtree-guest
export PATH=/usr/sbin:/usr/bin:/sbin:/bin PIDTREE_ATTACH_TIMEOUT=900
export PIDTREE_BIN=$BUILD/pidtree-bcc PIDTREE_BUILD_DIR=$BUILD PIDTREE_SOURCE_DIR=$ROOT
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo "QEMU-KERNEL \$(uname -r) kprobes=\$(test -e /sys/kernel/tracing/kprobe_events && echo yes || echo no)"
run() { # run MODE TEST
    local start=\$(date +%s) rc=0
    if [ "\$1" = auto ]; then unset PIDTREE_FORCE_ATTACH; else export PIDTREE_FORCE_ATTACH=\$1; fi
    bash $ROOT/itests/\$2.sh > /tmp/\$2.\$1.log 2>&1 || rc=\$?
    sed "s/^/  [\$1 \$2] /" /tmp/\$2.\$1.log | tail -n 40
    echo "QEMU-RESULT \$1 \$2 \$rc \$((\$(date +%s) - start))s"
}
for t in $SUITE; do run kprobe \$t; done
run auto test_tcp_connect
echo QEMU-DONE
sync
echo o > /proc/sysrq-trigger
EOF
chmod 755 "$STAGE/pidtree-init"
IMAGE=$CACHE/guest.img
rm -f "$IMAGE"
mke2fs -q -t ext4 -d "$STAGE" "$IMAGE" 6G
rm -rf "$STAGE"

echo "== booting $KVER under QEMU (software emulation), bounded by $TIMEOUT s" >&2
LOG=$CACHE/console.log
t1=$(date +%s)
timeout "$TIMEOUT" qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 4096 -nographic \
    -no-reboot -kernel "$ROOTFS/boot/vmlinuz-$KVER" -initrd "$ROOTFS/boot/initrd.img-$KVER" \
    -drive file="$IMAGE",if=virtio,format=raw \
    -append "root=/dev/vda rw console=ttyS0 init=/pidtree-init panic=-1" > "$LOG" 2>&1 || true
t_vm=$(($(date +%s) - t1))

grep -a "QEMU-KERNEL\|QEMU-RESULT" "$LOG" || true
echo "rootfs ${t_rootfs}s, VM ${t_vm}s" >&2
grep -aq QEMU-DONE "$LOG" || { echo "qemu-kprobe-tests: the guest did not finish (see $LOG)" >&2; exit 1; }
if grep -a "QEMU-RESULT" "$LOG" | awk '$4 != 0 {bad = 1} END {exit bad ? 0 : 1}'; then
    grep -a "\[kprobe\|\[auto" "$LOG" | grep -a "FAIL\|not ok" | head -n 20 >&2
    exit 1
fi
echo "qemu-kprobe-tests: all passed" >&2
