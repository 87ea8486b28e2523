/* config: the schema. The YAML is read by yaml_tree (includes, anchors,
 * merge keys, file and line per node); this validates the tree into typed
 * structs. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "yaml_tree.h"

static int fail_node(struct pt_error *err, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_node(struct pt_error *err, const struct ynode *n, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pt_error_set(err, EINVAL, n->file, n->line, "%s", msg);
}

static struct ynode *map_get(const struct ynode *map, const char *key)
{
    return ynode_map_get(map, key);
}

/* ---- typed values ---- */

static bool is_null(const struct ynode *n)
{
    return !n ||
           (n->kind == Y_SCALAR && n->plain &&
            (!n->value[0] || strcmp(n->value, "~") == 0 || strcasecmp(n->value, "null") == 0));
}

/* 1 for a word PyYAML (YAML 1.1) reads as true, 0 for false, -1 otherwise.
 * `1` and `0` count too, and so do the same words quoted: the original took
 * any truthy value, and its users wrote all of these. */
static int bool_word(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static int get_bool(struct pt_error *err, const struct ynode *n, const char *path, bool *out)
{
    int b = n->kind == Y_SCALAR ? bool_word(n->value) : -1;
    if (b < 0)
        return fail_node(err, n, "%s: expected true or false", path);
    *out = b == 1;
    return 0;
}

/* A number of seconds, fractions allowed, as milliseconds in [min_ms, max_ms]. */
static int get_seconds_ms(struct pt_error *err, const struct ynode *n, const char *path,
                          long long min_ms, long long max_ms, long long *out_ms)
{
    char *end = NULL;
    double s = n->kind == Y_SCALAR && (isdigit((unsigned char)n->value[0]) || n->value[0] == '.')
                   ? strtod(n->value, &end)
                   : -1;
    if (!end || *end || !(s * 1000 >= (double)min_ms) || s * 1000 > (double)max_ms)
        return fail_node(err, n, "%s: expected a number of seconds, at least %g and at most %g",
                         path, (double)min_ms / 1000, (double)max_ms / 1000);
    *out_ms = (long long)(s * 1000 + 0.5);
    return 0;
}

/* What an integer in [min, max] is called in messages. */
static void int_range_text(long long min, long long max, char *buf, size_t len)
{
    if (min == LLONG_MIN && max == LLONG_MAX)
        snprintf(buf, len, "an integer");
    else if (min == 0 && max == LLONG_MAX)
        snprintf(buf, len, "a non-negative integer");
    else if (min == 0)
        snprintf(buf, len, "a non-negative integer, at most %lld", max);
    else
        snprintf(buf, len, "an integer from %lld to %lld", min, max);
}

static int get_int(struct pt_error *err, const struct ynode *n, const char *path, long long min,
                   long long max, long long *out)
{
    char *end = NULL, range[96];
    const char *v = n->kind == Y_SCALAR ? n->value : "";
    const char *num = v[0] == '-' || v[0] == '+' ? v + 1 : v;
    bool digits = isdigit((unsigned char)num[0]);
    errno = 0;
    long long value = digits ? strtoll(v, &end, 10) : 0;
    if (!digits || *end || errno || value < min || value > max) {
        int_range_text(min, max, range, sizeof(range));
        return fail_node(err, n, "%s: expected %s", path, range);
    }
    *out = value;
    return 0;
}

static const char *get_string(struct pt_error *err, const struct ynode *n, const char *path)
{
    if (n->kind != Y_SCALAR) {
        fail_node(err, n, "%s: expected a string", path);
        return NULL;
    }
    return n->value;
}

int port_range_parse(const char *text, struct port_range *out)
{
    unsigned long lo, hi;
    char *end;
    if (!isdigit((unsigned char)text[0]))
        return -EINVAL;
    errno = 0;
    lo = strtoul(text, &end, 10);
    hi = lo;
    if (*end == '-') {
        const char *second = end + 1;
        if (!isdigit((unsigned char)second[0]))
            return -EINVAL;
        hi = strtoul(second, &end, 10);
    }
    if (*end || errno || lo > 65535 || hi > 65535 || lo > hi)
        return -EINVAL;
    out->lo = (uint16_t)lo;
    out->hi = (uint16_t)hi;
    return 0;
}

static int port_list_parse(struct pt_error *err, const struct ynode *n, const char *path,
                           struct port_list *out)
{
    if (n->kind != Y_SEQ)
        return fail_node(err, n, "%s: expected a list of ports or LOW-HIGH ranges", path);
    out->ranges = calloc(n->n + 1, sizeof(*out->ranges));
    if (!out->ranges)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *item = n->items[i];
        if (item->kind != Y_SCALAR)
            return fail_node(err, item, "%s[%zu]: expected a port or a LOW-HIGH range", path, i);
        if (port_range_parse(item->value, &out->ranges[i]) < 0) {
            bool range = strchr(item->value, '-') != NULL;
            return fail_node(err, item,
                             range ? "%s[%zu]: '%s' is a malformed range (LOW-HIGH, 0-65535)"
                                   : "%s[%zu]: '%s' is not a port (0-65535)",
                             path, i, item->value);
        }
        out->n++;
    }
    return 0;
}

