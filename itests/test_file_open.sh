#!/usr/bin/env bash
# file_open: opens of temporary files matched and not matched by each
# filter (include and exclude prefixes, relative paths, write_only,
# failed_only), through open, openat and openat2, with the path as passed,
# the flags by name, the result and the opener's tree; -w swaps the
# prefixes without a restart.
source "$(dirname "$0")/lib.sh"
require_root

D="$WORK/files"
mkdir -p "$D/inc/skip" "$D/inc/deep" "$D/other"
echo x | tee "$D/inc/a" "$D/inc/skip/b" "$D/inc/deep/c" "$D/other/d" > /dev/null
OPENS="$PIDTREE_SOURCE_DIR/itests/opens.py"

CONFIG=$(write_config file_open.yml <<YAML
file_open:
  include_paths: [$D/inc/]
  exclude_paths: [$D/inc/skip/]
YAML
)
start_daemon "$CONFIG" -w
pid=$(cd "$D/inc" && python3 "$OPENS" read:"$D/inc/a" write:"$D/inc/new" read:"$D/inc/missing" \
    read:"$D/inc/skip/b" read:"$D/other/d" read:a open:"$D/inc/deep/c" openat2:"$D/inc/deep/c" |
    head -n 1)

line=$(wait_json ".probe == \"file_open\" and .path == \"$D/inc/a\"") || fail "included open not reported"
echo "$line" | jq -e --argjson pid "$pid" '.pid == $pid and .retval >= 0 and .flags == ["O_RDONLY","O_CLOEXEC"]
    and (.proctree[0].cmdline | test("opens.py")) and .proctree[-1].pid == 1
    and .error == ""' > /dev/null || fail "wrong event for an included open: $line"
pass "an open under include_paths: path, flags, fd, the opener's tree"

line=$(wait_json ".path == \"$D/inc/new\"") || fail "write open not reported"
echo "$line" | jq -e '.flags == ["O_WRONLY","O_CREAT","O_TRUNC","O_CLOEXEC"]' > /dev/null ||
    fail "flags of a write open: $line"
line=$(wait_json ".path == \"$D/inc/missing\"") || fail "failed open not reported"
echo "$line" | jq -e '.retval == -2' > /dev/null || fail "failed open's retval: $line"
pass "flags by name; a failed open reports -errno"

n=$(count_json ".pid == $pid and .path == \"$D/inc/deep/c\"")
if [ "$(uname -m)" = x86_64 ]; then want=2; else want=1; fi
[ "$n" -eq "$want" ] || fail "open(2) and openat2(2): $n events, expected $want"
pass "open(2) and openat2(2) reported like openat(2)"

sleep 0.5
for p in "$D/inc/skip/b" "$D/other/d" "a"; do
    [ "$(count_json ".path == \"$p\"")" -eq 0 ] || fail "$p reported"
done
pass "exclude_paths, paths outside include_paths and relative paths are not reported"

# -w: the prefixes are swapped in the kernel, no restart.
sed -i "s|exclude_paths: .*|exclude_paths: [$D/inc/deep/]|" "$CONFIG"
wait_swap
pid2=$(python3 "$OPENS" read:"$D/inc/skip/b" read:"$D/inc/deep/c" | head -n 1)
wait_json ".pid == $pid2 and .path == \"$D/inc/skip/b\"" > /dev/null ||
    fail "no longer excluded path not reported after the swap"
sleep 0.5
[ "$(count_json ".pid == $pid2 and .path == \"$D/inc/deep/c\"")" -eq 0 ] ||
    fail "newly excluded path reported after the swap"
[ "$(grep -c "attached in" "$ERR")" -eq 1 ] || fail "the swap restarted the daemon"
pass "-w swaps include and exclude prefixes without a restart"
stop_daemon

# write_only and failed_only together: only failed opens for writing.
CONFIG=$(write_config switches.yml <<YAML
file_open:
  include_paths: [$D/]
  write_only: true
  failed_only: true
YAML
)
start_daemon "$CONFIG"
pid=$(python3 "$OPENS" write:"$D/other/ok" write:"$D/nodir/x" read:"$D/nodir/y" read:"$D/other/d" |
    head -n 1)
line=$(wait_json ".pid == $pid and .path == \"$D/nodir/x\"") || fail "failed write open not reported"
echo "$line" | jq -e '.retval == -2' > /dev/null || fail "failed write open: $line"
sleep 0.5
[ "$(count_json ".pid == $pid")" -eq 1 ] || fail "write_only/failed_only let other opens through"
pass "write_only and failed_only: only the failed open for writing"
stop_daemon

bad=$(write_config bad.yml <<'YAML'
file_open:
  include_paths: [/tmp/]
  exclude_paths: [relative/]
YAML
)
expect_exit 2 "$bad:3: file_open.exclude_paths[0]: 'relative/' is not an absolute path" \
    "$PIDTREE_BIN" -c "$bad" -p
pass "a relative prefix is refused with the file and line"
finish
