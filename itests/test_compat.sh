#!/usr/bin/env bash
# A user of the Python pidtree-bcc swaps the binary and keeps config and
# command line. The configs here are written as the original's users write
# them (its itest config_generic.yml and example_config.yml, its README's
# values): they must start, and the daemon must behave as those users
# expect. Deliberate differences are in README.md, "Coming from the Python
# pidtree-bcc".
source "$(dirname "$0")/lib.sh"
require_root

PORT1=31337
PORT2=41337

# ---- The original's itest config (config_generic.yml with its ports), plus
# what its users write besides: an empty includeports next to excludeports,
# Python-style booleans, its documented defaults spelled out, a key this
# version does not know, a subnet that passes only the high ports, a plugin
# that is not installed with unload_on_init_exception.
CONFIG=$(write_config generic.yml <<YAML
---
_net_filters: &net_filters
  - subnet_name: 0_0_0_0__2
    network: 0.0.0.0
    network_mask: 192.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 64_0_0_0__3
    network: 64.0.0.0
    network_mask: 224.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 96_0_0_0__4
    network: 96.0.0.0
    network_mask: 240.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 112_0_0_0__5
    network: 112.0.0.0
    network_mask: 248.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 120_0_0_0__6
    network: 120.0.0.0
    network_mask: 252.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 124_0_0_0__7
    network: 124.0.0.0
    network_mask: 254.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 126_0_0_0__8
    network: 126.0.0.0
    network_mask: 255.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 128_0_0_0__1
    network: 128.0.0.0
    network_mask: 128.0.0.0
    description: "Non-loopback subnet section"
  - subnet_name: 127_0_0_0__16
    network: 127.0.0.0
    network_mask: 255.255.0.0
    description: "127.0/16 to get rid of the noise"
  - subnet_name: 127_100_0_0__16
    network: 127.100.0.0
    network_mask: 255.255.0.0
    description: "Test case for except_ports"
    except_ports: [$PORT1]
  - subnet_name: 127_101_0_0__16
    network: 127.101.0.0
    network_mask: 255.255.0.0
    description: "Test case for include_ports"
    include_ports: [$PORT1]
  - subnet_name: 127_102_0_0__16
    network: 127.102.0.0
    network_mask: 255.255.0.0
    description: "only the high ports"
    except_ports: ["1024-65535"]
  - subnet_name: 127_103_0_0__16
    network: 127.103.0.0
    network_mask: 255.255.0.0
    description: "only the high ports"
    except_ports: ["1024-65535"]

tcp_connect:
  filters: *net_filters
  includeports: []
  excludeports:
    - $PORT2
  plugins:
    identityplugin:
      enabled: True
    not_installed_here:
      enabled: 1
      unload_on_init_exception: "true"
net_listen:
  filters: *net_filters
  exclude_random_bind: True
  same_namespace_only: False
  snapshot_periodicity: False
  protocols: [tcp]
  excludeports:
    - $PORT1
udp_session:
  filters: *net_filters
  session_max_duration: 0.5
  includeports:
    - $PORT1
  colour: blue
YAML
)
start_daemon "$CONFIG" --lost-event-telemetry -1 --health-check-period 0
grep -qF "warning: $CONFIG:" "$ERR" && grep -qF "udp_session: unknown field 'colour' ignored" "$ERR" ||
    fail "no warning naming the file, line and ignored key: $(cat "$ERR")"
grep -qF "plugin 'not_installed_here'" "$ERR" && grep -qF "continuing without it" "$ERR" ||
    fail "missing plugin with unload_on_init_exception not logged: $(cat "$ERR")"
pass "the original's config starts: unknown key warned, missing plugin logged and skipped"

reported() { # reported LABEL JQ_FILTER
    wait_json "$2" >/dev/null || fail "$1: not reported"
    pass "$1"
}
declare -a dropped=() dropped_labels=()
drop() { dropped+=("$2"); dropped_labels+=("$1"); }

pid=$(tcp_connect_to 127.1.33.7 $PORT1)
reported "tcp_connect to 127.1.33.7:$PORT1" \
    ".probe == \"tcp_connect\" and .pid == $pid and .daddr == \"127.1.33.7\" and .port == $PORT1"
