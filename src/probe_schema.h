/* probe_schema: the options a probe takes, as data.
 *
 * Every probe declares its options in one table, in its own probes/NAME.c
 * (a probe from --extra-probe-path: in the `settings` of its NAME.yml): each
 * option's name, type, range or allowed values, default, and whether -w can
 * swap a change of it without a restart. The config module validates a
 * probe's mapping against that table, whichever probe it is, and stores one
 * typed value per option, in the table's order: the probe reads its values
 * by index (conf->opts[I]), and nothing outside the probe's own files knows
 * its options.
 *
 * The keys every probe accepts (filters, port rules, plugins, attach) are
 * the config module's own; an option may not reuse one of them.
 */
#ifndef PIDTREE_PROBE_SCHEMA_H
#define PIDTREE_PROBE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

enum probe_option_type {
    POPT_BOOL,    /* true/false, as the original's YAML read them */
    POPT_INT,     /* an integer in [min, max] */
    POPT_SECONDS, /* seconds, fractions allowed, kept in ms within [min, max] ms */
    POPT_NAMES,   /* a non-empty list of 2-63 `names`, kept as bit i for names[i] */
    POPT_PATH,    /* an absolute path */
    POPT_STRINGS, /* a list of at most `max` strings of 1-PROBE_OPTION_STRING_MAX bytes */
    POPT_INTS,    /* a list of at most PROBE_OPTION_LIST_MAX integers in [min, max] */
};

/* `false`, `no` and null read as 0 (the original's snapshot_periodicity). */
#define POPT_OFF_IS_ZERO (1u << 0)
/* -w swaps a change of this option without a restart: the probe reads it
 * from its conf at each use, or rewrites its maps in its `reconfigure`. */
#define POPT_SWAPPABLE (1u << 1)
/* POPT_STRINGS entries must be absolute paths. */
#define POPT_ABSOLUTE (1u << 2)

#define PROBE_OPTION_STRING_MAX 255
#define PROBE_OPTION_LIST_MAX 1024

struct probe_option {
    const char *name;
    enum probe_option_type type;
    unsigned flags;
    long long min, max;       /* INT, INTS, SECONDS (ms); STRINGS: max is the entry limit */
    const char *const *names; /* NAMES: the allowed values, NULL-terminated */
    long long def;            /* BOOL (0/1), INT, SECONDS (ms), NAMES (bits) */
    const char *def_str;      /* PATH; NULL: no default */
};

/* An option's value in a parsed config. */
struct probe_option_value {
    long long i;      /* BOOL, INT, SECONDS (ms), NAMES (bits) */
    char *s;          /* PATH (owned; NULL when unset and no default) */
    char **strings;   /* STRINGS (owned) */
    long long *ints;  /* INTS (owned) */
    size_t n;         /* entries in strings or ints */
    bool given;       /* written in the config rather than defaulted */
    const char *file; /* where it was written, when given, for messages */
    int line;
};

struct probe_schema {
    const struct probe_option *options;
    size_t n_options;
    /* Unknown keys are errors rather than warnings. The built-ins warn, as
     * the original ignored what it did not know and its configs carry such
     * keys; a site's own probe has no such history. */
    bool strict_keys;
    /* The probe's events have no address or port: `filters` and port
     * rules are ignored with a warning. */
    bool no_addresses;
};

#define PROBE_SCHEMA(table)                                                                        \
    {                                                                                              \
        (table), sizeof(table) / sizeof((table)[0]), false, false                                  \
    }
/* The same, for a probe whose events have no address (no_addresses). */
#define PROBE_SCHEMA_NO_ADDRESSES(table)                                                           \
    {                                                                                              \
        (table), sizeof(table) / sizeof((table)[0]), false, true                                   \
    }

/* The index of option `name`, or -1. */
int probe_schema_find(const struct probe_schema *schema, const char *name);

/* Fills values[0..n_options) with the defaults. Returns 0 or -ENOMEM. */
int probe_schema_defaults(const struct probe_schema *schema, struct probe_option_value *values);

/* Frees what the values own (not the array). NULL-safe. */
void probe_option_values_free(struct probe_option_value *values, size_t n);

/* Checks a table is well made: names are identifiers, unique, none of the
 * keys every probe takes; ranges hold their defaults. Returns 0, or -EINVAL
 * with the reason in `why`. For unit tests of the built-in tables and for
 * tables built from an extra probe's description. */
int probe_schema_check(const struct probe_schema *schema, char *why, size_t why_len);

/* True for a key every probe accepts (filters, includeports, ...). */
bool probe_schema_common_key(const char *name);

/* True when `s` is a plain lower-case identifier of at most 64 bytes: option
 * names become #define names and JSON keys. */
bool probe_schema_identifier(const char *s);

#endif
