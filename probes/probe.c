#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
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

const char *probe_builtin_names(void)
{
    static char names[256];
    size_t used = 0;
    if (names[0])
        return names;
    for (size_t i = 0; i < sizeof(builtin_probes) / sizeof(builtin_probes[0]); i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                         builtin_probes[i]->name);
        used += n > 0 && (size_t)n < sizeof(names) - used ? (size_t)n : 0;
    }
    return names;
}

const struct probe_form *probe_form_get(const struct probe_ops *ops, enum attach_mode mode)
{
    return mode == ATTACH_KPROBE ? &ops->kprobe_form : &ops->tracepoint_form;
}

const char *probe_addr_format(int family, const uint8_t addr[16], char *buf)
{
    static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(addr, v4_mapped_prefix, 12) == 0)
        return inet_ntop(AF_INET, addr + 12, buf, INET6_ADDRSTRLEN);
    if (family != AF_INET && family != AF_INET6) {
        strcpy(buf, "");
        return buf;
    }
    return inet_ntop(family, addr, buf, INET6_ADDRSTRLEN);
}
