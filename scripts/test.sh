#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu host: installs what it
# needs, builds with -Werror, runs the unit and integration tests, then the
# same under AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz
# target for a bounded time (scripts/fuzz.sh), then the unit tests under
# valgrind. Exit status 0 only when everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: run as root (sudo make test): the integration tests load eBPF programs" >&2
    exit 1
fi
scripts/install-deps.sh

jobs=$(nproc)
echo "== build (-Werror)"
cmake -S . -B build -DPIDTREE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== format check"
scripts/check-format.sh
echo "== unit and integration tests"
(cd build && ctest --output-on-failure -LE 'qemu|container|deb')

echo "== build with ASan + UBSan"
cmake -S . -B build-sanitize -DPIDTREE_WERROR=ON -DPIDTREE_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-sanitize -j"$jobs"
echo "== unit and integration tests under ASan + UBSan"
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    LSAN_OPTIONS=suppressions="$PWD/../scripts/lsan.supp":print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -LE 'qemu|container|deb')

echo "== fuzzing: each libFuzzer target for ${FUZZ_SECONDS:-30}s under ASan + UBSan"
scripts/fuzz.sh

echo "== unit tests under valgrind"
scripts/valgrind-tests.sh build

echo "== deployment: make docker-run in a container, the Debian package in a clean root;" \
    "container_labels with real containers"
(cd build && ctest --output-on-failure -L 'container|deb')

echo "== kernel matrix: Debian's stock kernel under QEMU, kprobe forms"
(cd build && ctest --output-on-failure -L qemu)
echo "== all tests passed"