bool port_list_contains(const struct port_list *list, uint16_t port)
{
    for (size_t i = 0; i < list->n; i++)
        if (port >= list->ranges[i].lo && port <= list->ranges[i].hi)
            return true;
    return false;
}

/* A mask as dotted/colon address, "N" or "/N"; -1 when malformed. */
static int mask_prefixlen(const char *mask, int family, char *why, size_t why_len)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    const char *num = mask[0] == '/' ? mask + 1 : mask;
    char *end;
    if (isdigit((unsigned char)num[0])) {
        unsigned long v = strtoul(num, &end, 10);
        if (!*end && v <= bits)
            return (int)v;
    }
    uint8_t raw[16];
    int mfamily = strchr(mask, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(mfamily, mask, raw) != 1) {
        snprintf(why, why_len, "'%s' is not a mask (dotted mask or prefix length)", mask);
        return -1;
    }
    if (mfamily != family) {
        snprintf(why, why_len, "'%s' is an IPv%d mask for an IPv%d network", mask,
                 mfamily == AF_INET ? 4 : 6, family == AF_INET ? 4 : 6);
        return -1;
    }
    int len = 0;
    bool zero_seen = false;
    for (unsigned i = 0; i < bits; i++) {
        bool set = raw[i / 8] & (0x80 >> (i % 8));
        if (set && zero_seen) {
            snprintf(why, why_len, "'%s' is not a contiguous mask", mask);
            return -1;
        }
        zero_seen |= !set;
        len += set;
    }
    return len;
}

int subnet_parse(const char *network, const char *mask, struct subnet_filter *out, char *why,
                 size_t why_len)
{
    char addr[INET6_ADDRSTRLEN + 8];
    snprintf(addr, sizeof(addr), "%s", network);
    char *slash = strchr(addr, '/');
    if (slash && mask) {
        snprintf(why, why_len, "'%s' has a prefix length and network_mask is also given", network);
        return -EINVAL;
    }
    if (slash)
        *slash = '\0';
    out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    memset(out->addr, 0, sizeof(out->addr));
    if (inet_pton(out->family, addr, out->addr) != 1) {
        snprintf(why, why_len, "'%s' is not an IPv4 or IPv6 address", network);
        return -EINVAL;
    }
    /* The copy's slash was cut off; the original still has "/len". */
    const char *m = slash ? network + (slash - addr) : mask;
    if (!m) {
        snprintf(why, why_len, "no network_mask (give one, or network as ADDRESS/LENGTH)");
        return -EINVAL;
    }
    int len = mask_prefixlen(m, out->family, why, why_len);
    if (len < 0)
        return -EINVAL;
    out->prefixlen = (unsigned)len;
    /* Host bits are cleared: 10.1.2.3/8 means 10.0.0.0/8. */
    for (unsigned i = (unsigned)len; i < (out->family == AF_INET ? 32u : 128u); i++)
        out->addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    return 0;
}

