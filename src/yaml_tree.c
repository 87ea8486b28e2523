/* yaml_tree: libyaml's document API into a small node tree, with includes
 * and merge keys resolved and every node remembering its file and line. */
#include "yaml_tree.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "strbuf.h"

#define INCLUDE_DEPTH_MAX 16
#define YNODE_DEPTH_MAX 64

/* State of one load: file names and sources go to `tree`. */
struct loader {
    struct yaml_tree *tree;
    struct pt_error *err;
    struct pt_diags *diags;
    const char *stack[INCLUDE_DEPTH_MAX]; /* files being read, for cycles */
    size_t depth;
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

static struct ynode *ynode_new(enum ynode_kind kind, const char *file, int line)
{
    struct ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->file = file;
        n->line = line;
        n->refs = 1;
    }
    return n;
}

static int ynode_push(struct ynode *parent, struct ynode *child)
{
    struct ynode **items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    parent->items = items;
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

/* ---- reading YAML ---- */

static int text_to_tree(struct loader *l, const char *text, size_t len, const char *file,
                        struct ynode **out);

static size_t curl_collect(char *data, size_t size, size_t nmemb, void *ctx)
{
    return strbuf_append(ctx, data, size * nmemb) == 0 ? size * nmemb : 0;
}

static int fetch_url(struct loader *l, const struct ynode *at, const char *url, struct strbuf *sb)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return pt_error_set(l->err, EINVAL, at->file, at->line,
                            "!include %s: cannot initialise libcurl", url);
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_collect);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, sb);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    if (rc == CURLE_OK)
        rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
        return pt_error_set(l->err, EINVAL, at->file, at->line, "!include %s: %s", url,
                            curl_err[0] ? curl_err : curl_easy_strerror(rc));
    return 0;
}

static bool is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* Resolves `target` against the including file's directory. */
static int include_path(const char *from, const char *target, char *out, size_t len)
{
    if (target[0] == '/' || is_url(from))
        return snprintf(out, len, "%s", target) < (int)len ? 0 : -ENAMETOOLONG;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", from);
    return snprintf(out, len, "%s/%s", dirname(dir), target) < (int)len ? 0 : -ENAMETOOLONG;
}

static int file_to_tree(struct loader *l, const struct ynode *at, const char *path,
                        struct ynode **out);

static int include_node(struct loader *l, const struct ynode *at, struct ynode **out)
{
    if (at->kind != Y_SCALAR || !at->value[0])
        return pt_error_set(l->err, EINVAL, at->file, at->line,
                            "!include needs a file path or URL");
    char path[PATH_MAX];
    if (include_path(at->file, at->value, path, sizeof(path)) < 0)
        return pt_error_set(l->err, EINVAL, at->file, at->line, "!include %s: path too long",
                            at->value);
    for (size_t i = 0; i < l->depth; i++)
        if (strcmp(l->stack[i], path) == 0)
            return pt_error_set(l->err, EINVAL, at->file, at->line,
                                "!include %s: include cycle (%s is already being read)", at->value,
                                path);
    if (l->depth == INCLUDE_DEPTH_MAX)
        return pt_error_set(l->err, EINVAL, at->file, at->line,
                            "!include %s: includes nested deeper than %d", at->value,
                            INCLUDE_DEPTH_MAX);
    return file_to_tree(l, at, path, out);
}

static int doc_to_tree(struct loader *l, yaml_document_t *doc, yaml_node_t *node, const char *file,
                       struct ynode **cache, int depth, struct ynode **out);

static int doc_children(struct loader *l, yaml_document_t *doc, yaml_node_t *node, const char *file,
                        struct ynode **cache, int depth, struct ynode *n)
{
    int ret = 0;
    if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             ret == 0 && it < node->data.sequence.items.top; it++) {
            struct ynode *child;
            ret = doc_to_tree(l, doc, yaml_document_get_node(doc, *it), file, cache, depth + 1,
                              &child);
            if (ret == 0 && (ret = ynode_push(n, child)) < 0)
                ynode_unref(child);
        }
        return ret;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         ret == 0 && p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        if (key->type != YAML_SCALAR_NODE)
            return pt_error_set(l->err, EINVAL, file, (int)key->start_mark.line + 1,
                                "mapping keys must be plain strings");
        struct ynode *k, *v;
        ret = doc_to_tree(l, doc, key, file, cache, depth + 1, &k);
        if (ret < 0)
            break;
        ret =
            doc_to_tree(l, doc, yaml_document_get_node(doc, p->value), file, cache, depth + 1, &v);
        if (ret < 0) {
            ynode_unref(k);
            break;
        }
        if ((ret = ynode_push(n, k)) < 0 || (ret = ynode_push(n, v)) < 0) {
            ynode_unref(v);
            if (ret < 0 && n->n % 2)
                n->n--, ynode_unref(k);
        }
    }
    return ret;
}

/* Aliases point at the same libyaml node: `cache` maps node index to the
 * tree node so an alias shares it instead of copying. */
