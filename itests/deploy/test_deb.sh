#!/usr/bin/env bash
# `make deb` end to end: builds the package, installs it with dpkg -i into a
# clean Debian root (the debootstrap base, scripts/debian-base.sh, given only
# the package's declared dependencies), checks what it installed, runs the
# installed binary with the installed config under exactly the systemd
# unit's capability bounding set and sees an event with the host's process
# tree, then removes and purges it and checks nothing is left behind.
source "$(dirname "$0")/../lib.sh"
require_root
SRC=$PIDTREE_SOURCE_DIR
CACHE=${PIDTREE_DOCKER_CACHE:-/var/cache/pidtree-docker}
ROOT=$WORK/root
MOUNTS=()

deploy_cleanup() {
    local rc=$? i
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2> /dev/null || true
        wait "$DAEMON_PID" 2> /dev/null || true
        DAEMON_PID=""
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -R "${MOUNTS[$i]}" 2> /dev/null || true; done
    # Only once nothing is mounted inside: never delete through a bind mount.
    if ! grep -q " $ROOT/" /proc/mounts; then rm -rf "$ROOT"; fi
    (exit $rc)
    cleanup
}
trap deploy_cleanup EXIT

bind() { # bind SOURCE TARGET_IN_ROOT [ro]: a private recursive bind mount
    mkdir -p "$ROOT$2"
    mount --rbind "$1" "$ROOT$2"
    mount --make-rslave "$ROOT$2"
    MOUNTS+=("$ROOT$2")
    [ "${3:-}" != ro ] || mount -o remount,bind,ro "$ROOT$2"
}
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

# ---- build
deb=$("$SRC/scripts/deb.sh" "$WORK/deb") || fail "make deb failed"
version=$(dpkg-deb -f "$deb" Version)
pass "make deb built $(basename "$deb")"

# ---- a clean root with the declared dependencies only
tarball=$("$SRC/scripts/debian-base.sh")
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xf "$tarball"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
bind /proc /proc
bind /dev /dev
mkdir -p "$CACHE/apt-archives/partial"
bind "$CACHE/apt-archives" /var/cache/apt/archives
in_root apt-get update -qq > "$WORK/apt.log" 2>&1 || fail "apt-get update in the root: $(tail -n 5 "$WORK/apt.log")"
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$')
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $deps >> "$WORK/apt.log" 2>&1 || fail "installing the dependencies: $(tail -n 5 "$WORK/apt.log")"
# What the root holds before the package: compared after the purge.
snapshot() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp -o -path ./var/log \
        -o -path ./var/cache -o -path ./var/lib/dpkg -o -path ./var/lib/apt \) -prune -o -print) | sort
}
# The mount points for the run below exist before the snapshot.
mkdir -p "$ROOT/lib/modules" "$ROOT/usr/src"
snapshot > "$WORK/before"

# ---- install
cp "$deb" "$ROOT/tmp/"
in_root dpkg -i "/tmp/$(basename "$deb")" > "$WORK/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.log")"
[ "$(in_root dpkg-query -W -f='${Status}' pidtree-bcc)" = "install ok installed" ] ||
    fail "pidtree-bcc is not installed"
in_root dpkg-query -W -f='${Conffiles}\n' pidtree-bcc | grep -q "^ /etc/pidtree-bcc/config.yml " ||
    fail "/etc/pidtree-bcc/config.yml is not a conffile"
for f in /usr/bin/pidtree-bcc /usr/libexec/pidtree-bcc/pidtree-bcc-compile \
    /usr/share/pidtree-bcc/templates/tcp_connect.bpf.c /usr/include/pidtree/plugin.h \
    /usr/share/man/man8/pidtree-bcc.8.gz /lib/systemd/system/pidtree-bcc.service; do
    in_root dpkg -S "$f" > /dev/null 2>&1 || fail "the package lacks $f"
done
in_root dpkg -L pidtree-bcc | grep -q '/pidtree-bcc/plugins/loginuidmap.so$' || fail "no built-in plugins"
in_root dpkg -L pidtree-bcc | grep -q '/pkgconfig/pidtree-plugin.pc$' || fail "no pkg-config file"
pass "dpkg -i: binary, compiler, templates, plugins, header, .pc, man page, unit; config.yml a conffile"

[ "$(in_root pidtree-bcc --version)" = "pidtree-bcc $version" ] || fail "--version: $(in_root pidtree-bcc --version)"
in_root pidtree-bcc -p -c /etc/pidtree-bcc/config.yml > "$WORK/module.c" 2> "$WORK/p.err" ||
    fail "-p with the installed config: $(cat "$WORK/p.err")"
grep -q '^#line 1 "/usr/.*share/pidtree-bcc/templates/tcp_connect.bpf.c"$' "$WORK/module.c" ||
    fail "-p did not render the installed templates"
pass "the installed binary: --version $version, -p -c /etc/pidtree-bcc/config.yml renders the installed templates"

