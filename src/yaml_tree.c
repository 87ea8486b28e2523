/* yaml_tree: libyaml's document API into a small node tree, with includes
 * and merge keys resolved and every node remembering its file and line.
 *
 * Two passes: reading (libyaml document per file, aliases shared through a
 * per-document cache, includes read in place) and resolving (merge keys and
 * duplicate keys, once per shared node, bottom-up). Both keep the tree's
 * height within YAML_DEPTH_MAX, so every recursion here and in the callers'
 * walks is shallow, and count nodes as if aliases were copied. */
#include "yaml_tree.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "strbuf.h"

/* Who asked for a file: the node that includes it, or the caller (top). */
struct where {
    const char *file;
    int line;
    bool top;
};

/* State of one load: file names and sources go to `tree`. */
struct loader {
    struct yaml_tree *tree;
    struct pt_error *err;
    struct pt_diags *diags;
    const char *stack[YAML_INCLUDE_DEPTH_MAX + 1]; /* files being read, for cycles */
    size_t depth;
    size_t bytes; /* read so far, all files */
    size_t nodes; /* created so far */
    size_t reads; /* files and URLs read */
};

/* ---- node tree ---- */

static void ynode_unref(struct ynode *n)
{
    if (!n || --n->refs > 0)
        return;
    for (size_t i = 0; i < n->n; i++)
        ynode_unref(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static struct ynode *ynode_new(struct loader *l, enum ynode_kind kind, const char *file, int line)
{
    if (l->nodes >= YAML_NODES_MAX) {
        pt_error_set(l->err, E2BIG, file, line, "more than %d YAML nodes", YAML_NODES_MAX);
        errno = E2BIG;
        return NULL;
    }
    struct ynode *n = calloc(1, sizeof(*n));
    if (!n) {
        errno = ENOMEM;
        return NULL;
    }
    l->nodes++;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->refs = 1;
    n->height = 1;
    n->expanded = 1;
    return n;
}

static int ynode_push(struct ynode *parent, struct ynode *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct ynode **items = realloc(parent->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; map && map->kind == Y_MAP && i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}

static const char *intern(struct loader *l, const char *name)
{
    struct yaml_tree *t = l->tree;
    for (size_t i = 0; i < t->n_names; i++)
        if (strcmp(t->names[i], name) == 0)
            return t->names[i];
    char **names = realloc(t->names, (t->n_names + 1) * sizeof(*names));
    if (!names)
        return NULL;
    t->names = names;
    return (t->names[t->n_names] = strdup(name)) ? t->names[t->n_names++] : NULL;
}

/* ---- reading files and URLs ---- */

static bool is_url(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "http://", 7) == 0;
}

/* An error reading `path`: at the including node as "!include PATH: why",
 * or for the top file as "PATH: why". */
__attribute__((format(printf, 5, 6))) static int
source_fail(struct loader *l, struct where at, const char *path, int errnum, const char *fmt, ...)
{
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (at.top)
        return pt_error_set(l->err, errnum, path, 0, "%s", why);
    return pt_error_set(l->err, errnum, at.file, at.line, "!include %s: %s", path, why);
}

static int count_bytes(struct loader *l, struct where at, const char *path, size_t len)
{
    l->bytes += len;
    if (l->bytes > YAML_TOTAL_MAX)
        return source_fail(l, at, path, EFBIG, "the config and its includes exceed %u MiB in all",
                           YAML_TOTAL_MAX >> 20);
    return 0;
}

struct fetch {
    struct strbuf sb;
    bool too_big;
};

static size_t fetch_collect(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct fetch *f = ctx;
    size_t len = size * nmemb;
    /* CURLOPT_MAXFILESIZE only acts on a announced length before curl 8.4. */
    if (f->sb.len + len > YAML_FILE_MAX) {
        f->too_big = true;
        return 0;
    }
    return strbuf_append(&f->sb, data, len) == 0 ? len : 0;
}

static CURLcode fetch_setup(CURL *curl, const char *url, struct fetch *f, char *curl_err)
{
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fetch_collect);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)YAML_FETCH_CONNECT_TIMEOUT);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)YAML_FETCH_TIMEOUT);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)YAML_FILE_MAX);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)YAML_FETCH_REDIRECTS_MAX);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
    return rc;
}

