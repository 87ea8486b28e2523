/* filter: a probe's `filters`, `includeports` and `excludeports` as the
 * kernel evaluates them.
 *
 * filter_tables_build() turns the config into the exact entries of the
 * shared maps (templates/common.bpf.c); filter_tables_load() writes them;
 * filter_tables_drop() evaluates the same tables in userland, mirroring the
 * kernel's code, for unit tests and for the listeners snapshot.
 *
 * Semantics (from the original): an address inside a subnet is dropped,
 * unless the subnet lists the port in `except_ports`; with `include_ports`,
 * only those ports are dropped. The longest matching subnet decides. Global
 * `includeports` keeps only the listed ports, `excludeports` drops them.
 */
#ifndef PIDTREE_FILTER_H
#define PIDTREE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "templates/pidtree_common.h"

struct filter_subnet_entry {
    struct pt_subnet_key key;
    struct pt_subnet_rule rule;
};

struct filter_port_word {
    struct pt_subnet_port_key key;
    uint64_t bits;
};

struct filter_tables {
    uint32_t probe_id;
    struct filter_subnet_entry *subnets;
    size_t n_subnets;
    struct filter_port_word *ports; /* subnets' port lists, 64 ports a word */
    size_t n_ports;
    uint64_t port_bits[PT_PORT_WORDS]; /* set = drop */
};

/* Builds the tables of one probe. Rule ids are taken from *next_rule_id so
 * they stay unique across the probes of a module. Returns 0, or -EINVAL with
 * "FILE:LINE: ..." in `err` (duplicate subnet, too many entries). */
int filter_tables_build(const struct probe_conf *conf, uint32_t probe_id, uint32_t *next_rule_id,
                        struct filter_tables *out, char *err, size_t errlen);

/* Checks that the tables of every probe of a module fit the maps they
 * share. Returns 0, or -E2BIG with "CONFIG: ..." (the totals and limits)
 * in `err`. */
int filter_tables_check_totals(const struct filter_tables *tables, size_t n, const char *config,
                               char *err, size_t errlen);

/* True when an event at `addr`:`port` is filtered out. */
bool filter_tables_drop(const struct filter_tables *t, int family, const uint8_t addr[16],
                        uint16_t port);

enum filter_map {
    FILTER_MAP_SUBNETS,
    FILTER_MAP_SUBNET_PORTS,
    FILTER_MAP_PORT_BITS,
    FILTER_N_MAPS
};

/* The module's filter maps (templates/common.bpf.c), by fd. `update` and
 * `remove`, when set, stand in for the bpf() calls: a test's own map, which
 * can fail on demand. Both return 0 or a negative errno. */
struct filter_maps {
    int fd[FILTER_N_MAPS];
    int (*update)(const struct filter_maps *m, enum filter_map map, const void *key,
                  const void *value);
    int (*remove)(const struct filter_maps *m, enum filter_map map, const void *key);
    void *ctx;
};

/* Writes one probe's tables into maps that hold nothing of it yet. Returns
 * 0, or a negative errno having taken back what it wrote. */
int filter_tables_load(const struct filter_tables *t, const struct filter_maps *maps);

/* Replaces the tables `old[i]` of n probes by `fresh[i]`, all or nothing:
 * new entries go in before stale ones leave (a subnet filtered before and
 * after never lets an event through), and when any write fails every entry
 * written is taken back, so the maps hold exactly `old` again. Events seen
 * while the swap runs may meet a mix of old and new entries. Returns 0 or
 * the failed write's negative errno. */
int filter_tables_swap(const struct filter_tables *fresh, const struct filter_tables *old, size_t n,
                       const struct filter_maps *maps);

void filter_tables_release(struct filter_tables *t);

#endif