# ---- run it as the unit would: its ExecStart, its capability bounding set
unit=$ROOT/lib/systemd/system/pidtree-bcc.service
grep -q '^Restart=on-failure$' "$unit" || fail "the unit does not restart on failure"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$exec_start" ] && [ -n "$caps" ] || fail "the unit lacks ExecStart or CapabilityBoundingSet"
bounding=-all$(for c in $caps; do c=${c#CAP_}; printf ',+%s' "${c,,}"; done)
nnp=()
! grep -q '^NoNewPrivileges=yes$' "$unit" || nnp=(--no-new-privs)
bind /sys /sys
bind /lib/modules /lib/modules ro
bind /usr/src /usr/src ro
make_netns
: > "$OUT"
# chroot execs setpriv, which execs the daemon: $DAEMON_PID is the daemon.
chroot "$ROOT" env -i PATH=/usr/bin:/bin setpriv --bounding-set "$bounding" --inh-caps -all \
    "${nnp[@]}" -- $exec_start > "$OUT" 2> "$ERR" &
DAEMON_PID=$!
for _ in $(seq 1 600); do
    grep -q "attached in" "$ERR" && break
    kill -0 "$DAEMON_PID" 2> /dev/null || fail "the installed daemon exited: $(cat "$ERR")"
    sleep 0.1
done
grep -q "attached in" "$ERR" || fail "the installed daemon did not attach in 60 s"
pid=$(sh -c 'marker_parent=1; bash -c "echo \$\$; exec 3<>/dev/tcp/198.51.100.2/8080" 2>/dev/null; true')
line=$(wait_json ".probe == \"tcp_connect\" and .pid == $pid") || fail "no event for pid $pid"
echo "$line" | jq -e --argjson pid "$pid" '.daddr == "198.51.100.2" and .port == 8080 and
    (.proctree[1].cmdline | contains("marker_parent=1")) and .proctree[-1].pid == 1' > /dev/null ||
    fail "wrong event: $line"
eff=$(awk '$1 == "CapEff:" {print $2}' "/proc/$DAEMON_PID/status")
[ "$eff" = 000000c000081004 ] || fail "CapEff after attach is $eff ($(capsh --decode="$eff"))"
# systemctl reload: SIGHUP, a new compile and attach with what is left.
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 600); do grep -q "pidtree-bcc: restarted:\|restart failed" "$ERR" && break; sleep 0.1; done
grep -q "pidtree-bcc: restarted:" "$ERR" || fail "reload (SIGHUP) failed: $(tail -n 5 "$ERR")"
pid=$(sh -c 'marker_parent=1; bash -c "echo \$\$; exec 3<>/dev/tcp/198.51.100.2/8081" 2>/dev/null; true')
wait_json ".probe == \"tcp_connect\" and .pid == $pid and .port == 8081" > /dev/null ||
    fail "no event after the reload"
stop_daemon
pass "under the unit's bounding set ($caps) the installed daemon traces host connections, keeps only bpf, perfmon, net_admin, sys_ptrace, dac_read_search, and reloads"

# Each loading capability of the unit is needed: without it nothing loads.
for c in CAP_BPF CAP_PERFMON; do
    less=-all$(for k in $caps; do [ "$k" = "$c" ] || { k=${k#CAP_}; printf ',+%s' "${k,,}"; }; done)
    rc=0
    chroot "$ROOT" env -i PATH=/usr/bin:/bin setpriv --bounding-set "$less" --inh-caps -all \
        -- $exec_start > /dev/null 2> "$WORK/less.err" & p=$!
    for _ in $(seq 1 600); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -TERM "$p" 2> /dev/null || true
    wait "$p" || rc=$?
    [ $rc -eq 1 ] || fail "without $c the daemon exited $rc, expected 1: $(cat "$WORK/less.err")"
    grep -q "Operation not permitted" "$WORK/less.err" || fail "without $c: $(cat "$WORK/less.err")"
done
pass "without CAP_BPF or without CAP_PERFMON the daemon cannot load (exit 1, EPERM)"
for m in /usr/src /lib/modules /sys; do umount -R "$ROOT$m"; done
MOUNTS=("$ROOT/proc" "$ROOT/dev" "$ROOT/var/cache/apt/archives")

# ---- remove, purge
in_root dpkg -r pidtree-bcc > "$WORK/dpkg.log" 2>&1 || fail "dpkg -r: $(cat "$WORK/dpkg.log")"
[ -e "$ROOT/etc/pidtree-bcc/config.yml" ] || fail "dpkg -r removed the conffile (policy keeps it)"
[ ! -e "$ROOT/usr/bin/pidtree-bcc" ] || fail "dpkg -r left the binary"
in_root dpkg --purge pidtree-bcc > "$WORK/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/dpkg.log")"
rm -f "$ROOT/tmp/$(basename "$deb")"
snapshot > "$WORK/after"
diff -u "$WORK/before" "$WORK/after" || fail "files left behind after the purge"
pass "dpkg -r keeps only the conffile; dpkg --purge leaves the root as it was before"
finish
