#include "filter.h"

#include <bcc/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The LPM key for an address: probe id, then the address as IPv6 (IPv4 as
 * ::ffff:a.b.c.d), with the prefix length counting the probe id's 32 bits. */
static void subnet_key_make(uint32_t probe_id, int family, const uint8_t *addr, unsigned prefixlen,
                            struct pt_subnet_key *key)
{
    memset(key, 0, sizeof(*key));
    key->probe_id_be[0] = (uint8_t)(probe_id >> 24);
    key->probe_id_be[1] = (uint8_t)(probe_id >> 16);
    key->probe_id_be[2] = (uint8_t)(probe_id >> 8);
    key->probe_id_be[3] = (uint8_t)probe_id;
    if (family == AF_INET) {
        key->addr[10] = key->addr[11] = 0xff;
        memcpy(&key->addr[12], addr, 4);
        key->prefixlen = 32 + 96 + prefixlen;
    } else {
        memcpy(key->addr, addr, 16);
        key->prefixlen = 32 + prefixlen;
    }
}

/* A subnet's port list as bitmap words: a range costs a word per 64 ports
 * instead of an entry per port. */
static int ports_add(struct filter_tables *t, uint32_t rule_id, const struct port_list *list,
                     const struct subnet_filter *f, char *err, size_t errlen)
{
    uint64_t *bits = calloc(PT_PORT_WORDS, sizeof(*bits));
    if (!bits) {
        snprintf(err, errlen, "out of memory building filters");
        return -ENOMEM;
    }
    for (size_t i = 0; i < list->n; i++)
        for (uint32_t p = list->ranges[i].lo; p <= list->ranges[i].hi; p++)
            bits[p >> 6] |= 1ull << (p & 63);
    int ret = 0;
    for (uint32_t w = 0; w < PT_PORT_WORDS && ret == 0; w++) {
        if (!bits[w])
            continue;
        if (t->n_ports >= PT_MAX_SUBNET_PORT_WORDS) {
            snprintf(err, errlen,
                     "%s:%d: filters list too many ports: more than %d words of 64 ports "
                     "(a range of 64 ports takes one word, a lone port one word)",
                     f->file, f->line, PT_MAX_SUBNET_PORT_WORDS);
            ret = -EINVAL;
            break;
        }
        t->ports[t->n_ports++] =
            (struct filter_port_word){{.rule_id = rule_id, .word = w}, bits[w]};
    }
    free(bits);
    return ret;
}

static int subnet_add(struct filter_tables *t, const struct subnet_filter *f, uint32_t rule_id,
                      char *err, size_t errlen)
{
    struct filter_subnet_entry e = {.rule = {.rule_id = rule_id}};
    subnet_key_make(t->probe_id, f->family, f->addr, f->prefixlen, &e.key);
    for (size_t i = 0; i < t->n_subnets; i++) {
        if (memcmp(&t->subnets[i].key, &e.key, sizeof(e.key)) == 0) {
            snprintf(err, errlen, "%s:%d: filter '%s' covers the same network as an earlier one",
                     f->file, f->line, f->subnet_name ? f->subnet_name : "");
            return -EINVAL;
        }
    }
    if (f->except_ports.n) {
        e.rule.mode = PT_SUBNET_EXCEPT_PORTS;
        int ret = ports_add(t, rule_id, &f->except_ports, f, err, errlen);
        if (ret < 0)
            return ret;
    } else if (f->include_ports.n) {
        e.rule.mode = PT_SUBNET_INCLUDE_PORTS;
        int ret = ports_add(t, rule_id, &f->include_ports, f, err, errlen);
        if (ret < 0)
            return ret;
    } else {
        e.rule.mode = PT_SUBNET_DROP_ALL;
    }
    t->subnets[t->n_subnets++] = e;
    return 0;
}

static void port_bits_build(const struct port_rules *rules, uint64_t *bits)
{
    bool drop_listed = rules->mode == PORT_RULES_EXCLUDE;
    memset(bits, rules->mode == PORT_RULES_INCLUDE ? 0xff : 0, PT_PORT_WORDS * sizeof(*bits));
    if (rules->mode == PORT_RULES_NONE)
        return;
    for (size_t i = 0; i < rules->ports.n; i++) {
        for (uint32_t p = rules->ports.ranges[i].lo; p <= rules->ports.ranges[i].hi; p++) {
            uint64_t bit = 1ull << (p & 63);
            if (drop_listed)
                bits[p >> 6] |= bit;
            else
                bits[p >> 6] &= ~bit;
        }
    }
}