static int fetch_url(struct loader *l, struct where at, const char *url, struct strbuf *out)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return source_fail(l, at, url, ENOMEM, "cannot initialise libcurl");
    char curl_err[CURL_ERROR_SIZE] = "";
    struct fetch f = {STRBUF_INIT, false};
    CURLcode rc = fetch_setup(curl, url, &f, curl_err);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    int ret = 0;
    if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        ret = source_fail(l, at, url, EFBIG, "larger than %u MiB", YAML_FILE_MAX >> 20);
    else if (rc != CURLE_OK)
        ret = source_fail(l, at, url, EIO, "cannot fetch: %s",
                          curl_err[0] ? curl_err : curl_easy_strerror(rc));
    if (ret == 0)
        *out = f.sb;
    else
        strbuf_release(&f.sb);
    return ret;
}

/* Reads a regular file of at most YAML_FILE_MAX bytes. O_NONBLOCK so that
 * opening a FIFO does not wait for a writer before fstat can refuse it. */
static int read_file(struct loader *l, struct where at, const char *path, struct strbuf *sb)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return source_fail(l, at, path, errno, "cannot read: %s", strerror(errno));
    struct stat st;
    int ret = 0;
    if (fstat(fd, &st) < 0)
        ret = source_fail(l, at, path, errno, "cannot read: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        ret = source_fail(l, at, path, EINVAL, "not a regular file");
    else if (st.st_size > (off_t)YAML_FILE_MAX)
        ret = source_fail(l, at, path, EFBIG, "larger than %u MiB", YAML_FILE_MAX >> 20);
    while (ret == 0) {
        if (strbuf_reserve(sb, 65536) < 0) {
            ret = source_fail(l, at, path, ENOMEM, "out of memory");
            break;
        }
        ssize_t n = read(fd, sb->data + sb->len, sb->cap - sb->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ret = source_fail(l, at, path, errno, "cannot read: %s", strerror(errno));
        if (n <= 0)
            break;
        sb->len += (size_t)n;
        sb->data[sb->len] = '\0';
        if (sb->len > YAML_FILE_MAX)
            ret = source_fail(l, at, path, EFBIG, "larger than %u MiB", YAML_FILE_MAX >> 20);
    }
    close(fd);
    return ret;
}

/* The text of `path`, counted against the loader's limits. */
static int read_source(struct loader *l, struct where at, const char *path, struct strbuf *sb)
{
    if (++l->reads > YAML_INCLUDES_MAX)
        return source_fail(l, at, path, E2BIG, "more than %d files and URLs read for one config",
                           YAML_INCLUDES_MAX);
    int ret = is_url(path) ? fetch_url(l, at, path, sb) : read_file(l, at, path, sb);
    if (ret == 0)
        ret = count_bytes(l, at, path, sb->len);
    return ret;
}

/* ---- includes ---- */

/* A URL relative to the including URL, as a browser would resolve it. */
static int url_resolve(const char *base, const char *target, char *out, size_t len)
{
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    char *full = NULL;
    int ret = curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
                      curl_url_set(u, CURLUPART_URL, target, 0) == CURLUE_OK &&
                      curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK
                  ? 0
                  : -EINVAL;
    if (ret == 0 && snprintf(out, len, "%s", full) >= (int)len)
        ret = -ENAMETOOLONG;
    curl_free(full);
    curl_url_cleanup(u);
    return ret;
}

/* Resolves `target` against the including file: a URL stays a URL, a path
 * is taken from the includer's directory, or from its URL when the includer
 * was fetched (a served config never reads the host's files). */
static int include_path(const char *from, const char *target, char *out, size_t len)
{
    if (is_url(target))
        return snprintf(out, len, "%s", target) < (int)len ? 0 : -ENAMETOOLONG;
    if (is_url(from))
        return url_resolve(from, target, out, len);
    if (target[0] == '/')
        return snprintf(out, len, "%s", target) < (int)len ? 0 : -ENAMETOOLONG;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", from) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    return snprintf(out, len, "%s/%s", dirname(dir), target) < (int)len ? 0 : -ENAMETOOLONG;
}

static int file_to_tree(struct loader *l, struct where at, const char *path, int depth,
                        struct ynode **out);

static int include_node(struct loader *l, const struct ynode *at, int depth, struct ynode **out)
{
    if (at->kind != Y_SCALAR || !at->value[0])
        return pt_error_set(l->err, EINVAL, at->file, at->line,
                            "!include needs a file path or URL");
    char path[PATH_MAX];
    int ret = include_path(at->file, at->value, path, sizeof(path));
    if (ret < 0)
        return pt_error_set(l->err, -ret, at->file, at->line, "!include %s: %s", at->value,
                            ret == -ENAMETOOLONG ? "path too long" : "not a valid URL");
    for (size_t i = 0; i < l->depth; i++)
        if (strcmp(l->stack[i], path) == 0)
            return pt_error_set(l->err, EINVAL, at->file, at->line,
                                "!include %s: include cycle (%s is already being read)", at->value,
                                path);
    if (l->depth > YAML_INCLUDE_DEPTH_MAX)
        return pt_error_set(l->err, EINVAL, at->file, at->line,
                            "!include %s: includes nested deeper than %d", at->value,
                            YAML_INCLUDE_DEPTH_MAX);
    return file_to_tree(l, (struct where){at->file, at->line, false}, path, depth, out);
}

/* ---- YAML documents to nodes ---- */

/* One document being turned into nodes. Aliases point at the same libyaml
 * node: `cache` maps a node's index to its tree node, so an alias shares it
 * instead of copying. */
struct docread {
    struct loader *l;
    yaml_document_t *doc;
    const char *file;
    struct ynode **cache;
    bool *building; /* nodes being built: an alias to one is a cycle */
};

static int too_deep(struct loader *l, const char *file, int line)
{
    return pt_error_set(l->err, EINVAL, file, line,
                        "nested deeper than %d levels (counting aliases, merges and includes)",
                        YAML_DEPTH_MAX);
}

/* `use_line` is where the node is used: an alias has no node of its own in
 * libyaml's document, so its anchor's line would be misleading. */
static int doc_to_tree(struct docread *r, yaml_node_t *node, int depth, int use_line,
                       struct ynode **out);

static bool is_include_tag(const yaml_node_t *node)
{
    return node->tag && strcmp((const char *)node->tag, "!include") == 0;
}

static int push_built(struct docread *r, yaml_node_t *node, int depth, int use_line,
                      struct ynode *parent)
{
    struct ynode *child;
    int ret = doc_to_tree(r, node, depth, use_line, &child);
    if (ret == 0 && (ret = ynode_push(parent, child)) < 0)
        ynode_unref(child);
    return ret;
}

static int doc_children(struct docread *r, yaml_node_t *node, int depth, struct ynode *n)
{
    int ret = 0;
    if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             ret == 0 && it < node->data.sequence.items.top; it++)
            ret = push_built(r, yaml_document_get_node(r->doc, *it), depth + 1, n->line, n);
        return ret;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         ret == 0 && p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
        /* An included document is no key: keys are compared as strings. */
        if (key->type != YAML_SCALAR_NODE || is_include_tag(key))
            return pt_error_set(r->l->err, EINVAL, r->file, (int)key->start_mark.line + 1,
                                "mapping keys must be plain strings%s",
                                is_include_tag(key) ? " (not !include)" : "");
        int key_line = (int)key->start_mark.line + 1;
        ret = push_built(r, key, depth + 1, key_line, n);
        if (ret == 0)
            ret = push_built(r, yaml_document_get_node(r->doc, p->value), depth + 1, key_line, n);
        if (ret < 0 && n->n % 2) /* keep pairs whole: drop a key without value */
            ynode_unref(n->items[--n->n]);
    }
    return ret;
}

