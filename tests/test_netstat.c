/* /proc/net parsing, for listener snapshots and socket resolution. */
#include <errno.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "netstat.h"

static void test_parse_tcp4_listener(void **state)
{
    struct netstat_entry e;
    const char *line = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
                       "00000000     0        0 31337 1 0000000000000000 100 0 0 10 0";
    assert_int_equal(netstat_parse_line(line, AF_INET, IPPROTO_TCP, &e), 0);
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, e.laddr, addr, sizeof(addr));
    assert_string_equal(addr, "127.0.0.1");
    assert_int_equal(e.lport, 8080);
    assert_int_equal(e.state, NETSTAT_TCP_LISTEN);
    assert_int_equal(e.inode, 31337);
}

static void test_parse_udp6(void **state)
{
    struct netstat_entry e;
    const char *line = "  12: 00000000000000000000000001000000:14E9 "
                       "00000000000000000000000000000000:0000 07 00000000:00000000 "
                       "00:00000000 00000000     0        0 4242 2 0000000000000000 0";
    assert_int_equal(netstat_parse_line(line, AF_INET6, IPPROTO_UDP, &e), 0);
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, e.laddr, addr, sizeof(addr));
    assert_string_equal(addr, "::1");
    assert_int_equal(e.lport, 5353);
    assert_int_equal(e.state, NETSTAT_UDP_UNCONNECTED);
    assert_int_equal(e.protocol, IPPROTO_UDP);
}

static void test_parse_garbage(void **state)
{
    struct netstat_entry e;
    assert_int_equal(
        netstat_parse_line("  sl  local_address rem_address   st", AF_INET, IPPROTO_TCP, &e),
        -EINVAL);
    assert_int_equal(netstat_parse_line("", AF_INET, IPPROTO_TCP, &e), -EINVAL);
    /* An IPv6-length address in an IPv4 table. */
    assert_int_equal(netstat_parse_line("0: 00000000000000000000000001000000:14E9 "
                                        "00000000:0000 07 0:0 0:0 0 0 0 1",
                                        AF_INET, IPPROTO_UDP, &e),
                     -EINVAL);
}

static int collect(const struct netstat_entry *e, void *ctx)
{
    (*(int *)ctx)++;
    return 0;
}

static void test_foreach_fake_dir(void **state)
{
    char dir[] = "/tmp/pidtree-netstat-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/tcp", dir);
    FILE *f = fopen(path, "w");
    fputs("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n"
          "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
          "       0 1 1 0 100 0 0 10 0\n"
          "   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
          "       0 2 1 0 100 0 0 10 0\n",
          f);
    fclose(f);
    int n = 0;
    /* tcp6 is missing: treated as an IPv6-less host, not an error. */
    assert_int_equal(netstat_foreach(dir, IPPROTO_TCP, collect, &n), 0);
    assert_int_equal(n, 2);
    unlink(path);
    rmdir(dir);
}

static void test_own_socket_resolves(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    uint64_t inode = netstat_fd_inode("/proc", getpid(), fd);
    assert_true(inode != 0);
    struct netstat_entry e;
    assert_int_equal(netstat_find_inode("/proc", getpid(), IPPROTO_UDP, inode, &e), 0);
    assert_int_equal(e.lport, ntohs(sin.sin_port));
    pid_t owner;
    netstat_inode_owners("/proc", &inode, &owner, 1);
    assert_int_equal(owner, getpid());
    assert_true(netstat_netns("/proc", 0) == netstat_netns("/proc", getpid()));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_tcp4_listener), cmocka_unit_test(test_parse_udp6),
        cmocka_unit_test(test_parse_garbage),       cmocka_unit_test(test_foreach_fake_dir),
        cmocka_unit_test(test_own_socket_resolves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
