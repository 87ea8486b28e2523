#!/usr/bin/env bash
# Builds the Debian package: scripts/deb.sh [OUTDIR]   (make deb)
#
# dpkg-buildpackage writes its results next to the source tree, so it runs
# on a copy in OUTDIR (default build-deb/), which then holds the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-build-deb}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac

version=$(sed -n 's/^project(pidtree-bcc VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -S Version)
[ "$version" = "$deb_version" ] || {
    echo "deb: debian/changelog says $deb_version, CMakeLists.txt says $version: add a changelog entry" >&2
    exit 1
}
missing=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')
[ -z "$missing" ] || { echo "deb: missing build dependencies: $missing (make deps)" >&2; exit 1; }

src=$OUT/pidtree-bcc-$version
rm -rf "$OUT"
mkdir -p "$src"
tar -C "$ROOT" --exclude='./build*' --exclude=./.git --exclude=./bench/results -cf - . |
    tar -C "$src" -xf -
(cd "$src" && dpkg-buildpackage -b -us -uc > "$OUT/build.log" 2>&1) ||
    { tail -n 40 "$OUT/build.log" >&2; echo "deb: dpkg-buildpackage failed ($OUT/build.log)" >&2; exit 1; }
rm -rf "$src"
deb=$(ls "$OUT"/pidtree-bcc_"$version"_*.deb)
echo "$deb"
