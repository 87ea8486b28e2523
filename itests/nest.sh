#!/usr/bin/env bash
# nest.sh DEPTH COUNT ADDR BIGARG: a chain of DEPTH shells, each carrying
# BIGARG in its command line; the innermost makes COUNT connection attempts
# to ADDR port 7999 (refused at once on loopback). The hostile user of
# test_hostile_flood and bench/flood.sh.
if [ "$1" -gt 0 ]; then
    bash "$0" $(($1 - 1)) "$2" "$3" "$4"
    exit
fi
for ((i = 0; i < $2; i++)); do
    { : 3<>"/dev/tcp/$3/7999"; } 2>/dev/null
done
