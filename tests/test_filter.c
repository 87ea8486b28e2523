/* Filter semantics: the tables built from a config, evaluated exactly as the
 * kernel evaluates them. */
#include <errno.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "filter.h"

static struct subnet_filter subnet(const char *net, unsigned len)
{
    struct subnet_filter f = {.file = "test.yml", .line = 1, .prefixlen = len};
    f.family = strchr(net, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(f.family, net, f.addr), 1);
    return f;
}

static struct port_list ports(struct port_range *r, size_t n)
{
    return (struct port_list){r, n};
}

static bool dropped(const struct filter_tables *t, const char *addr, uint16_t port)
{
    uint8_t a[16] = {0};
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(family, addr, a), 1);
    return filter_tables_drop(t, family, a, port);
}

static void build(struct probe_conf *pc, struct filter_tables *t)
{
    char err[256];
    uint32_t next = 1;
    assert_int_equal(filter_tables_build(pc, 3, &next, t, err, sizeof(err)), 0);
}

static void test_subnets_v4(void **state)
{
    struct port_range p80 = {80, 80}, p443 = {443, 443};
    struct subnet_filter f[4] = {subnet("10.0.0.0", 8), subnet("192.168.0.0", 16),
                                 subnet("172.16.0.0", 12), subnet("10.1.2.0", 24)};
    f[1].except_ports = ports(&p80, 1);
    f[2].include_ports = ports(&p443, 1);
    f[3].except_ports = ports(&p443, 1);
    struct probe_conf pc = {.name = "tcp_connect", .filters = f, .n_filters = 4};
    struct filter_tables t;
    build(&pc, &t);

    assert_true(dropped(&t, "10.9.9.9", 22));
    assert_false(dropped(&t, "11.0.0.1", 22));
    assert_false(dropped(&t, "192.168.1.1", 80)); /* except_ports keeps 80 */
    assert_true(dropped(&t, "192.168.1.1", 81));
    assert_true(dropped(&t, "172.31.255.255", 443)); /* include_ports drops 443 only */
    assert_false(dropped(&t, "172.31.255.255", 444));
    assert_false(dropped(&t, "172.32.0.0", 443)); /* outside the /12 */
    assert_false(dropped(&t, "10.1.2.3", 443));   /* the /24 decides, not the /8 */
    assert_true(dropped(&t, "10.1.2.3", 444));
    filter_tables_release(&t);
}

static void test_subnets_v6_and_mapped(void **state)
{
    struct port_range r = {9000, 9009};
    struct subnet_filter f[2] = {subnet("fc00::", 7), subnet("127.0.0.0", 8)};
    f[0].include_ports = ports(&r, 1);
    struct probe_conf pc = {.name = "tcp_connect", .filters = f, .n_filters = 2};
    struct filter_tables t;
    build(&pc, &t);

    assert_true(dropped(&t, "fd12::1", 9005));
    assert_false(dropped(&t, "fd12::1", 9010));
    assert_false(dropped(&t, "fe80::1", 9005));
    assert_false(dropped(&t, "::1", 22));
    /* An IPv4-mapped IPv6 peer matches the IPv4 subnet. */
    assert_true(dropped(&t, "::ffff:127.0.0.1", 22));
    assert_true(dropped(&t, "127.0.0.1", 22));
    filter_tables_release(&t);
}

static void test_global_ports(void **state)
{
    struct port_range ex[2] = {{22, 22}, {6000, 6009}};
    struct probe_conf pc = {.name = "tcp_connect", .port_rules = {PORT_RULES_EXCLUDE, {ex, 2}}};
    struct filter_tables t;
    build(&pc, &t);
    assert_true(dropped(&t, "8.8.8.8", 22));
    assert_true(dropped(&t, "8.8.8.8", 6000));
    assert_true(dropped(&t, "8.8.8.8", 6009));
    assert_false(dropped(&t, "8.8.8.8", 6010));
    assert_false(dropped(&t, "::1", 21));
    filter_tables_release(&t);

    struct port_range in[1] = {{1000, 2000}};
    pc.port_rules = (struct port_rules){PORT_RULES_INCLUDE, {in, 1}};
    build(&pc, &t);
    assert_true(dropped(&t, "8.8.8.8", 999));
    assert_false(dropped(&t, "8.8.8.8", 1000));
    assert_false(dropped(&t, "8.8.8.8", 2000));
    assert_true(dropped(&t, "8.8.8.8", 2001));
    assert_true(dropped(&t, "8.8.8.8", 0));
    assert_true(dropped(&t, "8.8.8.8", 65535));
    filter_tables_release(&t);
}

