#!/usr/bin/env bash
# udp_session: sockets sending known numbers of datagrams, ended by close,
# by process exit, by expiry; connected IPv6 sockets; filtered subnets.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config udp.yml <<'YAML'
udp_session:
  session_max_duration: 2
  filters:
    - network: 127.0.0.66
      network_mask: 255.255.255.255
YAML
)
start_daemon "$CONFIG"

session() { # LABEL PID ERROR JQ_DESTINATIONS_CHECK
    local line
    line=$(wait_json ".probe == \"udp_session\" and .pid == $2" 20) || fail "$1: no event for $2"
    echo "$line" | jq -e --arg err "$3" ".error == \$err and ($4) and
        (.proctree[0].cmdline | contains(\"sock.py\")) and .proctree[-1].pid == 1" >/dev/null ||
        fail "$1: wrong event: $line"
    [ "$(count_json ".probe == \"udp_session\" and .pid == $2")" -eq 1 ] ||
        fail "$1: more than one event"
    pass "$1"
}

pid=$(sock udp-send close 127.0.0.11:7701:3 127.0.0.12:7702:5)
session "two destinations, ended by close" "$pid" "" \
    '(.destinations | length) == 2 and
     .destinations[0].daddr == "127.0.0.11" and .destinations[0].port == 7701 and
     .destinations[0].msg_count == 3 and
     .destinations[1].daddr == "127.0.0.12" and .destinations[1].port == 7702 and
     .destinations[1].msg_count == 5 and (.destinations[0].duration >= 0)'

pid=$(sock udp-sendmsg close ::ffff:127.0.0.14:7707:2 ::ffff:127.0.0.15:7708:3)
session "sendmsg on an IPv6 socket to IPv4-mapped addresses, printed as IPv4" "$pid" "" \
    '(.destinations | length) == 2 and .destinations[0].daddr == "127.0.0.14" and
     .destinations[0].msg_count == 2 and .destinations[1].daddr == "127.0.0.15" and
     .destinations[1].port == 7708 and .destinations[1].msg_count == 3'

pid=$(sock udp-connected close ::1 7703 4)
session "connected IPv6 socket" "$pid" "" \
    '(.destinations | length) == 1 and .destinations[0].daddr == "::1" and
     .destinations[0].port == 7703 and .destinations[0].msg_count == 4'

pid=$(sock udp-connected close 127.0.0.16 7709 3)
session "connected IPv4 socket" "$pid" "" \
    '(.destinations | length) == 1 and .destinations[0].daddr == "127.0.0.16" and
     .destinations[0].port == 7709 and .destinations[0].msg_count == 3'

pid=$(sock udp-send-connect close 127.0.0.17 7710 2)
session "sends, then a connect and sends: one session" "$pid" "" \
    '(.destinations | length) == 2 and .destinations[0].daddr == "127.0.0.17" and
     ([.destinations[] | {port, msg_count}] | sort_by(.port)) ==
     [{"port": 7710, "msg_count": 2}, {"port": 7711, "msg_count": 2}]'

pid=$(sock udp-send exit ::1:7704:2)
session "ended by process exit" "$pid" "" \
    '.destinations[0].daddr == "::1" and .destinations[0].msg_count == 2'

pid=$(sock udp-send close 127.0.0.66:7705:4 127.0.0.13:7706:1)
session "filtered destination left out" "$pid" "" \
    '(.destinations | length) == 1 and .destinations[0].daddr == "127.0.0.13"'

filtered=$(sock udp-send close 127.0.0.66:7707:3)
pid=$(sock udp-send hold:5 127.0.0.14:7708:1)
session "idle past session_max_duration" "$pid" "session_max_duration_exceeded" \
    '.destinations[0].daddr == "127.0.0.14" and .destinations[0].msg_count == 1'
[ "$(count_json ".pid == $filtered")" -eq 0 ] || fail "a session of only filtered traffic was reported"
pass "a session of only filtered traffic is not reported"
stop_daemon
finish
