#!/usr/bin/env bash
# exec: an exec chain gives one event per program, each with the path
# executed and the new program's command line first in its tree; uid and
# filename filters; failed execs only with include_failed; -w swaps the
# filters without a restart.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config exec.yml <<'YAML'
exec:
  exclude_filenames: ["/usr/bin/env"]
  exclude_uids: [65534]
YAML
)
start_daemon "$CONFIG" -w
marker="pt9chain$$"
bash -c "echo \$\$ > '$WORK/chain.pid'; exec /bin/sh -c 'exec /usr/bin/env /bin/true $marker'"
pid=$(cat "$WORK/chain.pid")
line=$(wait_json ".probe == \"exec\" and .pid == $pid and .filename == \"/bin/true\"") ||
    fail "the last exec of the chain was not reported"
echo "$line" | jq -e --arg m "$marker" '.retval == 0 and .proctree[0].cmdline == "/bin/true " + $m
    and (.proctree[1].cmdline | test("test_exec.sh")) and .proctree[-1].pid == 1
    and .error == ""' > /dev/null || fail "wrong event for /bin/true: $line"
line=$(wait_json ".probe == \"exec\" and .pid == $pid and .filename == \"/bin/sh\"") ||
    fail "/bin/sh of the chain not reported"
echo "$line" | jq -e --arg m "$marker" '.proctree[0].cmdline == "/bin/sh -c exec /usr/bin/env /bin/true " + $m' \
    > /dev/null || fail "wrong tree for /bin/sh: $line"
chain=$(jq -r "select(.probe == \"exec\" and .pid == $pid) | .filename" "$OUT" | tr '\n' ' ')
[ "$chain" = "/usr/bin/bash /bin/sh /bin/true " ] ||
    fail "the chain's execs: '$chain', expected bash, sh, true in order (env excluded)"
pass "an exec chain: one event per program, its command line first, exclude_filenames"

setpriv --reuid 65534 --regid 65534 --clear-groups /bin/true "nobody$marker"
sleep 0.5
[ "$(count_json ".probe == \"exec\" and .filename == \"/bin/true\" and (.proctree[0].cmdline | endswith(\"nobody$marker\"))")" -eq 0 ] ||
    fail "an exec as uid 65534 was reported"
wait_json ".probe == \"exec\" and .filename == \"/usr/bin/setpriv\"" > /dev/null ||
    fail "setpriv's own exec (uid 0) not reported"
pass "exclude_uids drops the execs of that uid (after setuid)"

bash -c "echo \$\$ > '$WORK/fail.pid'; /nonexistent/$marker 2>/dev/null; true"
sleep 0.5
[ "$(count_json ".filename == \"/nonexistent/$marker\"")" -eq 0 ] ||
    fail "a failed exec reported without include_failed"
pass "no failed execs without include_failed"

# -w: exclude_filenames swapped, no restart.
sed -i 's|exclude_filenames: .*|exclude_filenames: ["/bin/t*"]|' "$CONFIG"
wait_swap
bash -c "echo \$\$ > '$WORK/chain2.pid'; exec /usr/bin/env /bin/true $marker"
pid=$(cat "$WORK/chain2.pid")
wait_json ".probe == \"exec\" and .pid == $pid and .filename == \"/usr/bin/env\"" > /dev/null ||
    fail "/usr/bin/env not reported after the swap"
sleep 0.5
[ "$(count_json ".probe == \"exec\" and .pid == $pid and .filename == \"/bin/true\"")" -eq 0 ] ||
    fail "/bin/true reported although /bin/t* is excluded"
[ "$(grep -c "attached in" "$ERR")" -eq 1 ] || fail "the swap restarted the daemon"
pass "-w swaps the filename globs without a restart"
stop_daemon

CONFIG=$(write_config failed.yml <<YAML
exec:
  include_failed: true
  filenames: ["/nonexistent/*", "/bin/true"]
YAML
)
start_daemon "$CONFIG"
bash -c "echo \$\$ > '$WORK/fail.pid'; /nonexistent/$marker 2>/dev/null; /bin/true; true"
shell=$(cat "$WORK/fail.pid")
line=$(wait_json ".probe == \"exec\" and .filename == \"/nonexistent/$marker\"") ||
    fail "failed exec not reported with include_failed"
echo "$line" | jq -e --argjson shell "$shell" '.retval == -2 and .proctree[1].pid == $shell
    and (.proctree[0].cmdline | startswith("bash -c"))' > /dev/null ||
    fail "wrong failed exec event: $line"
line=$(wait_json ".probe == \"exec\" and .filename == \"/bin/true\" and .proctree[1].pid == $shell") ||
    fail "the successful exec after it not reported"
echo "$line" | jq -e '.retval == 0' > /dev/null || fail "successful exec's retval: $line"
[ "$(count_json ".probe == \"exec\" and .filename == \"/usr/bin/bash\" and .pid == $shell")" -eq 0 ] ||
    fail "filenames let bash through"
pass "include_failed: a failed exec with -errno and the tree of the process that tried"
stop_daemon
finish