static void test_keys_are_per_probe(void **state)
{
    struct subnet_filter f[1] = {subnet("10.0.0.0", 8)};
    struct probe_conf pc = {.name = "tcp_connect", .filters = f, .n_filters = 1};
    struct filter_tables t;
    build(&pc, &t);
    assert_int_equal(t.n_subnets, 1);
    /* probe id 3, big-endian, then ::ffff:10.0.0.0 with 32+96+8 bits. */
    assert_int_equal(t.subnets[0].key.prefixlen, 32 + 96 + 8);
    assert_int_equal(t.subnets[0].key.probe_id_be[3], 3);
    assert_int_equal(t.subnets[0].key.addr[10], 0xff);
    assert_int_equal(t.subnets[0].key.addr[12], 10);
    /* Another probe's id never matches these rules. */
    struct filter_tables other = t;
    other.probe_id = 4;
    assert_false(dropped(&other, "10.1.1.1", 1));
    filter_tables_release(&t);
}

static void test_errors(void **state)
{
    char err[256];
    uint32_t next = 1;
    struct filter_tables t;
    struct subnet_filter f[2] = {subnet("10.0.0.0", 8), subnet("10.0.0.0", 8)};
    f[1].line = 7;
    struct probe_conf pc = {.name = "tcp_connect", .filters = f, .n_filters = 2};
    assert_int_equal(filter_tables_build(&pc, 1, &next, &t, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "test.yml:7:"));
    assert_non_null(strstr(err, "same network"));

    /* Lone ports each take a word when they are 64 apart. */
    static struct port_range sparse[PT_MAX_SUBNET_PORT_WORDS + 1];
    for (size_t i = 0; i < PT_MAX_SUBNET_PORT_WORDS + 1 && i * 64 < 65536; i++)
        sparse[i] = (struct port_range){(uint16_t)(i * 64), (uint16_t)(i * 64)};
    struct subnet_filter g[17];
    for (int i = 0; i < 17; i++) {
        char net[32];
        snprintf(net, sizeof(net), "10.%d.0.0", i);
        g[i] = subnet(net, 16);
        g[i].line = 20 + i;
        g[i].except_ports = ports(sparse, 1024);
    }
    pc = (struct probe_conf){.name = "tcp_connect", .filters = g, .n_filters = 17};
    assert_int_equal(filter_tables_build(&pc, 1, &next, &t, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "test.yml:36:"));
    assert_non_null(strstr(err, "too many ports"));
}

/* The realistic case of the original's users: subnets that pass only the
 * high ports, `except_ports: ["1024-65535"]`, in several probes. Each takes
 * 1,008 words, not 64,512 entries; the limit holds for all probes
 * together, since they share the maps. */
static void test_port_ranges_compact_and_totals(void **state)
{
    char err[256];
    uint32_t next = 1;
    struct port_range high = {1024, 65535};
    struct subnet_filter f[3] = {subnet("10.0.0.0", 8), subnet("172.16.0.0", 12),
                                 subnet("192.168.0.0", 16)};
    for (int i = 0; i < 3; i++)
        f[i].except_ports = ports(&high, 1);
    struct probe_conf pc = {.name = "tcp_connect", .filters = f, .n_filters = 3};
    struct filter_tables t[6];
    for (int i = 0; i < 5; i++)
        assert_int_equal(filter_tables_build(&pc, (uint32_t)i + 1, &next, &t[i], err, sizeof(err)),
                         0);
    assert_int_equal(t[0].n_ports, 3 * 1008);
    assert_true(dropped(&t[0], "10.1.2.3", 1023));
    assert_false(dropped(&t[0], "10.1.2.3", 1024));
    assert_false(dropped(&t[0], "10.1.2.3", 65535));
    assert_true(dropped(&t[0], "10.1.2.3", 22));
    assert_true(dropped(&t[0], "192.168.1.1", 0));
    assert_false(dropped(&t[0], "192.168.1.1", 40000));
    assert_false(dropped(&t[0], "11.0.0.1", 22));
    /* 5 probes x 3 subnets x 1,008 words = 15,120: fits. */
    assert_int_equal(filter_tables_check_totals(t, 5, "c.yml", err, sizeof(err)), 0);
    /* A sixth probe alone would fit, but not with the others. */
    assert_int_equal(filter_tables_build(&pc, 6, &next, &t[5], err, sizeof(err)), 0);
    assert_int_equal(filter_tables_check_totals(t, 6, "c.yml", err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "c.yml: the probes' filters list 18144 words"));
    for (int i = 0; i < 6; i++)
        filter_tables_release(&t[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subnets_v4),   cmocka_unit_test(test_subnets_v6_and_mapped),
        cmocka_unit_test(test_global_ports), cmocka_unit_test(test_keys_are_per_probe),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_port_ranges_compact_and_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
