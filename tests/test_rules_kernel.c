/* Kernel rules as the maps hold them: probes as a mask of the running
 * probes' ids, networks as IPv4-mapped IPv6 under a mask, names with their
 * NUL unless a prefix, whole ranges for terms not given; and -p's account
 * of which rules act where. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probe.h"
#include "rules.h"
#include "rules_kernel.h"
#include "strbuf.h"

static const struct probe_ops *find_probe(void *ctx, const char *name)
{
    return probe_builtin_find(name);
}

static const char *const names[] = {NULL, "tcp_connect", NULL, "net_listen"};
static const struct rules_kernel rk = {.probe_names = names, .n_probes = 4};

static struct rule *load(const char *text, struct rule_list *l)
{
    struct pt_error err = {0};
    int ret = rules_load_string(text, strlen(text), "k.yml", find_probe, NULL, l, &err);
    if (ret < 0)
        fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.msg);
    assert_int_equal(ret, 0);
    for (size_t i = 0; i < l->n; i++)
        l->items[i]->id = (uint32_t)(10 + i);
    return l->items[0];
}

static void test_encode(void **state)
{
    struct rule_list l = {0};
    /* None of its probes runs: nothing to write. */
    static const char *const only_tcp[] = {NULL, "tcp_connect"};
    const struct rules_kernel tcp_only = {.probe_names = only_tcp, .n_probes = 2};
    struct rule *r = load("rules:\n  - {name: k, probe: net_listen, action: kill}\n", &l);
    struct pt_krule k;
    assert_true(r->kernel);
    assert_int_equal(rules_kernel_encode(&tcp_only, r, &k), -ENOENT);
    rule_list_release(&l);

    r = load("rules:\n  - name: k\n    probes: [tcp_connect]\n"
             "    match: {daddr: 10.1.0.0/16, port: 80-90, comm: curl}\n    action: interrupt\n",
             &l);
    assert_int_equal(rules_kernel_encode(&rk, r, &k), 0);
    assert_int_equal(k.rule_id, 10);
    assert_int_equal(k.probe_mask, 1u << 1);
    assert_int_equal(k.signal, SIGINT);
    assert_int_equal(k.flags, PT_KRULE_ADDR | PT_KRULE_PORT | PT_KRULE_COMM);
    assert_int_equal(k.port_lo, 80);
    assert_int_equal(k.port_hi, 90);
    /* No uid term: every uid. */
    assert_int_equal(k.uid_lo, 0);
    assert_int_equal(k.uid_hi, UINT32_MAX);
    uint8_t addr[16], mask[16], want_addr[16] = {0}, want_mask[16];
    memcpy(addr, k.addr, 16);
    memcpy(mask, k.addr_mask, 16);
    want_addr[10] = want_addr[11] = 0xff;
    want_addr[12] = 10;
    want_addr[13] = 1;
    memset(want_mask, 0xff, 14); /* 96 + 16 bits */
    memset(want_mask + 14, 0, 2);
    assert_memory_equal(addr, want_addr, 16);
    assert_memory_equal(mask, want_mask, 16);
    /* A whole name: its bytes and its NUL count. */
    uint8_t comm[16], comm_mask[16];
    memcpy(comm, k.comm, 16);
    memcpy(comm_mask, k.comm_mask, 16);
    assert_memory_equal(comm, "curl\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    assert_memory_equal(comm_mask, "\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0", 16);
    rule_list_release(&l);

    /* A prefix: its bytes only. A port rule on both probes; uid range. */
    r = load("rules:\n  - name: k\n    probes: [tcp_connect, net_listen]\n"
             "    match: {port: 22, uid: 1000-2000, comm: 'ba*'}\n    action: kill\n    "
             "audit: true\n",
             &l);
    assert_int_equal(rules_kernel_encode(&rk, r, &k), 0);
    assert_int_equal(k.probe_mask, (1u << 1) | (1u << 3));
    assert_int_equal(k.flags, PT_KRULE_PORT | PT_KRULE_UID | PT_KRULE_COMM | PT_KRULE_AUDIT);
    assert_int_equal(k.uid_lo, 1000);
    assert_int_equal(k.uid_hi, 2000);
    memcpy(comm_mask, k.comm_mask, 16);
    assert_memory_equal(comm_mask, "\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    /* No address: an empty mask matches every address. */
    memcpy(mask, k.addr_mask, 16);
    memset(want_mask, 0, 16);
    assert_memory_equal(mask, want_mask, 16);
    rule_list_release(&l);

    /* IPv6 networks stay as they are. */
    r = load("rules:\n  - {name: k, probe: tcp_connect, action: kill, match: {daddr: "
             "'2001:db8::/32'}}\n",
             &l);
    assert_int_equal(rules_kernel_encode(&rk, r, &k), 0);
    memcpy(addr, k.addr, 16);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::", want_addr), 1);
    assert_memory_equal(addr, want_addr, 16);
    rule_list_release(&l);
}

static void test_describe(void **state)
{
    struct rule_list l = {0};
    load("rules:\n"
         "  - {name: in-kernel, probe: tcp_connect, action: kill, match: {port: 22}}\n"
         "  - {name: tree, probe: tcp_connect, action: kill, match: {ancestor: {pid: 1}}}\n"
         "  - {name: marks, probe: tcp_connect}\n"
         "  - {name: elsewhere, probe: udp_session, action: kill}\n",
         &l);
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(rules_kernel_describe(&rk, l.items, l.n, &sb), 0);
    assert_non_null(strstr(sb.data, "#10 in-kernel: probe_mask 0x2 signal 9 port 22-22\n"));
    assert_non_null(strstr(sb.data, "tree: conditions the kernel cannot test"));
    assert_non_null(strstr(sb.data, "marks: log: nothing for the kernel to do"));
    assert_non_null(strstr(sb.data, "elsewhere: a probe whose programs do not evaluate kernel"));
    assert_true(sb.data[0] == '/' && strstr(sb.data, " */\n"));
    strbuf_release(&sb);
    rule_list_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