/* ---- probes ---- */

/* A key this version does not know is ignored with a warning, as the
 * original ignored it silently; --strict turns the warning into an error. */
static int check_keys(struct pt_diags *warnings, const struct ynode *map, const char *path,
                      const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i += 2) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, map->items[i]->value) != 0)
            a++;
        if (!*a && pt_diags_add(warnings, map->items[i]->file, map->items[i]->line,
                                "%s: unknown field '%s' ignored", path, map->items[i]->value) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int filter_parse(struct pt_error *err, struct pt_diags *warnings, const struct ynode *n,
                        const char *path, struct subnet_filter *f)
{
    static const char *const keys[] = {"subnet_name", "network",      "network_mask",
                                       "description", "except_ports", "include_ports",
                                       NULL};
    if (n->kind != Y_MAP)
        return fail_node(err, n, "%s: expected a mapping with network and network_mask", path);
    int ret = check_keys(warnings, n, path, keys);
    if (ret < 0)
        return ret;
    f->file = n->file;
    f->line = n->line;
    char sub[256], why[256];
    const struct ynode *network = map_get(n, "network"), *mask = map_get(n, "network_mask");
    if (!network)
        return fail_node(err, n, "%s: network is required", path);
    snprintf(sub, sizeof(sub), "%s.network", path);
    const char *net = get_string(err, network, sub);
    snprintf(sub, sizeof(sub), "%s.network_mask", path);
    const char *m = mask ? get_string(err, mask, sub) : NULL;
    if (!net || (mask && !m))
        return -EINVAL;
    if (subnet_parse(net, m, f, why, sizeof(why)) < 0)
        return fail_node(
            err, mask && !strchr(net, '/') && strstr(why, "mask") ? mask : network, "%s%s: %s",
            path, mask && !strchr(net, '/') && strstr(why, "mask") ? ".network_mask" : ".network",
            why);
    const struct ynode *v;
    if ((v = map_get(n, "subnet_name")) && !is_null(v) &&
        !(f->subnet_name = strdup(v->kind == Y_SCALAR ? v->value : "")))
        return -ENOMEM;
    if ((v = map_get(n, "description")) && !is_null(v) &&
        !(f->description = strdup(v->kind == Y_SCALAR ? v->value : "")))
        return -ENOMEM;
    snprintf(sub, sizeof(sub), "%s.except_ports", path);
    if ((v = map_get(n, "except_ports")) && (ret = port_list_parse(err, v, sub, &f->except_ports)))
        return ret;
    snprintf(sub, sizeof(sub), "%s.include_ports", path);
    if ((v = map_get(n, "include_ports")) &&
        (ret = port_list_parse(err, v, sub, &f->include_ports)))
        return ret;
    return 0;
}

static int filters_parse(struct pt_error *err, struct pt_diags *warnings, const struct ynode *n,
                         struct probe_conf *pc)
{
    if (n->kind != Y_SEQ)
        return fail_node(err, n, "%s.filters: expected a list of filters", pc->name);
    pc->filters = calloc(n->n + 1, sizeof(*pc->filters));
    if (!pc->filters)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s.filters[%zu]", pc->name, i);
        pc->n_filters++;
        int ret = filter_parse(err, warnings, n->items[i], path, &pc->filters[i]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int labels_parse(struct pt_error *err, const struct ynode *n, struct probe_conf *pc)
{
    if (n->kind != Y_SEQ)
        return fail_node(err, n, "%s.container_labels: expected a list of 'label=glob,...'",
                         pc->name);
    pc->container_labels = calloc(n->n + 1, sizeof(*pc->container_labels));
    if (!pc->container_labels)
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *item = n->items[i];
        struct label_match *lm = &pc->container_labels[pc->n_container_labels++];
        if (item->kind != Y_SCALAR)
            return fail_node(err, item, "%s.container_labels[%zu]: expected 'label=glob,...'",
                             pc->name, i);
        char *copy = strdup(item->value), *save = NULL;
        if (!copy)
            return -ENOMEM;
        for (char *pair = strtok_r(copy, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(pair, '=');
            char **keys = realloc(lm->keys, (lm->n + 1) * sizeof(*keys));
            if (keys)
                lm->keys = keys;
            char **globs = keys ? realloc(lm->globs, (lm->n + 1) * sizeof(*globs)) : NULL;
            if (globs)
                lm->globs = globs;
            if (!keys || !globs || !eq || eq == pair) {
                int ret = !keys || !globs ? -ENOMEM
                                          : fail_node(err, item,
                                                      "%s.container_labels[%zu]: '%s' is not "
                                                      "label=glob",
                                                      pc->name, i, pair);
                free(copy);
                return ret;
            }
            *eq = '\0';
            lm->keys[lm->n] = strdup(pair);
            lm->globs[lm->n] = strdup(eq + 1);
            lm->n++;
        }
        free(copy);
        if (lm->n == 0)
            return fail_node(err, item, "%s.container_labels[%zu]: empty entry", pc->name, i);
    }
    return 0;
}

static int plugin_parse(struct pt_error *err, const struct ynode *key, const struct ynode *v,
                        struct probe_conf *pc, struct plugin_conf *p)
{
    p->file = key->file;
    p->line = key->line;
    p->enabled = true;
    if (!(p->name = strdup(key->value)))
        return -ENOMEM;
    if (!is_null(v) && v->kind != Y_MAP)
        return fail_node(err, v, "%s.plugins.%s: expected a mapping of the plugin's arguments",
                         pc->name, p->name);
    char path[256];
    const struct ynode *b;
    snprintf(path, sizeof(path), "%s.plugins.%s.enabled", pc->name, p->name);
    if ((b = map_get(v, "enabled")) && get_bool(err, b, path, &p->enabled) < 0)
        return -EINVAL;
    snprintf(path, sizeof(path), "%s.plugins.%s.unload_on_init_exception", pc->name, p->name);
    if ((b = map_get(v, "unload_on_init_exception")) &&
        get_bool(err, b, path, &p->unload_on_init_exception) < 0)
        return -EINVAL;
    p->args = v && v->kind == Y_MAP ? ynode_to_json(v) : json_object();
    return p->args ? 0 : -ENOMEM;
}

static int plugins_parse(struct pt_error *err, const struct ynode *n, struct probe_conf *pc)
{
    if (is_null(n))
        return 0;
    if (n->kind != Y_MAP)
        return fail_node(err, n, "%s.plugins: expected a mapping of plugin name to arguments",
                         pc->name);
    pc->plugins = calloc(n->n / 2 + 1, sizeof(*pc->plugins));
    if (!pc->plugins)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        int ret =
            plugin_parse(err, n->items[i], n->items[i + 1], pc, &pc->plugins[pc->n_plugins++]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int attach_parse(struct pt_error *err, const struct ynode *n, struct probe_conf *pc)
{
    const char *v = n->kind == Y_SCALAR ? n->value : "";
    if (strcmp(v, "auto") == 0)
        pc->attach = ATTACH_AUTO;
    else if (strcmp(v, "tracepoint") == 0)
        pc->attach = ATTACH_TRACEPOINT;
    else if (strcmp(v, "kprobe") == 0)
        pc->attach = ATTACH_KPROBE;
    else
        return fail_node(err, n, "%s.attach: '%s' is not auto, tracepoint or kprobe", pc->name, v);
    return 0;
}

/* No list at all: absent, null, or empty. The original tested the list's
 * truth (`if config['includeports']`), so `includeports: []` means "no
 * include list", not "include nothing". */
static bool is_null_or_empty(const struct ynode *n)
{
    return is_null(n) || (n->kind == Y_SEQ && n->n == 0);
}

static int ports_parse(struct pt_error *err, const struct ynode *map, struct probe_conf *pc)
{
    char path[128];
    const struct ynode *inc = map_get(map, "includeports"), *exc = map_get(map, "excludeports");
    if (is_null_or_empty(inc))
        inc = NULL;
    if (is_null_or_empty(exc))
        exc = NULL;
    /* includeports wins over excludeports, as in the original. */
    const struct ynode *v = !is_null(inc) ? inc : exc;
    if (is_null(v))
        return 0;
    pc->port_rules.mode = v == inc ? PORT_RULES_INCLUDE : PORT_RULES_EXCLUDE;
    snprintf(path, sizeof(path), "%s.%s", pc->name, v == inc ? "includeports" : "excludeports");
    int ret = port_list_parse(err, v, path, &pc->port_rules.ports);
    /* The losing list is still checked: a typo there is still a typo. */
    if (ret == 0 && v == inc && !is_null(exc)) {
        struct port_list unused = {0};
        snprintf(path, sizeof(path), "%s.excludeports", pc->name);
        ret = port_list_parse(err, exc, path, &unused);
        free(unused.ranges);
    }
    return ret;
}

static int common_parse(struct pt_error *err, struct pt_diags *warnings, const struct ynode *map,
                        struct probe_conf *pc)
{
    const struct ynode *v;
    int ret = 0;
    if ((v = map_get(map, "filters")) && !is_null(v) &&
        (ret = filters_parse(err, warnings, v, pc)) < 0)
        return ret;
    if ((ret = ports_parse(err, map, pc)) < 0)
        return ret;
    if ((v = map_get(map, "container_labels")) && !is_null(v) &&
        (ret = labels_parse(err, v, pc)) < 0)
        return ret;
    if ((ret = plugins_parse(err, map_get(map, "plugins"), pc)) < 0)
        return ret;
    if ((v = map_get(map, "attach")) && (ret = attach_parse(err, v, pc)) < 0)
        return ret;
    return 0;
}

/* ---- a probe's own options, from its schema ---- */

/* "tcp, udp" or "tcp and udp" / "tcp or udp" for messages. */
static void names_text(const char *const *names, const char *last_sep, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && used < len; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : last_sep;
        int n = snprintf(buf + used, len - used, "%s%s", sep, names[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

static int names_parse(struct pt_error *err, const struct ynode *n, const char *path,
                       const struct probe_option *o, long long *bits)
{
    char text[256];
    if (n->kind != Y_SEQ || n->n == 0) {
        names_text(o->names, " and ", text, sizeof(text));
        return fail_node(err, n, "%s: expected a non-empty list of %s", path, text);
    }
    *bits = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *v = n->items[i]->kind == Y_SCALAR ? n->items[i]->value : "";
        size_t k = 0;
        while (o->names[k] && strcasecmp(v, o->names[k]) != 0)
            k++;
        if (!o->names[k]) {
            names_text(o->names, " or ", text, sizeof(text));
            return fail_node(err, n->items[i], "%s[%zu]: '%s' is not %s", path, i, v, text);
        }
        *bits |= 1ll << k;
    }
    return 0;
}

static int path_parse(struct pt_error *err, const struct ynode *n, const char *path, char **out)
{
    const char *v = n->kind == Y_SCALAR ? n->value : "";
    if (v[0] != '/' || strlen(v) > PROBE_OPTION_STRING_MAX || strpbrk(v, "\n\r\t"))
        return fail_node(err, n, "%s: expected an absolute path of at most %d bytes", path,
                         PROBE_OPTION_STRING_MAX);
    free(*out);
    return (*out = strdup(v)) ? 0 : -ENOMEM;
}

static int strings_parse(struct pt_error *err, const struct ynode *n, const char *path,
                         const struct probe_option *o, struct probe_option_value *val)
{
    if (n->kind != Y_SEQ || n->n > (size_t)o->max)
        return fail_node(err, n, "%s: expected a list of at most %lld %s", path, o->max,
                         o->flags & POPT_ABSOLUTE ? "absolute paths" : "strings");
    if (!(val->strings = calloc(n->n + 1, sizeof(*val->strings))))
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *item = n->items[i];
        const char *v = item->kind == Y_SCALAR ? item->value : "";
        size_t len = strlen(v);
        if (len == 0 || len > PROBE_OPTION_STRING_MAX || memchr(v, '\n', len))
            return fail_node(err, item, "%s[%zu]: expected a string of 1-%d bytes on one line",
                             path, i, PROBE_OPTION_STRING_MAX);
        if ((o->flags & POPT_ABSOLUTE) && v[0] != '/')
            return fail_node(err, item, "%s[%zu]: '%s' is not an absolute path", path, i, v);
        if (!(val->strings[val->n] = strdup(v)))
            return -ENOMEM;
        val->n++;
    }
    return 0;
}

static int ints_parse(struct pt_error *err, const struct ynode *n, const char *path,
                      const struct probe_option *o, struct probe_option_value *val)
{
    char item_path[256];
    if (n->kind != Y_SEQ || n->n > PROBE_OPTION_LIST_MAX)
        return fail_node(err, n, "%s: expected a list of at most %d integers", path,
                         PROBE_OPTION_LIST_MAX);
    if (!(val->ints = calloc(n->n + 1, sizeof(*val->ints))))
        return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        snprintf(item_path, sizeof(item_path), "%.200s[%zu]", path, i);
        int ret = get_int(err, n->items[i], item_path, o->min, o->max, &val->ints[val->n]);
        if (ret < 0)
            return ret;
        val->n++;
    }
    return 0;
}

/* One option's value, typed by its schema entry. */
static int option_parse(struct pt_error *err, const struct ynode *n, const char *path,
                        const struct probe_option *o, struct probe_option_value *val)
{
    bool b = false;
    int ret;
    bool list = o->type == POPT_STRINGS || o->type == POPT_INTS;
    val->given = true;
    val->file = n->file;
    val->line = n->line;
    /* An empty list is no list; `false` switches an OFF_IS_ZERO option off
     * (the original's documented default for snapshot_periodicity). */
    if ((list && is_null(n)) ||
        ((o->flags & POPT_OFF_IS_ZERO) &&
         (is_null(n) || (n->kind == Y_SCALAR && bool_word(n->value) == 0)))) {
        val->i = 0;
        return 0;
    }
    switch (o->type) {
    case POPT_BOOL:
        ret = get_bool(err, n, path, &b);
        val->i = b;
        return ret;
    case POPT_INT:
        return get_int(err, n, path, o->min, o->max, &val->i);
    case POPT_SECONDS:
        return get_seconds_ms(err, n, path, o->min, o->max, &val->i);
    case POPT_NAMES:
        return names_parse(err, n, path, o, &val->i);
    case POPT_PATH:
        return path_parse(err, n, path, &val->s);
    case POPT_STRINGS:
        return strings_parse(err, n, path, o, val);
    case POPT_INTS:
        return ints_parse(err, n, path, o, val);
    }
    return fail_node(err, n, "%s: option of unknown type", path);
}

/* Every key of the probe's mapping is a key every probe takes or one of its
 * own options; anything else is ignored with a warning (an error for a
 * schema with strict_keys). */
static int options_check_keys(struct pt_error *err, struct pt_diags *warnings,
                              const struct ynode *map, const struct probe_conf *pc)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *key = map->items[i];
        if (probe_schema_common_key(key->value) || probe_schema_find(pc->schema, key->value) >= 0)
            continue;
        if (pc->schema->strict_keys)
            return fail_node(err, key, "%s: unknown field '%s'", pc->name, key->value);
        if (pt_diags_add(warnings, key->file, key->line, "%s: unknown field '%s' ignored", pc->name,
                         key->value) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Filters a probe without addresses would silently not apply: said once. */
static int address_keys_check(struct pt_diags *warnings, const struct ynode *map,
                              const struct probe_conf *pc)
{
    static const char *const keys[] = {"filters", "includeports", "excludeports"};
    for (size_t i = 0; pc->schema->no_addresses && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct ynode *v = map_get(map, keys[i]);
        if (v && !is_null_or_empty(v) &&
            pt_diags_add(warnings, v->file, v->line,
                         "%s.%s: ignored: this probe's events have no address or port", pc->name,
                         keys[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int options_parse(struct pt_error *err, const struct ynode *map, struct probe_conf *pc)
{
    char path[192];
    for (size_t i = 0; i < pc->schema->n_options; i++) {
        const struct probe_option *o = &pc->schema->options[i];
        const struct ynode *v = map_get(map, o->name);
        snprintf(path, sizeof(path), "%s.%s", pc->name, o->name);
        int ret = v ? option_parse(err, v, path, o, &pc->opts[i]) : 0;
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int probe_parse(struct pt_error *err, struct pt_diags *warnings, const struct ynode *key,
                       const struct ynode *map, const struct probe_schema *schema,
                       struct probe_conf *pc)
{
    pc->file = key->file;
    pc->line = key->line;
    pc->schema = schema;
    if (!(pc->name = strdup(key->value)))
        return -ENOMEM;
    pc->opts = calloc(schema->n_options + 1, sizeof(*pc->opts));
    if (!pc->opts)
        return -ENOMEM;
    pc->n_opts = schema->n_options;
    if (probe_schema_defaults(schema, pc->opts) < 0)
        return -ENOMEM;
    if (!is_null(map) && map->kind != Y_MAP)
        return fail_node(err, map, "%s: expected a mapping of the probe's options", pc->name);
    pc->raw = map && map->kind == Y_MAP ? ynode_to_json(map) : json_object();
    if (!pc->raw)
        return -ENOMEM;
    if (is_null(map))
        return 0;
    int ret = options_check_keys(err, warnings, map, pc);
    if (ret == 0)
        ret = common_parse(err, warnings, map, pc);
    if (ret == 0)
        ret = address_keys_check(warnings, map, pc);
    return ret < 0 ? ret : options_parse(err, map, pc);
}

static int config_from_tree(struct pt_error *err, const struct ynode *root,
                            const struct config_probes *probes, struct config *cfg)
{
    if (root->kind != Y_MAP)
        return fail_node(err, root, "expected a mapping of probe names to their options");
    cfg->probes = calloc(root->n / 2 + 1, sizeof(*cfg->probes));
    if (!cfg->probes)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const struct ynode *key = root->items[i];
        if (key->value[0] == '_')
            continue; /* anchors live here */
        const struct probe_schema *schema =
            probes && probes->find ? probes->find(key->value, probes->ctx) : NULL;
        if (!schema)
            return fail_node(err, key,
                             "unknown probe '%s' (built in: %s; others come from "
                             "--extra-probe-path)",
                             key->value,
                             probes && probes->builtin_names ? probes->builtin_names : "none");
        int ret = probe_parse(err, &cfg->warnings, key, root->items[i + 1], schema,
                              &cfg->probes[cfg->n_probes++]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* ---- public ---- */

/* The config keeps the tree's file names (its structs point into them), the
 * sources read, and the local ones among them apart (for -w). */
static int config_take_tree(struct config *cfg, struct yaml_tree *t)
{
    cfg->owned_names = t->names;
    cfg->n_owned_names = t->n_names;
    t->names = NULL;
    t->n_names = 0;
    cfg->files = calloc(t->n_sources + 1, sizeof(*cfg->files));
    if (!cfg->files)
        return -ENOMEM;
    for (size_t i = 0; i < t->n_sources; i++) {
        if (t->sources[i].is_url)
            continue;
        if (!(cfg->files[cfg->n_files] = strdup(t->sources[i].path)))
            return -ENOMEM;
        cfg->n_files++;
    }
    cfg->sources = t->sources;
    cfg->n_sources = t->n_sources;
    t->sources = NULL;
    t->n_sources = 0;
    return 0;
}

static int load_common(const char *text, const char *path, const struct config_probes *probes,
                       struct config **out, struct pt_error *err)
{
    memset(err, 0, sizeof(*err));
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return pt_error_set(err, ENOMEM, path, 0, "out of memory");
    struct yaml_tree tree;
    int ret = text ? yaml_tree_load_string(text, strlen(text), path, &tree, &cfg->warnings, err)
                   : yaml_tree_load_file(path, &tree, &cfg->warnings, err);
    if (ret == 0)
        ret = config_take_tree(cfg, &tree);
    if (ret == 0)
        ret = config_from_tree(err, tree.root, probes, cfg);
    yaml_tree_release(&tree);
    if (ret < 0) {
        if (ret == -ENOMEM)
            pt_error_set(err, ENOMEM, path, 0, "out of memory");
        config_free(cfg);
        return ret;
    }
    *out = cfg;
    return 0;
}

int config_load(const char *path, const struct config_probes *probes, struct config **out,
                struct pt_error *err)
{
    return load_common(NULL, path, probes, out, err);
}

int config_load_string(const char *text, const char *name, const struct config_probes *probes,
                       struct config **out, struct pt_error *err)
{
    return load_common(text, name, probes, out, err);
}

int config_yaml_file_to_json(const char *path, json_t **out, struct pt_error *err)
{
    memset(err, 0, sizeof(*err));
    struct yaml_tree tree;
    int ret = yaml_tree_load_file(path, &tree, NULL, err);
    if (ret == 0 && !(*out = ynode_to_json(tree.root)))
        ret = pt_error_set(err, ENOMEM, path, 0, "out of memory");
    yaml_tree_release(&tree);
    return ret;
}

static void port_list_free(struct port_list *pl)
{
    free(pl->ranges);
}

static void probe_conf_free(struct probe_conf *pc)
{
    free(pc->name);
    for (size_t i = 0; i < pc->n_filters; i++) {
        free(pc->filters[i].subnet_name);
        free(pc->filters[i].description);
        port_list_free(&pc->filters[i].except_ports);
        port_list_free(&pc->filters[i].include_ports);
    }
    free(pc->filters);
    port_list_free(&pc->port_rules.ports);
    for (size_t i = 0; i < pc->n_container_labels; i++) {
        for (size_t k = 0; k < pc->container_labels[i].n; k++) {
            free(pc->container_labels[i].keys[k]);
            free(pc->container_labels[i].globs[k]);
        }
        free(pc->container_labels[i].keys);
        free(pc->container_labels[i].globs);
    }
    free(pc->container_labels);
    for (size_t i = 0; i < pc->n_plugins; i++) {
        free(pc->plugins[i].name);
        json_decref(pc->plugins[i].args);
    }
    free(pc->plugins);
    probe_option_values_free(pc->opts, pc->n_opts);
    free(pc->opts);
    json_decref(pc->raw);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_probes; i++)
        probe_conf_free(&cfg->probes[i]);
    free(cfg->probes);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    for (size_t i = 0; i < cfg->n_sources; i++)
        free(cfg->sources[i].path);
    free(cfg->sources);
    for (size_t i = 0; i < cfg->n_owned_names; i++)
        free(cfg->owned_names[i]);
    free(cfg->owned_names);
    pt_diags_free(&cfg->warnings);
    free(cfg);
}

const struct probe_conf *config_find_probe(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_probes; i++)
        if (strcmp(cfg->probes[i].name, name) == 0)
            return &cfg->probes[i];
    return NULL;
}
