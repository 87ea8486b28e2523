#!/usr/bin/env bash
# The man page says what --help says: tests/man_page.sh BINARY MANPAGE
#
# Both OPTIONS lists, reduced to "FLAGS<TAB>DESCRIPTION" lines (wrapped
# descriptions joined, runs of spaces squeezed), must be equal: the same
# options in the same order with the same words. The page must also format
# without groff warnings. (README.md's copy of --help: itests/test_cli.sh.)
set -euo pipefail
BIN=$1
MAN=$2
WORK=$(mktemp -d /tmp/pidtree-man.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# help_options: the "options:" block of --help; an option line is two
# spaces, the flags, two or more spaces, the description; deeper-indented
# lines continue the description.
"$BIN" --help | awk '
    /^options:$/ { on = 1; next }
    on && /^$/ { exit }
    on && /^  -/ {
        if (cur != "") print cur
        line = substr($0, 3)
        split_at = match(line, /   */)
        cur = substr(line, 1, split_at - 1) "\t" substr(line, split_at + RLENGTH)
        next
    }
    on { sub(/^ +/, ""); cur = cur " " $0 }
    END { if (cur != "") print cur }' | tr -s ' ' > "$WORK/help"

# The page formatted as plain ASCII on one very long line per paragraph: an
# option's flags at indent 7, its description at indent 14.
groff -man -Tascii -rLL=3000n -P-cbu "$MAN" 2> "$WORK/groff" | awk '
    /^OPTIONS$/ { on = 1; next }
    on && /^[A-Z]/ { exit }
    on && /^       [^ ]/ { if (cur != "") print cur; sub(/^ +/, ""); cur = $0 "\t"; first = 1; next }
    on && /^              [^ ]/ { sub(/^ +/, ""); cur = cur (first ? "" : " ") $0; first = 0 }
    END { if (cur != "") print cur }' | tr -s ' ' > "$WORK/man"

n=$(wc -l < "$WORK/help")
[ "$n" -ge 5 ] || { echo "FAIL: found only $n options in --help" >&2; exit 1; }
diff -u --label "--help" --label "$MAN OPTIONS" "$WORK/help" "$WORK/man" ||
    { echo "FAIL: the man page's OPTIONS differ from --help" >&2; exit 1; }
echo "ok - the man page lists the $n options of --help, word for word"

groff -man -ww -z "$MAN" 2> "$WORK/warnings"
[ ! -s "$WORK/warnings" ] || { cat "$WORK/warnings" >&2; echo "FAIL: groff warnings" >&2; exit 1; }
echo "ok - the man page formats without warnings"