pid=$(sock tcp-listen 127.1.33.7 $PORT2 0.2)
reported "net_listen on 127.1.33.7:$PORT2" \
    ".probe == \"net_listen\" and .pid == $pid and .laddr == \"127.1.33.7\" and .port == $PORT2"
pid=$(sock udp-send close 127.1.33.7:$PORT1:3)
reported "udp_session to 127.1.33.7:$PORT1" \
    ".probe == \"udp_session\" and .pid == $pid and .destinations[0].msg_count == 3"
pid=$(tcp_connect_to 127.100.33.7 $PORT1)
reported "except_ports lets $PORT1 through its subnet" ".pid == $pid and .port == $PORT1"
pid=$(tcp_connect_to 127.102.33.7 $PORT1)
reported "except_ports [1024-65535] lets a high port through" ".pid == $pid"
pid=$(tcp_connect_to 127.103.33.7 65000)
reported "except_ports [1024-65535] lets port 65000 through" ".pid == $pid"
# A UDP session idle longer than session_max_duration (0.5 s) is reported
# as the original reported it.
pid=$(sock udp-send hold:4 127.1.33.7:$PORT1:1)
reported "session_max_duration 0.5 s ends an idle session" \
    ".pid == $pid and .error == \"session_max_duration_exceeded\""

drop "excludeports (with includeports: [])" "$(tcp_connect_to 127.1.33.7 $PORT2)"
drop "udp includeports" "$(sock udp-send close 127.1.33.7:$PORT2:1)"
drop "net_listen subnet filter" "$(sock tcp-listen 127.0.0.1 $PORT2 0.2)"
drop "net_listen excludeports" "$(sock tcp-listen 127.1.33.7 $PORT1 0.2)"
drop "exclude_random_bind: True" "$(sock tcp-listen-unbound 4)"
drop "include_ports filters $PORT1 in its subnet" "$(tcp_connect_to 127.101.33.7 $PORT1)"
drop "except_ports filters the other ports" "$(tcp_connect_to 127.100.33.7 $((PORT1 + 1)))"
drop "except_ports [1024-65535] filters port 1000" "$(tcp_connect_to 127.102.33.7 1000)"
drop "127.0/16 filtered" "$(tcp_connect_to 127.0.0.1 $PORT1)"
marker=$(tcp_connect_to 127.1.33.8 $PORT1)
wait_json ".pid == $marker" >/dev/null || fail "marker connection not reported"
for i in "${!dropped[@]}"; do
    [ "$(count_json ".pid == ${dropped[$i]}")" -eq 0 ] ||
        fail "${dropped_labels[$i]}: reported: $(jq -c "select(.pid == ${dropped[$i]})" "$OUT")"
    pass "dropped: ${dropped_labels[$i]}"
done
[ "$(count_json '.type == "lost_event_telemetry"')" -eq 0 ] ||
    fail "--lost-event-telemetry -1 wrote telemetry"
pass "--lost-event-telemetry -1 is off"
stop_daemon

# ---- listen() without bind() and exclude_random_bind off: the port the
# kernel chose, as the original reported it.
CONFIG=$(write_config listen.yml <<'YAML'
net_listen:
  exclude_random_bind: no
  filters:
    - subnet_name: 127
      network: 127.0.0.0
      network_mask: 255.0.0.0
YAML
)
start_daemon "$CONFIG"
python3 -c 'import os, socket, time
s = socket.socket(); s.listen(1)
print(os.getpid(), s.getsockname()[1], flush=True); time.sleep(0.3)' > "$WORK/unbound.txt"
read -r pid chosen < "$WORK/unbound.txt"
reported "listen() without bind() reports port $chosen" \
    ".pid == $pid and .laddr == \"0.0.0.0\" and .port == $chosen"
stop_daemon

# ---- -p checks what the daemon checks, and says it the same way.
cat > "$WORK/hosts" <<'HOSTS'
127.0.0.1 localhost
HOSTS
CONFIG=$(write_config missing_hostfile.yml <<YAML
tcp_connect:
  plugins:
    sourceipmap:
      enabled: True
      hostfiles:
        - '$WORK/hosts'
        - '$WORK/no-such-hosts'
      attribute_key: "source_host"
YAML
)
expect_exit 2 "no-such-hosts: No such file or directory" "$PIDTREE_BIN" -c "$CONFIG" -p
cp "$WORK/stderr" "$WORK/stderr.p"
expect_exit 2 "no-such-hosts: No such file or directory" "$PIDTREE_BIN" -c "$CONFIG" -f "$WORK/x.jsonl"
diff <(grep -F "no-such-hosts" "$WORK/stderr.p") <(grep -F "no-such-hosts" "$WORK/stderr") ||
    fail "-p and the daemon word the plugin error differently"
