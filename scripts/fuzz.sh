#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan into build-fuzz, and runs each for FUZZ_SECONDS (default 30) from
# its seed corpus (tests/fuzz/corpus/NAME). Fails on the first crash, leak,
# timeout or out-of-memory; the input that did it is left in
# build-fuzz/crashes/NAME/ (make it a regression test, then fix it).
# New inputs found while running go to build-fuzz/corpus/NAME, not to the
# repository's seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
jobs=$(nproc)
CC=clang cmake -S . -B build-fuzz -DPIDTREE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"

status=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    target=${name#fuzz_}
    seeds=tests/fuzz/corpus/$target
    work=build-fuzz/corpus/$target
    crashes=build-fuzz/crashes/$target
    mkdir -p "$work" "$crashes"
    echo "== $name: ${seconds}s"
    if ! (cd build-fuzz && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        LSAN_OPTIONS=suppressions="$PWD/../scripts/lsan.supp":print_suppressions=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$PWD/../$crashes/" \
        "../$work" "../$seeds" 2>"../build-fuzz/$name.log"); then
        tail -n 60 "build-fuzz/$name.log"
        echo "== $name FAILED: input in $crashes/" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "build-fuzz/$name.log" | tail -n 2
    fi
done
exit $status