static int doc_to_tree(struct loader *l, yaml_document_t *doc, yaml_node_t *node, const char *file,
                       struct ynode **cache, int depth, struct ynode **out)
{
    int idx = (int)(node - doc->nodes.start);
    if (cache[idx]) {
        cache[idx]->refs++;
        *out = cache[idx];
        return 0;
    }
    if (depth > YNODE_DEPTH_MAX)
        return pt_error_set(l->err, EINVAL, file, (int)node->start_mark.line + 1,
                            "nested deeper than %d levels", YNODE_DEPTH_MAX);
    int line = (int)node->start_mark.line + 1;
    enum ynode_kind kind = node->type == YAML_SCALAR_NODE     ? Y_SCALAR
                           : node->type == YAML_SEQUENCE_NODE ? Y_SEQ
                                                              : Y_MAP;
    struct ynode *n = ynode_new(kind, file, line);
    if (!n)
        return -ENOMEM;
    int ret = 0;
    if (kind == Y_SCALAR) {
        n->value = strndup((const char *)node->data.scalar.value, node->data.scalar.length);
        n->plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        ret = n->value ? 0 : -ENOMEM;
    } else {
        ret = doc_children(l, doc, node, file, cache, depth, n);
    }
    if (ret == 0 && node->tag && strcmp((const char *)node->tag, "!include") == 0) {
        struct ynode *included;
        ret = include_node(l, n, &included);
        ynode_unref(n);
        n = ret == 0 ? included : NULL;
    }
    if (ret < 0) {
        ynode_unref(n);
        return ret;
    }
    cache[idx] = n;
    n->refs++;
    *out = n;
    return 0;
}

static int text_to_tree(struct loader *l, const char *text, size_t len, const char *file,
                        struct ynode **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int ret =
            pt_error_set(l->err, EINVAL, file, (int)parser.problem_mark.line + 1,
                         "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                         parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return ret;
    }
    yaml_parser_delete(&parser);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int ret = 0;
    if (!root) {
        *out = ynode_new(Y_MAP, file, 1);
        ret = *out ? 0 : -ENOMEM;
    } else {
        size_t n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
        struct ynode **cache = calloc(n_nodes, sizeof(*cache));
        ret = cache ? doc_to_tree(l, &doc, root, file, cache, 0, out) : -ENOMEM;
        for (size_t i = 0; cache && i < n_nodes; i++)
            ynode_unref(cache[i]);
        free(cache);
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

static int file_to_tree(struct loader *l, const struct ynode *at, const char *path,
                        struct ynode **out)
{
    const char *name = intern(l, path);
    if (!name)
        return -ENOMEM;
    struct strbuf sb = STRBUF_INIT;
    int ret = is_url(path) ? fetch_url(l, at, path, &sb) : strbuf_read_file(&sb, path);
    if (ret < 0 && ret != -EINVAL) {
        if (at)
            pt_error_set(l->err, -ret, at->file, at->line, "!include %s: %s", path, strerror(-ret));
        else
            pt_error_set(l->err, -ret, path, 0, "cannot read: %s", strerror(-ret));
    } else if (ret == 0 && !is_url(path)) {
        ret = sources_add(l->tree, path, false);
    }
    if (ret == 0) {
        l->stack[l->depth++] = name;
        ret = text_to_tree(l, sb.data ? sb.data : "", sb.len, name, out);
        l->depth--;
    }
    strbuf_release(&sb);
    return ret;
}

/* ---- merge keys ---- */

static int merge_into(struct pt_error *err, struct ynode *map, const struct ynode *src,
                      const struct ynode *at)
{
    if (src->kind != Y_MAP)
        return pt_error_set(err, EINVAL, at->file, at->line,
                            "'<<' needs a mapping or a list of mappings");
    for (size_t i = 0; i + 1 < src->n; i += 2) {
        if (ynode_map_get(map, src->items[i]->value))
            continue; /* explicit keys win */
        src->items[i]->refs++;
        src->items[i + 1]->refs++;
        if (ynode_push(map, src->items[i]) < 0 || ynode_push(map, src->items[i + 1]) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Resolves `<<` in every mapping and refuses duplicate keys. */
static int tree_resolve(struct pt_error *err, struct ynode *n, int depth)
{
    if (n->kind == Y_SCALAR || depth > YNODE_DEPTH_MAX)
        return 0;
    for (size_t i = 0; i < n->n; i++) {
        int ret = tree_resolve(err, n->items[i], depth + 1);
        if (ret < 0)
            return ret;
    }
    if (n->kind != Y_MAP)
        return 0;
    struct ynode *merges[32];
    size_t n_merges = 0;
    size_t w = 0;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        struct ynode *k = n->items[i], *v = n->items[i + 1];
        for (size_t j = 0; j < w; j += 2)
            if (strcmp(n->items[j]->value, k->value) == 0 && strcmp(k->value, "<<") != 0)
                return pt_error_set(err, EINVAL, k->file, k->line, "duplicate key '%s'", k->value);
        if (strcmp(k->value, "<<") == 0 && k->plain) {
            if (n_merges == 32)
                return pt_error_set(err, EINVAL, k->file, k->line, "too many '<<' merges");
            merges[n_merges++] = v;
            ynode_unref(k);
            continue;
        }
        n->items[w++] = k;
        n->items[w++] = v;
    }
    n->n = w;
    int ret = 0;
    for (size_t m = 0; ret == 0 && m < n_merges; m++) {
        struct ynode *v = merges[m];
        if (v->kind == Y_SEQ)
            for (size_t j = 0; ret == 0 && j < v->n; j++)
                ret = merge_into(err, n, v->items[j], v);
        else
            ret = merge_into(err, n, v, v);
    }
    for (size_t m = 0; m < n_merges; m++)
        ynode_unref(merges[m]);
    return ret;
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
        ret = name ? 0 : -ENOMEM;
        if (ret == 0) {
            l.stack[l.depth++] = name;
            ret = text_to_tree(&l, text, len, name, &root);
            l.depth--;
        }
    } else {
        ret = file_to_tree(&l, NULL, path, &root);
    }
    if (ret == 0)
        ret = tree_resolve(err, root, 0);
    out->root = root;
    if (ret < 0) {
        if (ret == -ENOMEM)
            pt_error_set(err, ENOMEM, path, 0, "out of memory");
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