pass "-p refuses a missing host file as the daemon does"

# Every probe shares the filter maps: six subnets of high ports in each of
# three probes is more than they hold (one probe alone would fit).
{
    echo "_f: &f"
    for i in 1 2 3 4 5 6; do
        echo "  - {subnet_name: s$i, network: 10.$i.0.0, network_mask: 255.255.0.0, except_ports: ['1024-65535']}"
    done
    echo "tcp_connect: {filters: *f}"
    echo "net_listen: {filters: *f}"
    echo "udp_session: {filters: *f}"
} > "$WORK/limits.yml"
expect_exit 2 "words of 64 ports in all" "$PIDTREE_BIN" -c "$WORK/limits.yml" -p
pass "-p checks the filter maps' limits over all probes"

# ---- --strict: warnings become errors.
CONFIG=$(write_config unknown_key.yml <<'YAML'
tcp_connect:
  filters:
    - subnet_name: 10
      network: 10.0.0.0
      network_mask: 255.0.0.0
      descripton: "a typo"
  plugins:
    sourceipmap:
      hostfiles: ['/etc/hosts']
      attribute_kee: "typo"
YAML
)
expect_exit 0 "tcp_connect.filters[0]: unknown field 'descripton' ignored" \
    "$PIDTREE_BIN" -c "$CONFIG" -p
grep -qF "$CONFIG:6:" "$WORK/stderr" || fail "warning lacks file and line: $(cat "$WORK/stderr")"
grep -qF "$CONFIG:8: tcp_connect.plugins.sourceipmap: unknown argument(s) ignored: 'attribute_kee'" \
    "$WORK/stderr" || fail "plugin argument warning: $(cat "$WORK/stderr")"
expect_exit 2 "refused: --strict" "$PIDTREE_BIN" -c "$CONFIG" -p --strict
sed -i '/descripton/d' "$CONFIG"
expect_exit 2 "'attribute_kee' (sourceipmap takes hostfiles, attribute_key) (refused: --strict)" \
    "$PIDTREE_BIN" -c "$CONFIG" -p --strict
pass "unknown keys and plugin arguments: a warning with file and line; --strict refuses them (exit 2)"

# ---- The original's example_config.yml, container_labels included, is
# accepted as it is; the module then looks containers up for tcp_connect.
CONFIG=$(write_config example.yml <<'YAML'
---
_net_filters: &net_filters
  - subnet_name: 10
    network: 10.0.0.0
    network_mask: 255.0.0.0
    description: "all RFC 1918 10/8"
udp_session:
  filters: *net_filters
tcp_connect:
  filters: *net_filters
  container_labels:
    - key=value
  plugins:
    sourceipmap:
      enabled: True
      hostfiles:
        - '/etc/hosts'
      attribute_key: "source_host"
net_listen:
  snapshot_periodicity: 43200
  protocols: [tcp]
  same_namespace_only: False
  exclude_random_bind: False
  excludeports:
    - 22222
    - 30000-40000
YAML
)
"$PIDTREE_BIN" -c "$CONFIG" -p > "$WORK/module.c" 2> "$WORK/stderr" ||
    fail "the original's example refused: $(cat "$WORK/stderr")"
# Exactly tcp_connect's bit, whatever its probe id.
id=$(sed -n 's/.* tcp_connect (id \([0-9]*\),.*/\1/p' "$WORK/module.c" | head -n 1)
[ -n "$id" ] || fail "no tcp_connect in the module's preamble"
grep -qx "#define PT_CONTAINER_PROBES $(printf '0x%x' $((1 << id)))" "$WORK/module.c" ||
    fail "container_labels not rendered for tcp_connect (id $id): $(grep PT_CONTAINER "$WORK/module.c")"
pass "the original's example, container_labels included, accepted; one probe filters by container"
finish
