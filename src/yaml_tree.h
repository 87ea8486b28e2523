/* yaml_tree: YAML text read into a tree of nodes that know where they were
 * written.
 *
 * A file, a URL or a string is parsed with libyaml's document API into
 * struct ynode values, and before the tree is handed out:
 *  - `!include PATH` and `!include URL` are replaced by the included
 *    document (a relative path is taken from the including file's
 *    directory; an include cycle is refused);
 *  - an alias shares the anchored node (nodes are reference-counted);
 *  - `<<` merge keys are resolved (the mapping's own keys win, then earlier
 *    merges over later ones);
 *  - every node keeps the file and 1-based line it was written at, so the
 *    schema on top (config.c) can name them in its messages.
 * Scalars stay strings; typing them is the schema's job (ynode_to_json
 * applies YAML's usual plain-scalar rules for callers that want JSON).
 *
 * A duplicate key takes the last value, as PyYAML (the original's loader)
 * does, and adds a warning to the caller's pt_diags. Of several `<<` keys in
 * one mapping the last wins; within `<<: [*a, *b]` the first wins (PyYAML).
 *
 * The input is untrusted (a config may be edited by anyone who can write
 * one of its includes, or served over HTTP), so every resource is bounded
 * and an input past a bound (the YAML_*_MAX values below) is an error
 * naming the file and line. Only regular files are read (a FIFO or a device
 * is refused without blocking on it).
 */
#ifndef PIDTREE_YAML_TREE_H
#define PIDTREE_YAML_TREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Bytes of one file or URL, and of a config with all its includes. */
#define YAML_FILE_MAX (4u << 20)
#define YAML_TOTAL_MAX (16u << 20)
/* Files and URLs read for one config, and how deep includes nest. */
#define YAML_INCLUDES_MAX 256
#define YAML_INCLUDE_DEPTH_MAX 16
/* Levels of nesting, counted after aliases, merges and includes are
 * expanded, so that no walk of the tree needs a deep stack. */
#define YAML_DEPTH_MAX 64
/* Nodes once aliases are expanded (what a JSON copy would hold), so a few
 * hundred bytes of nested aliases ("billion laughs") cannot take gigabytes. */
#define YAML_NODES_MAX 1000000
/* Anchors and aliases in one file: libyaml's loader finds an alias's
 * anchor by a linear search. */
#define YAML_ANCHORS_MAX 1000
#define YAML_ALIASES_MAX 100000
/* An HTTP(S) fetch: seconds to connect, seconds in all, redirects. */
#define YAML_FETCH_CONNECT_TIMEOUT 5
#define YAML_FETCH_TIMEOUT 10
#define YAML_FETCH_REDIRECTS_MAX 5

enum ynode_kind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
    enum ynode_kind kind;
    const char *file; /* points into yaml_tree.names */
    int line;
    char *value;          /* scalars */
    int plain;            /* scalar written without quotes */
    struct ynode **items; /* sequences: items; mappings: key, value pairs */
    size_t n;
    int refs; /* aliases share nodes */
    /* The loader's bookkeeping, valid once the load returned: */
    size_t cap;      /* allocated items */
    unsigned height; /* levels below and including this node */
    size_t expanded; /* nodes in the subtree with aliases expanded */
    bool resolved;   /* merge keys and duplicates handled */
};

/* One file or URL that was read, the top one first. */
struct yaml_source {
    char *path;
    bool is_url;
};

/* A loaded document. Everything is owned by the tree until released; a
 * caller may take `names` (the strings every node's `file` points to) or
 * `sources` by setting the tree's pointer to NULL. */
struct yaml_tree {
    struct ynode *root; /* an empty document is an empty mapping */
    char **names;
    size_t n_names;
    struct yaml_source *sources;
    size_t n_sources;
};

/* Reads `path` (a local file or an http(s) URL) and what it includes.
 * Returns 0 and fills *out, or a negative errno with the cause in *err
 * (-EINVAL for invalid content, -ENOENT etc. when the top file cannot be
 * read). Findings that do not stop the load go to `diags` (may be NULL). */
int yaml_tree_load_file(const char *path, struct yaml_tree *out, struct pt_diags *diags,
                        struct pt_error *err);

/* Same from `len` bytes of `text`; `name` is used in messages and as the
 * base for relative includes (its directory). */
int yaml_tree_load_string(const char *text, size_t len, const char *name, struct yaml_tree *out,
                          struct pt_diags *diags, struct pt_error *err);

void yaml_tree_release(struct yaml_tree *t);

/* The value of `key` in a mapping, or NULL (also when `map` is not one). */
struct ynode *ynode_map_get(const struct ynode *map, const char *key);

/* The subtree as JSON: plain scalars that read as integers, reals,
 * booleans or null become those, others strings. NULL on ENOMEM. */
json_t *ynode_to_json(const struct ynode *n);

#endif
