/* UDP session accounting, with the kernel's counters faked. */
#include <errno.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "udp_session_table.h"

#define SEC 1000000000ull

struct fake_counts {
    struct pt_udp_dest_key keys[32];
    struct pt_udp_dest_value values[32];
    size_t n;
};

static int fake_read(void *ctx, const struct pt_udp_dest_key *key, struct pt_udp_dest_value *out)
{
    struct fake_counts *f = ctx;
    for (size_t i = 0; i < f->n; i++) {
        if (memcmp(&f->keys[i], key, sizeof(*key)) == 0) {
            *out = f->values[i];
            return 0;
        }
    }
    return -ENOENT;
}

static struct pt_udp_dest_key dest(uint64_t sk, const char *addr, uint16_t port)
{
    struct pt_udp_dest_key k = {.sk = sk, .dport = port};
    k.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(k.family, addr, k.daddr), 1);
    return k;
}

/* The kernel saw `count` datagrams to key between first and last. */
static void kernel_counted(struct fake_counts *f, struct pt_udp_dest_key key, uint64_t count,
                           uint64_t first, uint64_t last)
{
    f->keys[f->n] = key;
    f->values[f->n] =
        (struct pt_udp_dest_value){.msg_count = count, .first_ns = first, .last_ns = last};
    f->n++;
}

static void test_session_with_two_destinations(void **state)
{
    struct fake_counts f = {0};
    struct udp_session_table t;
    struct udp_session *evicted;
    udp_table_init(&t, 16);
    struct pt_udp_dest_key a = dest(0x1000, "127.0.0.1", 53), b = dest(0x1000, "::1", 5353);
    assert_int_equal(udp_table_dest_start(&t, 42, &a, 10 * SEC, fake_read, &f, &evicted), 0);
    assert_null(evicted);
    assert_int_equal(udp_table_dest_start(&t, 42, &b, 11 * SEC, fake_read, &f, &evicted), 0);
    /* The same destination again changes nothing. */
    assert_int_equal(udp_table_dest_start(&t, 42, &a, 12 * SEC, fake_read, &f, &evicted), 0);
    assert_int_equal(t.n, 1);
    kernel_counted(&f, a, 3, 10 * SEC, 12 * SEC + SEC / 2);
    kernel_counted(&f, b, 1, 11 * SEC, 11 * SEC);

    struct udp_session *s = udp_table_take_sk(&t, 0x1000);
    assert_non_null(s);
    assert_int_equal(s->pid, 42);
    assert_int_equal(t.n, 0);
    json_t *d = udp_session_destinations(s, fake_read, &f);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_string_equal(text, "[{\"daddr\":\"127.0.0.1\",\"port\":53,\"duration\":2.5,"
                              "\"msg_count\":3},{\"daddr\":\"::1\",\"port\":5353,"
                              "\"duration\":0.0,\"msg_count\":1}]");
    free(text);
    json_decref(d);
    udp_session_free(s);
    assert_null(udp_table_take_sk(&t, 0x1000));
    udp_table_release(&t);
}

static void test_end_by_exit_and_expiry(void **state)
{
    struct fake_counts f = {0};
    struct udp_session_table t;
    struct udp_session *evicted, **list;
    udp_table_init(&t, 16);
    struct pt_udp_dest_key a = dest(1, "127.0.0.1", 1), b = dest(2, "127.0.0.2", 2),
                           c = dest(3, "127.0.0.3", 3);
    udp_table_dest_start(&t, 100, &a, 0, fake_read, &f, &evicted);
    udp_table_dest_start(&t, 100, &b, 0, fake_read, &f, &evicted);
    udp_table_dest_start(&t, 200, &c, 0, fake_read, &f, &evicted);
    kernel_counted(&f, a, 1, 0, 0);
    kernel_counted(&f, b, 5, 0, 50 * SEC);
    kernel_counted(&f, c, 1, 0, 0);

    /* Process 200 exits: its one session ends. */
    size_t n = udp_table_take_pid(&t, 200, &list);
    assert_int_equal(n, 1);
    assert_int_equal(list[0]->sk, 3);
    udp_session_free(list[0]);
    free(list);

    /* At 130 s with a 120 s limit: sk 1 (idle since 0) expires, sk 2 (last
     * datagram at 50 s) does not. */
    n = udp_table_take_idle(&t, 130 * SEC, 120 * SEC, fake_read, &f, &list);
    assert_int_equal(n, 1);
    assert_int_equal(list[0]->sk, 1);
    udp_session_free(list[0]);
    free(list);
    assert_int_equal(t.n, 1);
    n = udp_table_take_idle(&t, 171 * SEC, 120 * SEC, fake_read, &f, &list);
    assert_int_equal(n, 1);
    assert_int_equal(list[0]->sk, 2);
    udp_session_free(list[0]);
    free(list);
    udp_table_release(&t);
}

static void test_eviction_takes_the_idlest(void **state)
{
    struct fake_counts f = {0};
    struct udp_session_table t;
    struct udp_session *evicted;
    udp_table_init(&t, 2);
    struct pt_udp_dest_key a = dest(1, "127.0.0.1", 1), b = dest(2, "127.0.0.2", 2),
                           c = dest(3, "127.0.0.3", 3);
    udp_table_dest_start(&t, 1, &a, 0, fake_read, &f, &evicted);
    udp_table_dest_start(&t, 1, &b, 0, fake_read, &f, &evicted);
    kernel_counted(&f, a, 9, 0, 9 * SEC);
    kernel_counted(&f, b, 1, 0, 1 * SEC);
    assert_int_equal(udp_table_dest_start(&t, 1, &c, 10 * SEC, fake_read, &f, &evicted), 0);
    assert_non_null(evicted);
    assert_int_equal(evicted->sk, 2);
    assert_int_equal(t.evictions, 1);
    assert_int_equal(t.n, 2);
    udp_session_free(evicted);
    udp_table_release(&t);
}

static void test_lost_counters_are_skipped(void **state)
{
    struct fake_counts f = {0};
    struct udp_session_table t;
    struct udp_session *evicted;
    udp_table_init(&t, 2);
    struct pt_udp_dest_key a = dest(1, "127.0.0.1", 1);
    udp_table_dest_start(&t, 1, &a, 0, fake_read, &f, &evicted);
    struct udp_session *s = udp_table_take_sk(&t, 1);
    json_t *d = udp_session_destinations(s, fake_read, &f);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    udp_session_free(s);
    udp_table_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_with_two_destinations),
        cmocka_unit_test(test_end_by_exit_and_expiry),
        cmocka_unit_test(test_eviction_takes_the_idlest),
        cmocka_unit_test(test_lost_counters_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
