/* config: the YAML configuration, parsed, typed and validated.
 *
 * config_load() reads a pidtree-bcc YAML file or URL (through yaml_tree:
 * anchors, aliases, `<<` merge keys, `!include PATH|URL`, its limits; top-level
 * keys starting with `_` skipped) into a struct config in which every value has its final type.
 * Nothing from the YAML is passed on as an unchecked string except free-text fields (descriptions,
 * subnet names) and plugin arguments, which stay JSON for the plugin to validate.
 */
#ifndef PIDTREE_CONFIG_H
#define PIDTREE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "probe_schema.h"
#include "yaml_tree.h"

/* An inclusive port range; a single port has lo == hi. */
struct port_range {
    uint16_t lo;
    uint16_t hi;
};

struct port_list {
    struct port_range *ranges;
    size_t n;
};

/* One entry of a probe's `filters` list. Addresses are kept in network byte
 * order; an IPv4 network has family AF_INET and uses addr[0..3]. */
struct subnet_filter {
    char *subnet_name;  /* may be NULL */
    char *description;  /* may be NULL */
    int family;         /* AF_INET or AF_INET6 */
    uint8_t addr[16];   /* network address, host bits cleared */
    unsigned prefixlen; /* 0..32 for AF_INET, 0..128 for AF_INET6 */
    struct port_list except_ports;
    struct port_list include_ports;
    const char *file; /* where it was declared, for messages */
    int line;
};

enum port_rule_mode {
    PORT_RULES_NONE = 0,
    PORT_RULES_INCLUDE, /* only events on these ports pass */
    PORT_RULES_EXCLUDE, /* events on these ports are dropped */
};

struct port_rules {
    enum port_rule_mode mode;
    struct port_list ports;
};

struct plugin_conf {
    char *name;
    bool enabled;                  /* default true */
    bool unload_on_init_exception; /* default false */
    json_t *args;                  /* the whole plugin mapping as JSON (owned) */
    const char *file;
    int line;
};

/* A `label=glob,label2=glob` entry: every pair must match (AND). */
struct label_match {
    char **keys;
    char **globs;
    size_t n;
};

enum attach_mode {
    ATTACH_AUTO = 0,
    ATTACH_TRACEPOINT,
    ATTACH_KPROBE,
};

struct probe_conf {
    char *name;
    const char *file; /* file and line of the probe's key */
    int line;

    struct subnet_filter *filters;
    size_t n_filters;
    struct port_rules port_rules; /* includeports wins over excludeports */
    struct label_match *container_labels;
    size_t n_container_labels;
    struct plugin_conf *plugins;
    size_t n_plugins;
    enum attach_mode attach; /* key `attach: auto|tracepoint|kprobe` */

    /* The probe's own options, one value per entry of its schema, in the
     * schema's order (defaults where the config is silent). Owned. */
    const struct probe_schema *schema;
    struct probe_option_value *opts;
    size_t n_opts;

    /* The probe's mapping as JSON, to compare configs (-w). Owned. */
    json_t *raw;
};

struct config {
    struct probe_conf *probes;
    size_t n_probes;
    /* Every local file read, the top one first, for -w to watch. Owned. */
    char **files;
    size_t n_files;
    /* Every file and URL read, the top one first; is_url marks the ones to
     * fetch again rather than watch. Owned. */
    struct yaml_source *sources;
    size_t n_sources;
    /* File names the structs above point into (file fields). Owned. */
    char **owned_names;
    size_t n_owned_names;
    /* What was accepted with a warning (ignored or duplicate keys). */
    struct pt_diags warnings;
};

/* Tells the loader which top-level keys name probes (built-ins, and the
 * ones found in --extra-probe-path) and what options each takes. */
struct config_probes {
    /* The schema of the probe called `name`, or NULL when there is none. */
    const struct probe_schema *(*find)(const char *name, void *ctx);
    void *ctx;
    /* The built-in probes' names, for the unknown-probe message; may be NULL. */
    const char *builtin_names;
};

/* Parses and validates `path` against `probes` (NULL: no probe is known).
 * Returns 0 and sets *out, or a negative errno and fills *err (-EINVAL for
 * invalid content, -ENOENT etc. for I/O). */
int config_load(const char *path, const struct config_probes *probes, struct config **out,
                struct pt_error *err);

/* Same, from a string (for tests); `name` is used in messages and as the base
 * for relative !include paths (its directory). */
int config_load_string(const char *text, const char *name, const struct config_probes *probes,
                       struct config **out, struct pt_error *err);

void config_free(struct config *cfg);

const struct probe_conf *config_find_probe(const struct config *cfg, const char *name);

/* Parses "80", "1000-2000" into a range; returns 0 or -EINVAL. */
int port_range_parse(const char *text, struct port_range *out);

/* Parses an address and mask given as the config allows (network plus
 * network_mask as dotted mask, prefix length number or "/len"; or network
 * as CIDR "10.0.0.0/8"). Exposed for tests. Returns 0 or -EINVAL with a
 * reason in `why`. */
int subnet_parse(const char *network, const char *mask, struct subnet_filter *out, char *why,
                 size_t why_len);

/* Reads any YAML file (anchors, merges, !include as in a config) into JSON,
 * for descriptions of probes from --extra-probe-path. Plain scalars that
 * read as integers, booleans or null become those; others are strings.
 * Returns 0 and a new reference in *out, or a negative errno and *err. */
int config_yaml_file_to_json(const char *path, json_t **out, struct pt_error *err);

/* True when `port` is in `list`. */
bool port_list_contains(const struct port_list *list, uint16_t port);

#endif
