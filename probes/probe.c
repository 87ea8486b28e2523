#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel_layout.h"
#include "strbuf.h"

/* The registry: one line per built-in probe. */
/* clang-format off */
static const struct probe_ops *const builtin_probes[] = {
    &probe_tcp_connect,
    &probe_net_listen,
    &probe_udp_session,
    &probe_tcp_accept,
    &probe_exec,
    &probe_file_open,
    &probe_bashreadline,
};
/* clang-format on */

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

static const enum kernel_field sock_raw_fields[] = {KF_SK_PROTOCOL, KF_SKC_V6_DADDR,
                                                    KF_SKC_V6_RCV_SADDR};
#define SOCK_RAW_FIELDS (int)(sizeof(sock_raw_fields) / sizeof(sock_raw_fields[0]))

bool probe_sock_raw_usable(void)
{
    return kernel_layout_all(sock_raw_fields, SOCK_RAW_FIELDS);
}

bool probe_sock_raw_point_active(const struct probe_attach_point *ap, const struct probe_conf *conf)
{
    if (ap->kind == PROBE_TRACEPOINT)
        return !probe_sock_raw_usable();
    return ap->kind != PROBE_RAW_TRACEPOINT || probe_sock_raw_usable();
}

int probe_sock_raw_render(struct strbuf *out)
{
    if (!probe_sock_raw_usable())
        return 0;
    return strbuf_printf(out,
                         "#ifndef PT_SK_OFF_PROTOCOL\n#define PT_SK_OFF_PROTOCOL %ld\n"
                         "#define PT_SK_OFF_V6_DADDR %ld\n#define PT_SK_OFF_V6_RCV_SADDR %ld\n"
                         "#endif\n",
                         kernel_layout_offset(KF_SK_PROTOCOL),
                         kernel_layout_offset(KF_SKC_V6_DADDR),
                         kernel_layout_offset(KF_SKC_V6_RCV_SADDR));
}

bool probe_point_active(const struct probe_ops *ops, const struct probe_conf *conf,
                        const struct probe_attach_point *ap)
{
    return !ops->point_active || ops->point_active(ap, conf);
}

const char *probe_attach_kind_name(enum probe_attach_kind kind)
{
    static const char *const names[] = {
        [PROBE_TRACEPOINT] = "tracepoint",
        [PROBE_KPROBE] = "kprobe",
        [PROBE_KRETPROBE] = "kretprobe",
        [PROBE_CGROUP] = "cgroup",
        [PROBE_UPROBE] = "uprobe",
        [PROBE_URETPROBE] = "uretprobe",
        [PROBE_RAW_TRACEPOINT] = "raw_tracepoint",
    };
    return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* The path option a "{NAME}" binary names, or NULL with the reason. */
static const char *target_option(const struct probe_ops *ops, const struct probe_conf *conf,
                                 const char *name, size_t name_len, char *why, size_t why_len)
{
    char opt[65];
    snprintf(opt, sizeof(opt), "%.*s", (int)(name_len < 64 ? name_len : 64), name);
    int i = probe_schema_find(&ops->schema, opt);
    if (i < 0 || ops->schema.options[i].type != POPT_PATH) {
        snprintf(why, why_len, "an attach target names '{%s}', which is not a path option of %s",
                 opt, ops->name);
        return NULL;
    }
    const char *v =
        conf && (size_t)i < conf->n_opts ? conf->opts[i].s : ops->schema.options[i].def_str;
    if (!v)
        snprintf(why, why_len, "%s.%s is not set", ops->name, opt);
    return v;
}

int probe_attach_target(const struct probe_ops *ops, const struct probe_conf *conf,
                        const struct probe_attach_point *ap, char *buf, size_t len)
{
    const char *t = ap->target;
    bool user = ap->kind == PROBE_UPROBE || ap->kind == PROBE_URETPROBE;
    const char *close = user && t[0] == '{' ? strchr(t, '}') : NULL;
    if (!close)
        return snprintf(buf, len, "%s", t) < (int)len ? 0 : -ENAMETOOLONG;
    const char *binary = target_option(ops, conf, t + 1, (size_t)(close - t - 1), buf, len);
    if (!binary)
        return -EINVAL;
    return snprintf(buf, len, "%s%s", binary, close + 1) < (int)len ? 0 : -ENAMETOOLONG;
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
