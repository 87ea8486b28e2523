#!/usr/bin/env bash
# The command line: help matches the README, -v, -p (also as non-root),
# bad usage and bad configs exit 2 with a message naming the problem,
# runtime failures exit 1.
source "$(dirname "$0")/lib.sh"
require_root

# -h prints the help the README quotes in its Options section.
"$PIDTREE_BIN" -h > "$WORK/help"
sed -n '/^<!-- help:start -->$/,/^<!-- help:end -->$/p' "$PIDTREE_SOURCE_DIR/README.md" |
    sed '1,2d;$d' | sed '$d' > "$WORK/readme_help"
diff -u "$WORK/readme_help" "$WORK/help" || fail "README's help text differs from -h"
pass "-h matches the README"

"$PIDTREE_BIN" --version | grep -qE '^pidtree-bcc [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
pass "--version"

expect_exit 2 "unknown option '--bogus'" "$PIDTREE_BIN" --bogus
expect_exit 2 "--lost-event-telemetry: 'x'" "$PIDTREE_BIN" --lost-event-telemetry x
expect_exit 2 "no configuration" "$PIDTREE_BIN"
pass "bad usage exits 2"

# -p prints the module, as root and as an unprivileged user.
"$PIDTREE_BIN" -c "$PIDTREE_SOURCE_DIR/example_config.yml" -p > "$WORK/module.c"
grep -q '^#line 1 ".*/tcp_connect.bpf.c"$' "$WORK/module.c" || fail "-p lacks the template"
grep -q 'int tcp_connect__inet_sock_set_state(void \*ctx)' "$WORK/module.c" || fail "-p lacks the program"
pass "-p prints the rendered module with #line markers"
cp "$PIDTREE_SOURCE_DIR/example_config.yml" "$WORK/example.yml"
chmod 644 "$WORK/example.yml"
su nobody -s /bin/sh -c "'$PIDTREE_BIN' -c '$WORK/example.yml' -p" > "$WORK/module_user.c" ||
    fail "-p as nobody failed"
grep -q 'tcp_connect__inet_sock_set_state' "$WORK/module_user.c" || fail "-p as nobody: no module"
pass "-p works without root"

# Bad configs: exit 2, with file, line and what is wrong.
bad() { # bad NAME STDERR_SUBSTRING <<YAML
    local cfg
    cfg=$(write_config "$1")
    expect_exit 2 "$2" "$PIDTREE_BIN" -c "$cfg" -p
    grep -qF "$cfg:" "$WORK/stderr" || fail "$1: message does not name the file"
    pass "bad config $1: $2"
}
bad unknown_probe.yml "unknown" <<'YAML'
tcp_connekt: {}
YAML
bad bad_mask.yml "network_mask" <<'YAML'
tcp_connect:
  filters:
    - network: 10.0.0.0
      network_mask: 255.0.255.0
YAML
bad bad_port.yml "70000" <<'YAML'
tcp_connect:
  excludeports: [70000]
YAML
bad bad_range.yml "excludeports" <<'YAML'
tcp_connect:
  excludeports: ["90-80"]
YAML
bad bad_addr.yml "network" <<'YAML'
tcp_connect:
  filters:
    - network: 10.0.0.300
      network_mask: 8
YAML
bad missing_include.yml "nothere.yml" <<'YAML'
tcp_connect: !include nothere.yml
YAML
bad bad_yaml.yml "invalid YAML" <<'YAML'
tcp_connect:
  filters: [
YAML
# The parse error says where: the unclosed list opens on line 2 and the
# parser finds the end of input on line 3; either is a useful place.
grep -qE "^pidtree-bcc: $WORK/bad_yaml.yml:[23]: invalid YAML: .+" "$WORK/stderr" ||
    fail "bad_yaml.yml: no FILE:LINE: invalid YAML: reason: $(cat "$WORK/stderr")"
pass "a YAML syntax error names the line and the parser's reason"
expect_exit 2 "does-not-exist.yml" "$PIDTREE_BIN" -c "$WORK/does-not-exist.yml"
pass "missing config file exits 2"

# Hostile configs end in a message naming the file, never a crash or a hang
# (issue 15); the YAML loader's unit tests have the rest.
expect_exit 2 "http://127.0.0.1:1/config.yml: cannot fetch: " \
    "$PIDTREE_BIN" -c http://127.0.0.1:1/config.yml -p
pass "-c URL whose fetch fails exits 2 naming the URL and the reason"
bad include_key.yml "mapping keys must be plain strings" <<'YAML'
? !include x.yml
: 1
YAML
mkfifo "$WORK/fifo.yml"
bad fifo_include.yml "fifo.yml: not a regular file" <<'YAML'
tcp_connect: !include fifo.yml
YAML
bad alias_bomb.yml "expands to more than 1000000 nodes" <<'YAML'
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
tcp_connect: {plugins: {p: {x: *f}}}
YAML

# A duplicate key takes the last value with a warning, as the original did.
cfg=$(write_config duplicate.yml <<'YAML'
tcp_connect: {attach: kprobe}
tcp_connect: {}
YAML
)
expect_exit 0 "warning: $cfg:2: duplicate key 'tcp_connect': the earlier value on line 1 is ignored" \
    "$PIDTREE_BIN" -c "$cfg" -p
grep -q 'tcp_connect (id 1, tracepoint)' "$WORK/stdout" || fail "duplicate key: not the last value"
pass "a duplicate key warns with both lines and takes the last value"

# Runtime failures exit 1: not root.
expect_exit 1 "must run as root" su nobody -s /bin/sh -c "'$PIDTREE_BIN' -c '$WORK/example.yml'"
pass "running as non-root exits 1 with the reason"
finish
