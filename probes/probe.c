#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const struct probe_ops *const builtin_probes[] = {
    &probe_tcp_connect,
    &probe_net_listen,
    &probe_udp_session,
};

const struct probe_ops *probe_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtin_probes) / sizeof(builtin_probes[0]); i++)
        if (strcmp(builtin_probes[i]->name, name) == 0)
            return builtin_probes[i];
    return NULL;
}

const struct probe_form *probe_form_get(const struct probe_ops *ops, enum attach_mode mode)
{
    return mode == ATTACH_KPROBE ? &ops->kprobe_form : &ops->tracepoint_form;
}

/* glibc's inet_ntop formats IPv4 through sprintf, a tenth of the daemon's
 * time per event; four small numbers need no format string. */
static char *ipv4_format(const uint8_t a[4], char *buf)
{
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    return buf;
}

const char *probe_addr_format(int family, const uint8_t addr[16], char *buf)
{
    static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(addr, v4_mapped_prefix, 12) == 0)
        return ipv4_format(addr + 12, buf);
    if (family == AF_INET)
        return ipv4_format(addr, buf);
    if (family != AF_INET && family != AF_INET6) {
        strcpy(buf, "");
        return buf;
    }
    return inet_ntop(family, addr, buf, INET6_ADDRSTRLEN);
}

const char *probe_attach_kind_name(enum probe_attach_kind kind)
{
    static const char *const names[] = {"tracepoint", "kprobe", "kretprobe", "cgroup"};
    return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}
