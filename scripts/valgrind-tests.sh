#!/usr/bin/env bash
# Runs every unit test binary of BUILD_DIR under valgrind memcheck; any
# error or definite leak fails.
set -euo pipefail
build=${1:-build}
failed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    if valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$t" > "$t.valgrind.log" 2>&1; then
        echo "valgrind ok: $(basename "$t")"
    else
        echo "valgrind FAILED: $(basename "$t")"; tail -n 40 "$t.valgrind.log"; failed=1
    fi
done
exit $failed
