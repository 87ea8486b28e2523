# Sourced by the integration tests and the benchmark.
#
# netns_create NAME [HOST_ADDR NS_ADDR]: a network namespace holding
# NS_ADDR (198.51.100.2), reachable from the host at HOST_ADDR
# (198.51.100.1) over a veth pair NAMEh/NAMEn, both /24. The only remote
# host tests and benchmarks talk to: it exists only on this machine. Never
# 203.0.113.0/24 or 192.0.2.0/24 (docs/ENVIRONMENT: the machine's own).
netns_create() {
    local ns=$1 host_addr=${2:-198.51.100.1} ns_addr=${3:-198.51.100.2}
    ip netns add "$ns"
    ip link add "${ns}h" type veth peer name "${ns}n"
    ip link set "${ns}n" netns "$ns"
    ip addr add "$host_addr/24" dev "${ns}h"
    ip link set "${ns}h" up
    ip netns exec "$ns" ip addr add "$ns_addr/24" dev "${ns}n"
    ip netns exec "$ns" ip link set "${ns}n" up
    ip netns exec "$ns" ip link set lo up
}

# netns_delete NAME: undoes netns_create; quiet when there is nothing.
netns_delete() {
    ip netns del "$1" 2>/dev/null || true
    ip link del "${1}h" 2>/dev/null || true
}
