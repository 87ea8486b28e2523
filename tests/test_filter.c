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

/* ---- swapping tables in maps that fail on demand ---- */

struct fake_entry {
    enum filter_map map;
    uint8_t key[sizeof(struct pt_subnet_key)];
    uint8_t value[8];
};

/* The three maps as one list; the update numbered `fail_at` fails, as a
 * full map or an allocation failure in the kernel would. */
struct fake_maps {
    struct fake_entry entries[256];
    size_t n;
    int updates;
    int fail_at; /* -1: never */
};

static const size_t key_size[FILTER_N_MAPS] = {sizeof(struct pt_subnet_key),
                                               sizeof(struct pt_subnet_port_key), 4};
static const size_t value_size[FILTER_N_MAPS] = {sizeof(struct pt_subnet_rule), 8, 8};

static struct fake_entry *fake_find(struct fake_maps *f, enum filter_map map, const void *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->entries[i].map == map && memcmp(f->entries[i].key, key, key_size[map]) == 0)
            return &f->entries[i];
    return NULL;
}

static int fake_update(const struct filter_maps *m, enum filter_map map, const void *key,
                       const void *value)
{
    struct fake_maps *f = m->ctx;
    if (f->updates++ == f->fail_at)
        return -ENOSPC;
    struct fake_entry *e = fake_find(f, map, key);
    if (!e) {
        assert_true(f->n < sizeof(f->entries) / sizeof(f->entries[0]));
        e = &f->entries[f->n++];
        memset(e, 0, sizeof(*e));
        e->map = map;
        memcpy(e->key, key, key_size[map]);
    }
    memcpy(e->value, value, value_size[map]);
    return 0;
}

static int fake_remove(const struct filter_maps *m, enum filter_map map, const void *key)
{
    struct fake_maps *f = m->ctx;
    struct fake_entry *e = fake_find(f, map, key);
    if (!e)
        return -ENOENT;
    *e = f->entries[--f->n];
    return 0;
}

/* Every entry of `a` is in `b` with the same value; a port-bits word of 0
 * is what an array map holds when nothing was written. */
static bool fake_included(struct fake_maps *a, struct fake_maps *b)
{
    static const uint8_t zero[8];
    for (size_t i = 0; i < a->n; i++) {
        struct fake_entry *e = &a->entries[i], *o = fake_find(b, e->map, e->key);
        if (e->map == FILTER_MAP_PORT_BITS && !o && memcmp(e->value, zero, 8) == 0)
            continue;
        if (!o || memcmp(e->value, o->value, value_size[e->map]) != 0)
            return false;
    }
    return true;
}

static bool fake_equal(struct fake_maps *a, struct fake_maps *b)
{
    return fake_included(a, b) && fake_included(b, a);
}

static void build_pair(struct probe_conf pc[2], struct filter_tables t[2], uint32_t *next)
{
    char err[256];
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            filter_tables_build(&pc[i], (uint32_t)i + 1, next, &t[i], err, sizeof(err)), 0);
}

/* A swap that fails at any write leaves the maps exactly as they were; one
 * that succeeds leaves exactly the new tables. */
static void test_swap_all_or_nothing(void **state)
{
    static struct fake_maps before, maps, expected;
    struct filter_maps fm = {.update = fake_update, .remove = fake_remove, .ctx = &maps};
    struct port_range p80 = {80, 80}, p443 = {443, 445}, p22 = {22, 22}, p81 = {81, 81},
                      p1000 = {1000, 1001}, p9000 = {9000, 9000};

    struct subnet_filter f1[2] = {subnet("10.0.0.0", 8), subnet("192.168.0.0", 16)};
    f1[0].except_ports = ports(&p80, 1);
    f1[1].include_ports = ports(&p443, 1);
    struct subnet_filter f2[1] = {subnet("172.16.0.0", 12)};
    struct probe_conf old_pc[2] = {
        {.name = "a", .filters = f1, .n_filters = 2, .port_rules = {PORT_RULES_EXCLUDE, {&p22, 1}}},
        {.name = "b", .filters = f2, .n_filters = 1}};
    /* The same 10/8 with another rule, a new subnet, other global ports. */
    struct subnet_filter g1[2] = {subnet("10.0.0.0", 8), subnet("127.0.0.0", 8)};
    g1[0].except_ports = ports(&p81, 1);
    struct subnet_filter g2[1] = {subnet("fc00::", 7)};
    g2[0].include_ports = ports(&p9000, 1);
    struct probe_conf new_pc[2] = {{.name = "a",
                                    .filters = g1,
                                    .n_filters = 2,
                                    .port_rules = {PORT_RULES_EXCLUDE, {&p1000, 1}}},
                                   {.name = "b", .filters = g2, .n_filters = 1}};

    uint32_t next = 1;
    struct filter_tables old[2], fresh[2];
    build_pair(old_pc, old, &next);
    build_pair(new_pc, fresh, &next);

    maps = (struct fake_maps){.fail_at = -1};
    for (int i = 0; i < 2; i++)
        assert_int_equal(filter_tables_load(&old[i], &fm), 0);
    before = maps;

    /* What the new tables alone look like. */
    maps = (struct fake_maps){.fail_at = -1};
    for (int i = 0; i < 2; i++)
        assert_int_equal(filter_tables_load(&fresh[i], &fm), 0);
    expected = maps;

    /* How many writes a whole swap makes. */
    maps = before;
    maps.updates = 0;
    assert_int_equal(filter_tables_swap(fresh, old, 2, &fm), 0);
    int writes = maps.updates;
    assert_int_equal(writes, 7); /* 2 ports, 3 subnets, 2 port-bit words */
    assert_true(fake_equal(&maps, &expected));

    for (int at = 0; at < writes; at++) {
        maps = before;
        maps.updates = 0;
        maps.fail_at = at;
        assert_int_equal(filter_tables_swap(fresh, old, 2, &fm), -ENOSPC);
        if (!fake_equal(&maps, &before))
            fail_msg("a swap failing at write %d of %d left the maps changed", at, writes);
    }
    /* A first load that fails takes back what it wrote. */
    maps = (struct fake_maps){.fail_at = 3};
    assert_int_equal(filter_tables_load(&fresh[0], &fm), -ENOSPC);
    static struct fake_maps empty;
    assert_true(fake_equal(&maps, &empty));
    for (int i = 0; i < 2; i++) {
        filter_tables_release(&old[i]);
        filter_tables_release(&fresh[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subnets_v4),
        cmocka_unit_test(test_subnets_v6_and_mapped),
        cmocka_unit_test(test_global_ports),
        cmocka_unit_test(test_keys_are_per_probe),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_port_ranges_compact_and_totals),
        cmocka_unit_test(test_swap_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