static void ynode_measure(struct ynode *n)
{
    n->height = 1;
    n->expanded = 1;
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->height + 1 > n->height)
            n->height = n->items[i]->height + 1;
        n->expanded += n->items[i]->expanded;
        if (n->expanded > YAML_NODES_MAX)
            n->expanded = YAML_NODES_MAX + 1; /* saturate: no overflow */
    }
}

static int too_many(struct loader *l, const struct ynode *n)
{
    return pt_error_set(l->err, E2BIG, n->file, n->line,
                        "expands to more than %d nodes (aliases repeated too often)",
                        YAML_NODES_MAX);
}

/* A node already built (an alias, or an included document) placed at
 * `depth`: its height and size count again there. */
static int check_placed(struct loader *l, const struct ynode *n, int depth, const char *file,
                        int line)
{
    if (depth + (int)n->height > YAML_DEPTH_MAX)
        return too_deep(l, file, line);
    return n->expanded > YAML_NODES_MAX ? too_many(l, n) : 0;
}

static int scalar_build(struct loader *l, yaml_node_t *node, struct ynode *n)
{
    n->value = strndup((const char *)node->data.scalar.value, node->data.scalar.length);
    n->plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return n->value ? 0 : pt_error_set(l->err, ENOMEM, n->file, n->line, "out of memory");
}

