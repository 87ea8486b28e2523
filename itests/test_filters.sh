#!/usr/bin/env bash
# In-kernel filtering: each rule drops what it should and nothing else.
# Connections are made in order and a final unfiltered "marker" connection
# is awaited: the ring buffer keeps order, so once the marker is written,
# every earlier connection that passed the filters has been written too.
source "$(dirname "$0")/lib.sh"
require_root

CONFIG=$(write_config filters.yml <<'YAML'
_anchors:
  subnet_ports: &ports_base
    network_mask: 255.255.255.0
tcp_connect:
  filters:
    - subnet_name: drop-all
      network: 127.0.10.0
      network_mask: 255.255.255.0
    - subnet_name: except-80
      <<: *ports_base
      network: 127.0.11.0
      except_ports: [80]
    - subnet_name: include-443
      <<: *ports_base
      network: 127.0.12.0
      include_ports: [443]
    - subnet_name: longest-prefix-wins
      network: 127.0.13.0/24
    - subnet_name: host-inside
      network: 127.0.13.7/32
      except_ports: [1]
    - subnet_name: v6
      network: ::1
      network_mask: 128
      include_ports: [9000-9009]
  excludeports: [5555, 6000-6009]
YAML
)
start_daemon "$CONFIG"

declare -A expect
run() { # run HOST PORT EXPECTED(1 kept / 0 dropped)
    local pid
    pid=$(tcp_connect_to "$1" "$2")
    expect["$pid"]="$3 $1 $2"
}
run 127.0.10.5 80 0     # subnet drop-all
run 127.0.10.5 1234 0
run 127.0.11.5 80 1     # except_ports keeps 80
run 127.0.11.5 81 0
run 127.0.12.5 443 0    # include_ports drops only 443
run 127.0.12.5 444 1
run 127.0.13.7 1 1      # the /32 inside the /24 decides
run 127.0.13.7 2 0
run 127.0.13.8 1 0      # the /24
run ::1 9005 0          # v6 include_ports range
run ::1 9010 1
run 127.0.20.1 5555 0   # global excludeports
run 127.0.20.1 6005 0   # global excludeports range
run 127.0.20.1 6010 1
run 127.0.20.1 5554 1

marker=$(tcp_connect_to 127.0.99.1 7999)
wait_json ".pid == $marker" >/dev/null || fail "marker event missing"
for pid in "${!expect[@]}"; do
    read -r want host port <<< "${expect[$pid]}"
    got=$(count_json ".pid == $pid")
    [ "$got" -eq "$want" ] || fail "$host:$port: expected $want event(s), got $got"
    pass "$host:$port $([ "$want" -eq 1 ] && echo kept || echo dropped)"
done
stop_daemon

# includeports wins over excludeports and keeps only the listed ports.
CONFIG=$(write_config include.yml <<'YAML'
tcp_connect:
  includeports: [7100-7101]
  excludeports: [7100]
YAML
)
start_daemon "$CONFIG"
kept=$(tcp_connect_to 127.0.30.1 7100)
dropped=$(tcp_connect_to 127.0.30.1 7102)
marker=$(tcp_connect_to 127.0.30.1 7101)
wait_json ".pid == $marker" >/dev/null || fail "includeports: marker missing"
[ "$(count_json ".pid == $kept")" -eq 1 ] || fail "includeports: 7100 not kept"
[ "$(count_json ".pid == $dropped")" -eq 0 ] || fail "includeports: 7102 not dropped"
pass "includeports keeps only its ports and wins over excludeports"
stop_daemon
finish
