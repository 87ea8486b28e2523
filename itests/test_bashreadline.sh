#!/usr/bin/env bash
# bashreadline: a command typed into an interactive bash on a pseudo-
# terminal is reported once, with the shell's tree; a bash started from that
# bash reports its own lines with both shells in its tree; an empty line is
# not reported; a binary without readline() is refused with the config; the
# uprobe is gone after the daemon stops.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config bashreadline.yml <<'YAML'
bashreadline:
  binary: /bin/bash
YAML
)
start_daemon "$CONFIG"
PTY="$PIDTREE_SOURCE_DIR/itests/pty_shell.py"
python3 "$PTY" bash --norc --noprofile -i -- \
    'echo pt9_outer $((6*7))' '' 'bash --norc --noprofile -i' 'echo pt9_inner "two words"' \
    'exit' 'exit' > "$WORK/typed" || fail "the shell session failed: $(cat "$WORK/typed")"
outer=$(head -n 1 "$WORK/typed")
[ "$(wc -l < "$WORK/typed")" -eq 7 ] || fail "not every line was typed: $(cat "$WORK/typed")"

line=$(wait_json '.probe == "bashreadline" and .command == "echo pt9_outer $((6*7))"') ||
    fail "the typed command was not reported"
echo "$line" | jq -e --argjson outer "$outer" '.pid == $outer and .error == ""
    and .proctree[0].pid == $outer
    and .proctree[0].cmdline == "bash --norc --noprofile -i"
    and (.proctree[1].cmdline | test("python3? .*pty_shell.py"))
    and .proctree[-1].pid == 1 and (has("command_truncated") | not)' > /dev/null ||
    fail "wrong event for the typed command: $line"
pass "a command typed into bash on a pty: one event, the shell's tree"

line=$(wait_json '.probe == "bashreadline" and .command == "echo pt9_inner \"two words\""') ||
    fail "the inner shell's command was not reported"
echo "$line" | jq -e --argjson outer "$outer" '.pid != $outer
    and .proctree[0].cmdline == "bash --norc --noprofile -i"
    and .proctree[1].pid == $outer' > /dev/null ||
    fail "the inner shell's tree lacks the outer shell: $line"
pass "a nested interactive bash: its own lines, both shells in the tree"

wait_json ".probe == \"bashreadline\" and .pid == $outer and .command == \"exit\"" > /dev/null ||
    fail "the outer shell's exit was not reported"
n=$(count_json ".probe == \"bashreadline\" and .pid == $outer")
[ "$n" -eq 3 ] || fail "the outer shell reported $n lines, expected 3 (no empty line)"
[ "$(count_json '.probe == "bashreadline" and .command == ""')" -eq 0 ] ||
    fail "an empty line was reported"
pass "each typed line once, the empty one not at all"

# Non-interactive bash (a script) does not use readline: nothing reported.
bash -c 'echo pt9_script' > /dev/null
sleep 0.5
[ "$(count_json '.command == "echo pt9_script"')" -eq 0 ] || fail "a script's line was reported"
pass "a bash script is not reported"
stop_daemon

tracefs=/sys/kernel/tracing
if [ -r "$tracefs/uprobe_events" ]; then
    ! grep -q "pidtree_" "$tracefs/uprobe_events" || fail "a uprobe event was left behind"
    pass "no uprobe event left after the stop"
fi

bad=$(write_config bad.yml <<'YAML'
bashreadline:
  attach: auto
  binary: /bin/true
YAML
)
expect_exit 2 "$bad:3: bashreadline.binary: /bin/true: no readline() in it" \
    "$PIDTREE_BIN" -c "$bad" -p
pass "a binary without readline() is refused with the file and line"
finish
