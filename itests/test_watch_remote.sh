#!/usr/bin/env bash
# -w with a remote include: a local config includes its filters from an
# HTTP server (python3 -m http.server on 127.0.0.1). The daemon fetches it
# again every --health-check-period and swaps a change in; an unchanged
# fetch swaps nothing; a fetch that fails keeps the running filters.
source "$(dirname "$0")/lib.sh"
require_root

SERVE="$WORK/www"
mkdir -p "$SERVE"
cat > "$SERVE/filters.yml" <<'YAML'
- subnet_name: first
  network: 127.0.70.0
  network_mask: 255.255.255.0
YAML
HTTP_PORT=18931
python3 -m http.server --bind 127.0.0.1 --directory "$SERVE" "$HTTP_PORT" \
    > "$WORK/http.log" 2>&1 &
for i in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/filters.yml" > /dev/null && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$HTTP_PORT/filters.yml" > /dev/null || fail "HTTP server did not start"

CONFIG=$(write_config remote.yml <<YAML
tcp_connect:
  includeports: ["45800-45899"]   # only this test's connections
  filters: !include http://127.0.0.1:$HTTP_PORT/filters.yml
YAML
)
start_daemon "$CONFIG" -w --health-check-period 1

expect_filtered "remote include applied at start" 127.0.70.1 127.0.71.1 45821

# Fetched again every period: unchanged, nothing happens.
fetches=$(grep -c "GET /filters.yml" "$WORK/http.log")
sleep 3.5
[ "$(grep -c "filters swapped" "$ERR")" -eq 0 ] || fail "an unchanged remote include swapped"
[ "$(grep -c "GET /filters.yml" "$WORK/http.log")" -ge $((fetches + 2)) ] ||
    fail "remote include not fetched again: $(cat "$WORK/http.log")"
pass "remote include fetched again every period; unchanged, nothing swapped"

cat > "$SERVE/filters.yml.new" <<'YAML'
- subnet_name: second
  network: 127.0.71.0
  network_mask: 255.255.255.0
YAML
mv "$SERVE/filters.yml.new" "$SERVE/filters.yml"
for i in $(seq 1 100); do grep -q "filters swapped" "$ERR" && break; sleep 0.1; done
grep -q "filters swapped" "$ERR" || fail "change of the remote include not swapped in"
expect_filtered "remote change swapped in" 127.0.71.1 127.0.70.1 45823

# The server goes away: the running filters stay.
rm "$SERVE/filters.yml"
for i in $(seq 1 100); do grep -q "config change ignored" "$ERR" && break; sleep 0.1; done
grep -q "config change ignored.*filters.yml" "$ERR" || fail "failed fetch not reported"
expect_filtered "a failed fetch keeps the running filters" 127.0.71.1 127.0.70.1 45825
sleep 2
[ "$(grep -c "config change ignored" "$ERR")" -eq 1 ] ||
    fail "a failure that persists is repeated at every fetch: $(cat "$ERR")"
pass "a failure that persists is said once"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
finish
