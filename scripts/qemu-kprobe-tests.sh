#!/usr/bin/env bash
# The integration tests on Debian's stock kernel (kprobes enabled, matching
# headers) under QEMU: the path most production hosts take, which the
# kernel on these machines (no kprobes) cannot exercise.
#
#   scripts/qemu-kprobe-tests.sh [TEST ...]     (default: the tests below)
#
# Builds, once, a Debian bookworm root filesystem with the runtime
# libraries, bookworm's stock kernel and its own headers (cached in
# $PIDTREE_QEMU_CACHE), copies the project's build into an ext4 image,
# boots it, and runs each test with every probe forced to its kprobe form,
# test_all_probes (every probe in one daemon) likewise, then tcp_connect
# and test_all_probes once more with the automatic choice. Then the same
# image boots the other releases' stock kernels in PIDTREE_QEMU_KERNELS
# (default: bullseye's 5.10 and trixie's 6.12, each with its own headers
# from the mirror, unpacked beside bookworm's userland) and runs
# test_all_probes forced to the kprobe forms and with the automatic choice:
# one compile each, to keep the matrix within CI's time. Results come back
# over the serial console; any failure fails the run. Each boot is bounded
# by PIDTREE_QEMU_TIMEOUT seconds. PIDTREE_QEMU_PRIMARY=0 skips the
# bookworm boot (to look at one of the other kernels), and
# PIDTREE_ALL_PROBES reaches test_all_probes in the guest (a subset of the
# probes); PIDTREE_QEMU_PROBES_<suite> (e.g. PIDTREE_QEMU_PROBES_trixie)
# does the same for one of the other kernels' boots.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CACHE=${PIDTREE_QEMU_CACHE:-/var/cache/pidtree-qemu}
TIMEOUT=${PIDTREE_QEMU_TIMEOUT:-3000}
SUITE=${*:-test_tcp_connect test_net_listen test_udp_session}
EXTRA_KERNELS=${PIDTREE_QEMU_KERNELS-bullseye trixie}
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

# apt_suite SUITE ARGS...: apt-get (or apt-cache, as APT) on SUITE's main
# from the mirror, with lists and archives of its own under $CACHE: the
# host's apt configuration is not touched.
apt_suite() {
    local suite=$1; shift
    local dir=$CACHE/apt-$suite
    mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/sources"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' "$MIRROR" \
        "$suite" /usr/share/keyrings/debian-archive-keyring.gpg > "$dir/sources/$suite.sources"
    "${APT:-apt-get}" -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$dir/sources" \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir" -o Dir::State::status=/dev/null \
        -o APT::Architecture=amd64 -o Debug::NoLocking=1 "$@"
}