int filter_tables_build(const struct probe_conf *conf, uint32_t probe_id, uint32_t *next_rule_id,
                        struct filter_tables *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->probe_id = probe_id;
    if (conf->n_filters > PT_MAX_SUBNETS) {
        snprintf(err, errlen, "%s:%d: probe '%s' has more than %d filters", conf->file, conf->line,
                 conf->name, PT_MAX_SUBNETS);
        return -EINVAL;
    }
    out->subnets = calloc(conf->n_filters + 1, sizeof(*out->subnets));
    out->ports = calloc(PT_MAX_SUBNET_PORT_WORDS, sizeof(*out->ports));
    if (!out->subnets || !out->ports) {
        filter_tables_release(out);
        snprintf(err, errlen, "out of memory building filters");
        return -ENOMEM;
    }
    for (size_t i = 0; i < conf->n_filters; i++) {
        int ret = subnet_add(out, &conf->filters[i], (*next_rule_id)++, err, errlen);
        if (ret < 0) {
            filter_tables_release(out);
            return ret;
        }
    }
    port_bits_build(&conf->port_rules, out->port_bits);
    return 0;
}

int filter_tables_check_totals(const struct filter_tables *tables, size_t n, const char *config,
                               char *err, size_t errlen)
{
    size_t subnets = 0, words = 0;
    for (size_t i = 0; i < n; i++) {
        subnets += tables[i].n_subnets;
        words += tables[i].n_ports;
    }
    if (subnets > PT_MAX_SUBNETS) {
        snprintf(err, errlen, "%s: the probes' filters hold %zu subnets in all, more than %d",
                 config, subnets, PT_MAX_SUBNETS);
        return -E2BIG;
    }
    if (words > PT_MAX_SUBNET_PORT_WORDS) {
        snprintf(err, errlen,
                 "%s: the probes' filters list %zu words of 64 ports in all, more than %d "
                 "(a range of 64 ports takes one word, a lone port one word)",
                 config, words, PT_MAX_SUBNET_PORT_WORDS);
        return -E2BIG;
    }
    return 0;
}

