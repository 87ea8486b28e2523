#!/usr/bin/env bash
# Fails when a C file differs from what the repo's .clang-format makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
    if ! clang-format --style=file "$f" | diff -q "$f" - >/dev/null; then
        echo "not formatted: $f (clang-format -i $f)"; bad=1
    fi
done < <(git ls-files '*.c' '*.h' | grep -v '^templates/')
exit $bad
