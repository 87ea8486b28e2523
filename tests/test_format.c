/* The per-event formatters the daemon's hot path relies on: addresses and
 * timestamps, written by hand rather than through printf. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "probe.h"
#include "timeutil.h"

static void check_v4(const char *text)
{
    uint8_t addr[16] = {0};
    char buf[INET6_ADDRSTRLEN];
    assert_int_equal(inet_pton(AF_INET, text, addr), 1);
    assert_string_equal(probe_addr_format(AF_INET, addr, buf), text);
    /* The same address as IPv4-mapped IPv6 prints as IPv4. */
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(mapped + 12, addr, 4);
    assert_string_equal(probe_addr_format(AF_INET6, mapped, buf), text);
}

static void test_addresses(void **state)
{
    check_v4("0.0.0.0");
    check_v4("127.0.0.1");
    check_v4("10.20.30.40");
    check_v4("198.51.100.2");
    check_v4("255.255.255.255");
    check_v4("1.100.9.109");
    uint8_t v6[16];
    char buf[INET6_ADDRSTRLEN];
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", v6), 1);
    assert_string_equal(probe_addr_format(AF_INET6, v6, buf), "2001:db8::1");
    assert_string_equal(probe_addr_format(AF_UNIX, v6, buf), "");
}

static void test_timestamps(void **state)
{
    char buf[40];
    /* 2026-12-01T16:32:19.000007Z, then the next second, then back. */
    uint64_t t = 1796142739ull * 1000000000ull + 7000ull;
    time_format_iso8601(t, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-01T16:32:19.000007Z");
    time_format_iso8601(t + 999990000ull, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-01T16:32:19.999997Z");
    time_format_iso8601(t + 1000000000ull, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-01T16:32:20.000007Z");
    time_format_iso8601(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    /* A buffer too small is cut, never overrun. */
    char small[12];
    time_format_iso8601(t, small, sizeof(small));
    assert_string_equal(small, "2026-12-01T");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