static bool key_prefix_matches(const struct pt_subnet_key *rule, const struct pt_subnet_key *key)
{
    const uint8_t *a = rule->probe_id_be, *b = key->probe_id_be;
    unsigned bits = rule->prefixlen, i = 0;
    for (; bits >= 8; bits -= 8, i++)
        if (a[i] != b[i])
            return false;
    if (bits == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    return (a[i] & mask) == (b[i] & mask);
}

static const struct pt_subnet_rule *subnet_lookup(const struct filter_tables *t,
                                                  const struct pt_subnet_key *key)
{
    const struct filter_subnet_entry *best = NULL;
    for (size_t i = 0; i < t->n_subnets; i++) {
        const struct filter_subnet_entry *e = &t->subnets[i];
        if (key_prefix_matches(&e->key, key) && (!best || e->key.prefixlen > best->key.prefixlen))
            best = e;
    }
    return best ? &best->rule : NULL;
}

static bool subnet_port_listed(const struct filter_tables *t, uint32_t rule_id, uint16_t port)
{
    for (size_t i = 0; i < t->n_ports; i++)
        if (t->ports[i].key.rule_id == rule_id && t->ports[i].key.word == port >> 6u)
            return (t->ports[i].bits >> (port & 63)) & 1;
    return false;
}

/* Mirrors pt_filtered() in templates/common.bpf.c. */
bool filter_tables_drop(const struct filter_tables *t, int family, const uint8_t addr[16],
                        uint16_t port)
{
    if ((t->port_bits[port >> 6] >> (port & 63)) & 1)
        return true;
    struct pt_subnet_key key;
    subnet_key_make(t->probe_id, family, addr, family == AF_INET ? 32 : 128, &key);
    const struct pt_subnet_rule *rule = subnet_lookup(t, &key);
    if (!rule)
        return false;
    if (rule->mode == PT_SUBNET_DROP_ALL)
        return true;
    bool listed = subnet_port_listed(t, rule->rule_id, port);
    return rule->mode == PT_SUBNET_EXCEPT_PORTS ? !listed : listed;
}

static int map_write(const struct filter_maps *m, enum filter_map map, const void *key,
                     const void *value)
{
    if (m->update)
        return m->update(m, map, key, value);
    return bpf_update_elem(m->fd[map], (void *)key, (void *)value, 0) < 0 ? -errno : 0;
}

/* An entry already gone is what a removal wants. */
static int map_remove(const struct filter_maps *m, enum filter_map map, const void *key)
{
    int ret = m->remove                                      ? m->remove(m, map, key)
              : bpf_delete_elem(m->fd[map], (void *)key) < 0 ? -errno
                                                             : 0;
    return ret == -ENOENT ? 0 : ret;
}

static const struct filter_subnet_entry *subnet_find(const struct filter_tables *t,
                                                     const struct pt_subnet_key *key)
{
    for (size_t i = 0; i < t->n_subnets; i++)
        if (memcmp(&t->subnets[i].key, key, sizeof(*key)) == 0)
            return &t->subnets[i];
    return NULL;
}

static const struct filter_port_word *port_word_find(const struct filter_tables *t,
                                                     const struct pt_subnet_port_key *key)
{
    for (size_t i = 0; i < t->n_ports; i++)
        if (memcmp(&t->ports[i].key, key, sizeof(*key)) == 0)
            return &t->ports[i];
    return NULL;
}

/* Writing a probe's tables is a sequence of steps: its ports, then its
 * subnets (whose rules name the ports), then the port-bit words that
 * change. Each step can be undone from `old`. */
static size_t write_steps(const struct filter_tables *t)
{
    return t->n_ports + t->n_subnets + PT_PORT_WORDS;
}

static int write_step(const struct filter_tables *t, const struct filter_tables *old, size_t step,
                      bool undo, const struct filter_maps *m)
{
    if (step < t->n_ports) {
        const struct filter_port_word *word = &t->ports[step];
        if (!undo)
            return map_write(m, FILTER_MAP_SUBNET_PORTS, &word->key, &word->bits);
        const struct filter_port_word *was = port_word_find(old, &word->key);
        return was ? map_write(m, FILTER_MAP_SUBNET_PORTS, &was->key, &was->bits)
                   : map_remove(m, FILTER_MAP_SUBNET_PORTS, &word->key);
    }
    step -= t->n_ports;
    if (step < t->n_subnets) {
        const struct filter_subnet_entry *e = &t->subnets[step];
        if (!undo)
            return map_write(m, FILTER_MAP_SUBNETS, &e->key, &e->rule);
        const struct filter_subnet_entry *was = subnet_find(old, &e->key);
        return was ? map_write(m, FILTER_MAP_SUBNETS, &was->key, &was->rule)
                   : map_remove(m, FILTER_MAP_SUBNETS, &e->key);
    }
    uint32_t w = (uint32_t)(step - t->n_subnets);
    if (t->port_bits[w] == old->port_bits[w])
        return 0; /* unchanged, or zero as an array map starts */
    uint32_t idx = t->probe_id * PT_PORT_WORDS + w;
    return map_write(m, FILTER_MAP_PORT_BITS, &idx, undo ? &old->port_bits[w] : &t->port_bits[w]);
}

/* Undoes every step up to and including probe `last`'s step `failed` (a
 * failed update changed nothing, undoing it is harmless). */
static void writes_undo(const struct filter_tables *fresh, const struct filter_tables *old,
                        size_t last, size_t failed, const struct filter_maps *m)
{
    static const struct filter_tables none;
    for (size_t i = last + 1; i-- > 0;) {
        size_t steps = i == last ? failed + 1 : write_steps(&fresh[i]);
        for (size_t s = steps; s-- > 0;)
            write_step(&fresh[i], old ? &old[i] : &none, s, true, m);
    }
}

/* Entries of `old` the new tables do not have. A removal of a present key
 * does not fail; one that did would leave a stale entry, not a broken
 * swap. */
static void stale_remove(const struct filter_tables *t, const struct filter_tables *old,
                         const struct filter_maps *m)
{
    for (size_t i = 0; i < old->n_subnets; i++)
        if (!subnet_find(t, &old->subnets[i].key))
            map_remove(m, FILTER_MAP_SUBNETS, &old->subnets[i].key);
    for (size_t i = 0; i < old->n_ports; i++)
        if (!port_word_find(t, &old->ports[i].key))
            map_remove(m, FILTER_MAP_SUBNET_PORTS, &old->ports[i].key);
}

int filter_tables_swap(const struct filter_tables *fresh, const struct filter_tables *old, size_t n,
                       const struct filter_maps *m)
{
    static const struct filter_tables none;
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < write_steps(&fresh[i]); s++) {
            int ret = write_step(&fresh[i], old ? &old[i] : &none, s, false, m);
            if (ret < 0) {
                writes_undo(fresh, old, i, s, m);
                return ret;
            }
        }
    }
    for (size_t i = 0; old && i < n; i++)
        stale_remove(&fresh[i], &old[i], m);
    return 0;
}

int filter_tables_load(const struct filter_tables *t, const struct filter_maps *m)
{
    return filter_tables_swap(t, NULL, 1, m);
}

void filter_tables_release(struct filter_tables *t)
{
    free(t->subnets);
    free(t->ports);
    t->subnets = NULL;
    t->ports = NULL;
    t->n_subnets = t->n_ports = 0;
}
