#!/usr/bin/env bash
# nest.sh DEPTH COUNT ADDR BIGARG [COMMAND...]: a chain of DEPTH shells,
# each carrying BIGARG in its command line; the innermost makes COUNT
# connection attempts to ADDR port 7999 (refused at once on loopback), or
# runs COMMAND. The hostile user of test_hostile_flood and bench/.
if [ "$1" -gt 0 ]; then
    depth=$1; shift
    bash "$0" $((depth - 1)) "$@"
    exit
fi
if [ $# -gt 4 ]; then
    shift 4
    exec "$@"
fi
for ((i = 0; i < $2; i++)); do
    { : 3<>"/dev/tcp/$3/7999"; } 2>/dev/null
done