static int doc_to_tree(struct docread *r, yaml_node_t *node, int depth, int use_line,
                       struct ynode **out)
{
    int idx = (int)(node - r->doc->nodes.start);
    int line = (int)node->start_mark.line + 1;
    struct ynode *n = r->cache[idx];
    if (n) {
        int ret = check_placed(r->l, n, depth, r->file, use_line);
        if (ret == 0) {
            n->refs++;
            *out = n;
        }
        return ret;
    }
    /* libyaml registers an anchor before its children, so `&a [*a]` is a
     * node that contains itself. */
    if (r->building[idx])
        return pt_error_set(r->l->err, EINVAL, r->file, line,
                            "an alias refers to a node that contains it");
    if (depth + 1 > YAML_DEPTH_MAX)
        return too_deep(r->l, r->file, line);
    enum ynode_kind kind = node->type == YAML_SCALAR_NODE     ? Y_SCALAR
                           : node->type == YAML_SEQUENCE_NODE ? Y_SEQ
                                                              : Y_MAP;
    if (!(n = ynode_new(r->l, kind, r->file, line)))
        return errno == E2BIG ? -E2BIG
                              : pt_error_set(r->l->err, ENOMEM, r->file, line, "out of memory");
    r->building[idx] = true;
    int ret = kind == Y_SCALAR ? scalar_build(r->l, node, n) : doc_children(r, node, depth, n);
    r->building[idx] = false;
    ynode_measure(n);
    if (ret == 0 && n->expanded > YAML_NODES_MAX)
        ret = too_many(r->l, n);
    if (ret == 0 && is_include_tag(node)) {
        struct ynode *included;
        ret = include_node(r->l, n, depth, &included);
        ynode_unref(n);
        n = ret == 0 ? included : NULL;
    }
    if (ret < 0) {
        ynode_unref(n);
        return ret;
    }
    r->cache[idx] = n;
    n->refs++;
    *out = n;
    return 0;
}

static int yaml_fail(struct loader *l, const yaml_parser_t *parser, const char *file)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return pt_error_set(l->err, ENOMEM, file, 0, "out of memory");
    return pt_error_set(l->err, EINVAL, file, (int)parser->problem_mark.line + 1,
                        "invalid YAML: %s%s%s", parser->problem ? parser->problem : "syntax error",
                        parser->context ? " " : "", parser->context ? parser->context : "");
}

/* libyaml's document loader looks anchors up by a linear scan, so n
 * anchors and m aliases cost n * m string compares (150,000 of each: hours).
 * A first pass over the events, which is linear, counts them and the
 * nesting before the loader is let at the text. */
static int prescan(struct loader *l, const char *text, size_t len, const char *file, int depth)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return pt_error_set(l->err, ENOMEM, file, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    size_t anchors = 0, aliases = 0;
    int ret = 0;
    for (bool done = false; ret == 0 && !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            ret = yaml_fail(l, &parser, file);
            break;
        }
        int line = (int)ev.start_mark.line + 1;
        const yaml_char_t *anchor =
            ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.anchor
            : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
            : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.anchor
                                                   : NULL;
        anchors += anchor != NULL;
        aliases += ev.type == YAML_ALIAS_EVENT;
        depth += ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT;
        depth -= ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT;
        done = ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (anchors > YAML_ANCHORS_MAX || aliases > YAML_ALIASES_MAX)
            ret = pt_error_set(l->err, E2BIG, file, line, "more than %d %s in one file",
                               anchors > YAML_ANCHORS_MAX ? YAML_ANCHORS_MAX : YAML_ALIASES_MAX,
                               anchors > YAML_ANCHORS_MAX ? "anchors" : "aliases");
        else if (depth >= YAML_DEPTH_MAX)
            ret = too_deep(l, file, line);
    }
    yaml_parser_delete(&parser);
    return ret;
}