# kernel_fetch SUITE: that release's stock kernel and its headers, as .debs
# in $CACHE/kernels/VERSION (once); prints VERSION.
kernel_fetch() {
    local suite=$1 kpkg kver common dir
    apt_suite "$suite" update -qq > "$CACHE/apt-$suite.log" 2>&1 ||
        { tail -n 20 "$CACHE/apt-$suite.log" >&2; return 1; }
    kpkg=$(APT=apt-cache apt_suite "$suite" depends linux-image-amd64 |
        awk '/Depends: linux-image-/ {print $2; exit}')
    kver=${kpkg#linux-image-}
    common=$(APT=apt-cache apt_suite "$suite" depends "linux-headers-$kver" |
        awk '/Depends: linux-headers-.*-common/ {print $2; exit}')
    dir=$CACHE/kernels/$kver
    if [ ! -e "$dir/.complete" ] && [ -n "$kver" ] && [ -n "$common" ]; then
        mkdir -p "$dir"
        (cd "$dir" && apt_suite "$suite" download "$kpkg" "linux-headers-$kver" "$common") \
            >> "$CACHE/apt-$suite.log" 2>&1 || { tail -n 20 "$CACHE/apt-$suite.log" >&2; return 1; }
        dpkg-deb --fsys-tarfile "$dir/${kpkg}_"*.deb | tar -xO "./boot/vmlinuz-$kver" \
            > "$dir/vmlinuz-$kver"
        touch "$dir/.complete"
    fi
    [ -e "$dir/.complete" ] || return 1
    echo "$kver"
}

# kernel_stage VERSION: unpacks that kernel, its modules and its headers
# into the staged root (no maintainer scripts: bookworm's userland boots
# it), with an initramfs made there once and cached.
kernel_stage() {
    local kver=$1 dir=$CACHE/kernels/$1 deb
    # --keep-directory-symlink: the packages' ./lib must land in usr/lib
    # through the merged-/usr symlink, not replace it.
    for deb in "$dir"/*.deb; do
        dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$STAGE"
    done
    chroot "$STAGE" depmod -a "$kver"
    if [ ! -e "$dir/initrd.img-$kver" ]; then
        chroot "$STAGE" update-initramfs -c -k "$kver" > "$CACHE/initramfs-$kver.log" 2>&1 ||
            { tail -n 20 "$CACHE/initramfs-$kver.log" >&2; return 1; }
        cp "$STAGE/boot/initrd.img-$kver" "$dir/"
    fi
    cp "$dir/initrd.img-$kver" "$STAGE/boot/"
}

KVERS=()
for suite in $EXTRA_KERNELS; do
    kv=$(kernel_fetch "$suite") || { echo "qemu-kprobe-tests: cannot fetch $suite's kernel" >&2; exit 1; }
    KVERS+=("$kv")
done
t_rootfs=$(($(date +%s) - t0))

# The project goes in at the same path, so the build's absolute paths hold.
STAGE=$CACHE/stage
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -a "$ROOTFS/." "$STAGE/"
mkdir -p "$STAGE$ROOT"
tar -C "$ROOT" --exclude=./build-sanitize --exclude=./.git -cf - . | tar -C "$STAGE$ROOT" -xf -
for kv in "${KVERS[@]}"; do kernel_stage "$kv" || exit 1; done
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
export PIDTREE_ALL_PROBES='${PIDTREE_ALL_PROBES:-}' # empty: every probe
probes=\$(sed -n 's/.*pidtree\.probes=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -z "\$probes" ] || export PIDTREE_ALL_PROBES="\${probes//,/ }"
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo "QEMU-KERNEL \$(uname -r) kprobes=\$(test -e /sys/kernel/tracing/kprobe_events && echo yes || echo no)"
run() { # run MODE TEST
    local start=\$(date +%s) rc=0
    if [ "\$1" = auto ]; then unset PIDTREE_FORCE_ATTACH; else export PIDTREE_FORCE_ATTACH=\$1; fi
    bash $ROOT/itests/\$2.sh > /tmp/\$2.\$1.log 2>&1 || rc=\$?
    sed "s/^/  [\$1 \$2] /" /tmp/\$2.\$1.log | tail -n 40
    echo "QEMU-RESULT \$1 \$2 \$rc \$((\$(date +%s) - start))s"
}
# The kernel the image was made with runs the whole suite; the others
# (pidtree.quick on the command line) every probe at once, in both modes.
if grep -q pidtree.quick /proc/cmdline; then
    run kprobe test_all_probes
    run auto test_all_probes
else
    for t in $SUITE test_all_probes; do run kprobe \$t; done
    run auto test_tcp_connect
    run auto test_all_probes
fi
echo QEMU-DONE
sync
echo o > /proc/sysrq-trigger
EOF
chmod 755 "$STAGE/pidtree-init"
IMAGE=$CACHE/guest.img
rm -f "$IMAGE"
mke2fs -q -t ext4 -d "$STAGE" "$IMAGE" 6G
rm -rf "$STAGE"

# boot VERSION VMLINUZ INITRD APPEND: one boot of the image under that
# kernel; its console in $CACHE/console-VERSION.log, the wall time in $T_VM.
boot() {
    local kver=$1 t1
    LOG=$CACHE/console-$kver.log
    echo "== booting $kver under QEMU (software emulation), bounded by $TIMEOUT s" >&2
    t1=$(date +%s)
    timeout "$TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg,thread=single -cpu max -smp 2 -m 4096 -nographic \
        -no-reboot -kernel "$2" -initrd "$3" -drive file="$IMAGE",if=virtio,format=raw \
        -append "root=/dev/vda rw console=ttyS0 init=/pidtree-init panic=-1 $4" > "$LOG" 2>&1 || true
    T_VM=$(($(date +%s) - t1))
}

# check VERSION: the boot's results; 1 when one failed or the guest did not finish.
check() {
    grep -a "QEMU-KERNEL\|QEMU-RESULT" "$LOG" || true
    echo "$1: VM ${T_VM}s" >&2
    grep -aq QEMU-DONE "$LOG" || { echo "qemu-kprobe-tests: the guest did not finish (see $LOG)" >&2; return 1; }
    if grep -a "QEMU-RESULT" "$LOG" | awk '$4 != 0 {bad = 1} END {exit bad ? 0 : 1}'; then
        grep -a "\[kprobe\|\[auto" "$LOG" | grep -a "FAIL\|not ok" | head -n 20 >&2
        return 1
    fi
}

failed=0
if [ "${PIDTREE_QEMU_PRIMARY:-1}" != 0 ]; then
    boot "$KVER" "$ROOTFS/boot/vmlinuz-$KVER" "$ROOTFS/boot/initrd.img-$KVER" ""
    check "$KVER" || failed=1
fi
suites=($EXTRA_KERNELS)
for i in "${!KVERS[@]}"; do
    kv=${KVERS[$i]}
    subset=PIDTREE_QEMU_PROBES_${suites[$i]}
    subset=${!subset:-}
    boot "$kv" "$CACHE/kernels/$kv/vmlinuz-$kv" "$CACHE/kernels/$kv/initrd.img-$kv" \
        "pidtree.quick${subset:+ pidtree.probes=${subset// /,}}"
    check "$kv" || failed=1
done
echo "rootfs ${t_rootfs}s, total $(($(date +%s) - t0))s" >&2
[ "$failed" -eq 0 ] || exit 1
echo "qemu-kprobe-tests: all passed" >&2