/* Parses one document; its root goes at `depth` in the whole tree. */
static int text_to_tree(struct loader *l, const char *text, size_t len, const char *file, int depth,
                        struct ynode **out)
{
    int ret = prescan(l, text, len, file, depth);
    if (ret < 0)
        return ret;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return pt_error_set(l->err, ENOMEM, file, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        ret = yaml_fail(l, &parser, file);
        yaml_parser_delete(&parser);
        return ret;
    }
    yaml_parser_delete(&parser);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    ret = 0;
    if (!root) {
        *out = ynode_new(l, Y_MAP, file, 1);
        ret = *out ? 0 : pt_error_set(l->err, errno, file, 1, "out of memory");
    } else {
        size_t n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
        struct docread r = {l, &doc, file, calloc(n_nodes, sizeof(struct ynode *)),
                            calloc(n_nodes, sizeof(bool))};
        ret = r.cache && r.building ? doc_to_tree(&r, root, depth, 1, out)
                                    : pt_error_set(l->err, ENOMEM, file, 0, "out of memory");
        for (size_t i = 0; r.cache && i < n_nodes; i++)
            ynode_unref(r.cache[i]);
        free(r.cache);
        free(r.building);
    }
    yaml_document_delete(&doc);
    return ret;
}

static int sources_add(struct yaml_tree *t, const char *path, bool url)
{
    struct yaml_source *grown = realloc(t->sources, (t->n_sources + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    t->sources = grown;
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    t->sources[t->n_sources++] = (struct yaml_source){copy, url};
    return 0;
}

/* Reads and parses `path` at `depth`; `at` is the including node, or the
 * top file itself. */
static int file_to_tree(struct loader *l, struct where at, const char *path, int depth,
                        struct ynode **out)
{
    const char *name = intern(l, path);
    if (!name)
        return pt_error_set(l->err, ENOMEM, at.file, at.line, "out of memory");
    struct strbuf sb = STRBUF_INIT;
    int ret = read_source(l, at, path, &sb);
    if (ret == 0 && (ret = sources_add(l->tree, path, is_url(path))) < 0)
        pt_error_set(l->err, ENOMEM, at.file, at.line, "out of memory");
    if (ret == 0) {
        l->stack[l->depth++] = name;
        ret = text_to_tree(l, sb.data ? sb.data : "", sb.len, name, depth, out);
        l->depth--;
    }
    if (ret == 0 && (ret = check_placed(l, *out, depth, at.file, at.line)) < 0)
        ynode_unref(*out);
    strbuf_release(&sb);
    return ret;
}

/* ---- merge keys and duplicate keys ---- */

/* Key strings of one mapping, hashed to the index of their pair. */
struct keyset {
    size_t *slots; /* item index + 1; 0 = empty */
    size_t mask;
};

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int keyset_init(struct keyset *ks, size_t n_keys)
{
    size_t size = 8;
    while (size < n_keys * 2)
        size *= 2;
    ks->mask = size - 1;
    ks->slots = calloc(size, sizeof(*ks->slots));
    return ks->slots ? 0 : -ENOMEM;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t *keyset_find(struct keyset *ks, struct ynode *const *items, const char *key)
{
    for (size_t i = key_hash(key) & ks->mask;; i = (i + 1) & ks->mask)
        if (!ks->slots[i] || strcmp(items[ks->slots[i] - 1]->value, key) == 0)
            return &ks->slots[i];
}

static bool is_merge_key(const struct ynode *k)
{
    return k->plain && strcmp(k->value, "<<") == 0;
}

/* The values of `<<` keys, in the order PyYAML applies them: later `<<`
 * keys over earlier ones, earlier entries of a `<<` list over later ones.
 * `src` is built so that the first source wins. */
struct merges {
    struct ynode **vals; /* the `<<` values, owned until merged */
    size_t n_vals;
    const struct ynode **src;
    size_t n_src;
};

static int merges_add(struct loader *l, struct merges *m, struct ynode *v, const struct ynode *at)
{
    size_t count = v->kind == Y_SEQ ? v->n : 1;
    struct ynode **vals = realloc(m->vals, (m->n_vals + 1) * sizeof(*vals));
    if (vals)
        m->vals = vals;
    const struct ynode **src = vals ? realloc(m->src, (m->n_src + count) * sizeof(*src)) : NULL;
    if (!src) {
        ynode_unref(v);
        return pt_error_set(l->err, ENOMEM, at->file, at->line, "out of memory");
    }
    m->src = src;
    m->vals[m->n_vals++] = v;
    /* Earlier `<<` keys lose: this key's sources go in front. */
    memmove(m->src + count, m->src, m->n_src * sizeof(*src));
    m->n_src += count;
    for (size_t i = 0; i < count; i++) {
        const struct ynode *s = v->kind == Y_SEQ ? v->items[i] : v;
        m->src[i] = s;
        if (s->kind != Y_MAP)
            return pt_error_set(l->err, EINVAL, s->file, s->line,
                                "'<<' needs a mapping or a list of mappings");
    }
    return 0;
}

static void merges_release(struct merges *m)
{
    for (size_t i = 0; i < m->n_vals; i++)
        ynode_unref(m->vals[i]);
    free(m->vals);
    free(m->src);
}

static int warn_duplicate(struct loader *l, const struct ynode *later, const struct ynode *earlier)
{
    if (!l->diags)
        return 0;
    if (pt_diags_add(l->diags, later->file, later->line,
                     "duplicate key '%s': the earlier value on line %d is ignored", later->value,
                     earlier->line) < 0)
        return pt_error_set(l->err, ENOMEM, later->file, later->line, "out of memory");
    return 0;
}

/* Takes the mapping's own keys, the last of duplicates winning in the
 * place of the first (as a Python dict does), and moves `<<` values to `m`.
 * After an error the remaining pairs are kept as they are, to be freed. */
static int own_keys(struct loader *l, struct ynode *map, struct keyset *ks, struct merges *m)
{
    size_t w = 0;
    int ret = 0;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        struct ynode *k = map->items[i], *v = map->items[i + 1];
        size_t *slot = NULL;
        if (ret == 0 && is_merge_key(k)) {
            ret = merges_add(l, m, v, k);
            ynode_unref(k);
            continue;
        }
        if (ret == 0 && *(slot = keyset_find(ks, map->items, k->value))) {
            size_t j = *slot - 1;
            ret = warn_duplicate(l, k, map->items[j]);
            ynode_unref(map->items[j]);
            ynode_unref(map->items[j + 1]);
            map->items[j] = k;
            map->items[j + 1] = v;
            continue;
        }
        map->items[w] = k;
        map->items[w + 1] = v;
        if (slot)
            *slot = w + 1;
        w += 2;
    }
    map->n = w;
    return ret;
}

/* Adds the merged pairs whose keys the mapping does not have yet. */
static int merge_in(struct loader *l, struct ynode *map, struct keyset *ks, const struct merges *m)
{
    for (size_t s = 0; s < m->n_src; s++) {
        const struct ynode *src = m->src[s];
        for (size_t i = 0; i + 1 < src->n; i += 2) {
            size_t *slot = keyset_find(ks, map->items, src->items[i]->value);
            if (*slot)
                continue;
            if (ynode_push(map, src->items[i]) < 0)
                return pt_error_set(l->err, ENOMEM, map->file, map->line, "out of memory");
            if (ynode_push(map, src->items[i + 1]) < 0) {
                map->n--;
                return pt_error_set(l->err, ENOMEM, map->file, map->line, "out of memory");
            }
            src->items[i]->refs++;
            src->items[i + 1]->refs++;
            *slot = map->n - 1;
        }
    }
    return 0;
}

/* Pairs the mapping can hold once merged, to size its keyset. */
static size_t pairs_bound(const struct ynode *map)
{
    size_t bound = map->n / 2;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *v = map->items[i + 1];
        if (!is_merge_key(map->items[i]))
            continue;
        if (v->kind == Y_MAP)
            bound += v->n / 2;
        for (size_t j = 0; v->kind == Y_SEQ && j < v->n; j++)
            bound += v->items[j]->kind == Y_MAP ? v->items[j]->n / 2 : 0;
    }
    return bound;
}

static int map_resolve(struct loader *l, struct ynode *map)
{
    struct keyset ks;
    if (keyset_init(&ks, pairs_bound(map)) < 0)
        return pt_error_set(l->err, ENOMEM, map->file, map->line, "out of memory");
    struct merges m = {NULL, 0, NULL, 0};
    int ret = own_keys(l, map, &ks, &m);
    if (ret == 0)
        ret = merge_in(l, map, &ks, &m);
    merges_release(&m);
    free(ks.slots);
    return ret;
}

/* Bottom-up, once per node however often it is shared: children first, so
 * a merge copies pairs that are already resolved. */
static int tree_resolve(struct loader *l, struct ynode *n)
{
    if (n->resolved)
        return 0;
    n->resolved = true;
    for (size_t i = 0; i < n->n; i++) {
        int ret = tree_resolve(l, n->items[i]);
        if (ret < 0)
            return ret;
    }
    int ret = n->kind == Y_MAP ? map_resolve(l, n) : 0;
    if (ret < 0)
        return ret;
    /* Merges may make a mapping deeper or bigger than it was read. */
    ynode_measure(n);
    if (n->height > YAML_DEPTH_MAX)
        return too_deep(l, n->file, n->line);
    return n->expanded > YAML_NODES_MAX ? too_many(l, n) : 0;
}

/* ---- JSON ---- */

static json_t *scalar_json(const struct ynode *n)
{
    if (!n->plain)
        return json_string(n->value);
    const char *v = n->value;
    if (!*v || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0)
        return json_null();
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0)
        return json_true();
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0)
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (!*end && !errno && (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+'))
        return json_integer(i);
    double d = strtod(v, &end);
    if (!*end && (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '.'))
        return json_real(d);
    return json_string(v);
}

json_t *ynode_to_json(const struct ynode *n)
{
    if (n->kind == Y_SCALAR) {
        json_t *j = scalar_json(n);
        /* Invalid UTF-8 in a quoted scalar: keep the key, lose the bytes. */
        return j ? j : json_string("");
    }
    json_t *j = n->kind == Y_SEQ ? json_array() : json_object();
    for (size_t i = 0; j && i < n->n; i += n->kind == Y_SEQ ? 1 : 2) {
        json_t *child = ynode_to_json(n->items[n->kind == Y_SEQ ? i : i + 1]);
        int ret = !child             ? -1
                  : n->kind == Y_SEQ ? json_array_append_new(j, child)
                                     : json_object_set_new(j, n->items[i]->value, child);
        if (ret < 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* ---- public ---- */

static int load(struct yaml_tree *out, const char *text, size_t len, const char *path,
                struct pt_diags *diags, struct pt_error *err)
{
    memset(out, 0, sizeof(*out));
    struct loader l = {.tree = out, .err = err, .diags = diags};
    struct ynode *root = NULL;
    int ret;
    if (text) {
        const char *name = intern(&l, path);
        struct where top = {path, 0, true};
        ret = !name ? pt_error_set(err, ENOMEM, path, 0, "out of memory")
              : len > YAML_FILE_MAX
                  ? source_fail(&l, top, path, EFBIG, "larger than %u MiB", YAML_FILE_MAX >> 20)
                  : count_bytes(&l, top, path, len);
        if (ret == 0) {
            l.stack[l.depth++] = name;
            ret = text_to_tree(&l, text, len, name, 0, &root);
            l.depth--;
        }
    } else {
        ret = file_to_tree(&l, (struct where){path, 0, true}, path, 0, &root);
    }
    if (ret == 0)
        ret = tree_resolve(&l, root);
    out->root = ret == 0 ? root : NULL;
    if (ret < 0) {
        ynode_unref(root);
        yaml_tree_release(out);
    }
    return ret;
}

int yaml_tree_load_file(const char *path, struct yaml_tree *out, struct pt_diags *diags,
                        struct pt_error *err)
{
    return load(out, NULL, 0, path, diags, err);
}

int yaml_tree_load_string(const char *text, size_t len, const char *name, struct yaml_tree *out,
                          struct pt_diags *diags, struct pt_error *err)
{
    return load(out, text, len, name, diags, err);
}

void yaml_tree_release(struct yaml_tree *t)
{
    ynode_unref(t->root);
    for (size_t i = 0; t->names && i < t->n_names; i++)
        free(t->names[i]);
    free(t->names);
    for (size_t i = 0; t->sources && i < t->n_sources; i++)
        free(t->sources[i].path);
    free(t->sources);
    memset(t, 0, sizeof(*t));
}
