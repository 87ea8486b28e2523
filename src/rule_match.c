#include "rule_match.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

enum cond_kind { COND_ALL, COND_ANY, COND_NOT, COND_TEST, COND_SOME };
/* Globs of the common shapes are compared without fnmatch(3), which is
 * quadratic on "*x*" against a long command line: 100 rules on a deep tree
 * of long command lines cost 37 us an event with it (bench/rules.sh). */
enum cond_op { OP_GLOB, OP_EQUAL, OP_PREFIX, OP_SUFFIX, OP_CONTAINS, OP_RANGE, OP_CIDR };

/* Where a tested value comes from. */
enum cond_source {
    SRC_PID,
    SRC_UID,
    SRC_COMM,
    SRC_CMDLINE,
    SRC_USERNAME,
    SRC_DEPTH,
    SRC_ANCESTOR,
    SRC_FIELD,   /* the probe's fields */
    SRC_ELEMENT, /* a member of the list element being tested */
};

struct rule_cond {
    enum cond_kind kind;
    /* COND_TEST and COND_SOME */
    char *name; /* the member read (its last part in an element) */
    enum cond_source src;
    enum probe_field_kernel kernel;
    /* COND_TEST */
    enum cond_op op;
    char *text; /* OP_GLOB, OP_EQUAL */
    int64_t lo, hi;
    int family; /* OP_CIDR */
    uint8_t addr[16];
    unsigned prefixlen;
    /* COND_ALL, COND_ANY, COND_NOT (one), COND_SOME (one) */
    struct rule_cond **kids;
    size_t n_kids;
};

struct common_field {
    const char *name;
    enum cond_source src;
    enum probe_field_type type;
};

static const struct common_field common_fields[] = {
    {"pid", SRC_PID, PROBE_FIELD_NUMBER},           {"uid", SRC_UID, PROBE_FIELD_NUMBER},
    {"comm", SRC_COMM, PROBE_FIELD_STRING},         {"cmdline", SRC_CMDLINE, PROBE_FIELD_STRING},
    {"username", SRC_USERNAME, PROBE_FIELD_STRING}, {"depth", SRC_DEPTH, PROBE_FIELD_NUMBER},
    {"ancestor", SRC_ANCESTOR, PROBE_FIELD_LIST},
};

static const struct common_field ancestor_fields[] = {
    {"pid", SRC_ELEMENT, PROBE_FIELD_NUMBER},
    {"cmdline", SRC_ELEMENT, PROBE_FIELD_STRING},
    {"username", SRC_ELEMENT, PROBE_FIELD_STRING},
};

/* ---- compiling ---- */

struct compile_ctx {
    rule_field_fn lookup;
    void *ctx;
    struct pt_error *err;
    /* Inside a list field's condition: its name ("ancestor",
     * "destinations"), NULL at the top. */
    const char *scope;
};

void rule_path(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static struct rule_cond *cond_new(enum cond_kind kind)
{
    struct rule_cond *c = calloc(1, sizeof(*c));
    if (c)
        c->kind = kind;
    return c;
}

void rule_cond_free(struct rule_cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_kids; i++)
        rule_cond_free(c->kids[i]);
    free(c->kids);
    free(c->name);
    free(c->text);
    free(c);
}

static int cond_oom(struct compile_ctx *cc)
{
    return pt_error_set(cc->err, ENOMEM, NULL, 0, "out of memory compiling a rule");
}

/* "FILE:LINE: rules[0].match.port: what is wrong". */
__attribute__((format(printf, 4, 5))) static int
cond_fail(struct compile_ctx *cc, const struct ynode *n, const char *path, const char *fmt, ...)
{
    char msg[sizeof(cc->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pt_error_set(cc->err, EINVAL, n->file, n->line, "%s: %s", path, msg);
}

static int cond_add_kid(struct rule_cond *parent, struct rule_cond *kid)
{
    struct rule_cond **kids = realloc(parent->kids, (parent->n_kids + 1) * sizeof(*kids));
    if (!kids)
        return -ENOMEM;
    parent->kids = kids;
    kids[parent->n_kids++] = kid;
    return 0;
}

/* Adds `kid` (compiled with result `ret`) to `parent`; returns the first
 * failure. The kid is freed when it cannot be added. */
static int cond_adopt(struct compile_ctx *cc, struct rule_cond *parent, int ret,
                      struct rule_cond *kid)
{
    if (ret == 0 && cond_add_kid(parent, kid) < 0) {
        rule_cond_free(kid);
        ret = cond_oom(cc);
    }
    return ret;
}

/* Hands `c` out, or frees it when its compilation failed. */
static int cond_finish(struct rule_cond *c, int ret, struct rule_cond **out)
{
    if (ret < 0) {
        rule_cond_free(c);
        return ret;
    }
    *out = c;
    return 0;
}

static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    if (!s[0] || isspace((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "N" or "LOW-HIGH" (LOW may be negative: "-5-5"). */
static int parse_range(const char *s, int64_t *lo, int64_t *hi)
{
    if (parse_int64(s, lo) == 0) {
        *hi = *lo;
        return 0;
    }
    const char *dash = strchr(s + (s[0] == '-'), '-');
    char low[32];
    if (!dash || (size_t)(dash - s) >= sizeof(low))
        return -EINVAL;
    memcpy(low, s, (size_t)(dash - s));
    low[dash - s] = '\0';
    if (parse_int64(low, lo) < 0 || parse_int64(dash + 1, hi) < 0 || *lo > *hi)
        return -EINVAL;
    return 0;
}

/* "ADDR" (a host) or "ADDR/LEN", through the config's own parser. */
static int parse_network(const char *s, struct rule_cond *c)
{
    struct subnet_filter sf;
    char why[256];
    const char *host_len = strchr(s, ':') ? "128" : "32";
    if (subnet_parse(s, strchr(s, '/') ? NULL : host_len, &sf, why, sizeof(why)) < 0)
        return -EINVAL;
    c->family = sf.family;
    memcpy(c->addr, sf.addr, sizeof(c->addr));
    c->prefixlen = sf.prefixlen;
    return 0;
}

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* "x" is equality; "x*", "*x" and "*x*" (x without * ? [ \\) compare
 * bytes; any other glob goes to fnmatch(3). `text` keeps the literal part
 * for the first four, the glob for the last. */
static int glob_compile(struct rule_cond *c, const char *glob)
{
    size_t len = strlen(glob);
    bool lead = len > 0 && glob[0] == '*', trail = len > 1 && glob[len - 1] == '*';
    size_t from = lead, to = len - (trail || (len == 1 && lead));
    bool literal = true;
    for (size_t i = from; i < to; i++)
        literal &= !strchr("*?[\\", glob[i]);
    if (!has_glob(glob))
        c->op = OP_EQUAL, from = 0, to = len;
    else if (!literal || to < from)
        c->op = OP_GLOB, from = 0, to = len;
    else
        c->op = lead && trail ? OP_CONTAINS : lead ? OP_SUFFIX : trail ? OP_PREFIX : OP_GLOB;
    if (c->op == OP_GLOB)
        from = 0, to = len;
    c->text = strndup(glob + from, to - from);
    return c->text ? 0 : -ENOMEM;
}

/* Types a value compared with a field of unknown type (a probe without a
 * field table): a number or range, else a network, else a string. */
static enum probe_field_type infer_type(const char *v)
{
    int64_t lo, hi;
    struct rule_cond probe = {0};
    if (parse_range(v, &lo, &hi) == 0)
        return PROBE_FIELD_NUMBER;
    if ((strchr(v, '.') || strchr(v, ':')) && parse_network(v, &probe) == 0)
        return PROBE_FIELD_ADDR;
    return PROBE_FIELD_STRING;
}

static int compile_test(struct compile_ctx *cc, const struct ynode *v, const char *path,
                        const char *name, enum cond_source src, struct rule_field_info info,
                        struct rule_cond **out)
{
    if (v->kind != Y_SCALAR ||
        (v->plain && (!v->value[0] || strcmp(v->value, "~") == 0 || strcmp(v->value, "null") == 0)))
        return cond_fail(cc, v, path, "expected a value to compare '%s' with", name);
    enum probe_field_type type = info.type ? info.type : infer_type(v->value);
    struct rule_cond *c = cond_new(COND_TEST);
    if (!c || !(c->name = strdup(name)))
        return rule_cond_free(c), cond_oom(cc);
    c->src = src;
    c->kernel = info.kernel;
    int ret = 0;
    switch (type) {
    case PROBE_FIELD_NUMBER:
        c->op = OP_RANGE;
        if (parse_range(v->value, &c->lo, &c->hi) < 0)
            ret = cond_fail(cc, v, path, "'%s' is not a number or a range LOW-HIGH", v->value);
        break;
    case PROBE_FIELD_ADDR:
        c->op = OP_CIDR;
        if (parse_network(v->value, c) < 0)
            ret = cond_fail(cc, v, path, "'%s' is not an address or ADDRESS/LENGTH", v->value);
        break;
    case PROBE_FIELD_LIST:
        ret = cond_fail(cc, v, path, "'%s' is a list: give a condition on its elements", name);
        break;
    default:
        ret = glob_compile(c, v->value) < 0 ? cond_oom(cc) : 0;
        break;
    }
    return cond_finish(c, ret, out);
}

static int compile_map(struct compile_ctx *cc, const struct ynode *n, const char *path,
                       struct rule_cond **out);

static int compile_any(struct compile_ctx *cc, const struct ynode *n, const char *path,
                       enum cond_kind kind, struct rule_cond **out)
{
    if (n->kind != Y_SEQ || n->n == 0)
        return cond_fail(cc, n, path, "expected a non-empty list of conditions");
    struct rule_cond *c = cond_new(kind);
    if (!c)
        return cond_oom(cc);
    for (size_t i = 0; i < n->n; i++) {
        char sub[512];
        struct rule_cond *kid = NULL;
        rule_path(sub, sizeof(sub), "%s[%zu]", path, i);
        int ret = compile_map(cc, n->items[i], sub, &kid);
        if ((ret = cond_adopt(cc, c, ret, kid)) < 0)
            return cond_finish(c, ret, out);
    }
    return cond_finish(c, 0, out);
}

/* Where a field name leads: every event's fields, the element's, or the
 * probe's (through the caller's lookup). */
static int field_resolve(struct compile_ctx *cc, const struct ynode *key, const char *path,
                         enum cond_source *src, struct rule_field_info *info)
{
    const char *name = key->value;
    memset(info, 0, sizeof(*info));
    const struct common_field *table = cc->scope ? NULL : common_fields;
    size_t n = cc->scope ? 0 : sizeof(common_fields) / sizeof(common_fields[0]);
    if (cc->scope && strcmp(cc->scope, "ancestor") == 0) {
        table = ancestor_fields;
        n = sizeof(ancestor_fields) / sizeof(ancestor_fields[0]);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].name, name) == 0) {
            *src = table[i].src;
            info->type = table[i].type;
            return 0;
        }
    }
    if (cc->scope && strcmp(cc->scope, "ancestor") == 0)
        return cond_fail(cc, key, path, "an ancestor has no field '%s' (pid, cmdline, username)",
                         name);
    char full[256], why[512] = "";
    rule_path(full, sizeof(full), "%s%s%s", cc->scope ? cc->scope : "", cc->scope ? "." : "", name);
    int ret = cc->lookup ? cc->lookup(cc->ctx, full, info, why, sizeof(why)) : 0;
    if (ret < 0)
        return cond_fail(cc, key, path, "%s", why);
    *src = cc->scope ? SRC_ELEMENT : SRC_FIELD;
    return 0;
}

static int compile_list_field(struct compile_ctx *cc, const struct ynode *v, const char *path,
                              const char *name, enum cond_source src, struct rule_cond **out)
{
    if (v->kind != Y_MAP)
        return cond_fail(cc, v, path,
                         "'%s' is a list: expected a condition (a mapping) on its "
                         "elements",
                         name);
    if (cc->scope)
        return cond_fail(cc, v, path, "a list inside a list element is not supported");
    struct rule_cond *c = cond_new(COND_SOME), *kid = NULL;
    if (!c || !(c->name = strdup(name)))
        return rule_cond_free(c), cond_oom(cc);
    c->src = src;
    cc->scope = name;
    int ret = compile_map(cc, v, path, &kid);
    cc->scope = NULL;
    return cond_finish(c, cond_adopt(cc, c, ret, kid), out);
}

/* FIELD: VALUE, FIELD: [VALUES] (any), LIST: {CONDITION}. */
static int compile_field(struct compile_ctx *cc, const struct ynode *key, const struct ynode *v,
                         const char *path, struct rule_cond **out)
{
    enum cond_source src = SRC_FIELD;
    struct rule_field_info info;
    int ret = field_resolve(cc, key, path, &src, &info);
    if (ret < 0)
        return ret;
    if (info.type == PROBE_FIELD_LIST)
        return compile_list_field(cc, v, path, key->value, src, out);
    if (v->kind != Y_SEQ)
        return compile_test(cc, v, path, key->value, src, info, out);
    if (v->n == 0)
        return cond_fail(cc, v, path, "expected at least one value");
    struct rule_cond *any = cond_new(COND_ANY);
    if (!any)
        return cond_oom(cc);
    for (size_t i = 0; i < v->n; i++) {
        char sub[512];
        struct rule_cond *kid = NULL;
        rule_path(sub, sizeof(sub), "%s[%zu]", path, i);
        ret = compile_test(cc, v->items[i], sub, key->value, src, info, &kid);
        if ((ret = cond_adopt(cc, any, ret, kid)) < 0)
            return cond_finish(any, ret, out);
    }
    return cond_finish(any, 0, out);
}

static int compile_entry(struct compile_ctx *cc, const struct ynode *key, const struct ynode *v,
                         const char *path, struct rule_cond **out)
{
    if (strcmp(key->value, "all") == 0)
        return compile_any(cc, v, path, COND_ALL, out);
    if (strcmp(key->value, "any") == 0)
        return compile_any(cc, v, path, COND_ANY, out);
    if (strcmp(key->value, "not") == 0) {
        struct rule_cond *c = cond_new(COND_NOT), *kid = NULL;
        if (!c)
            return cond_oom(cc);
        int ret = compile_map(cc, v, path, &kid);
        return cond_finish(c, cond_adopt(cc, c, ret, kid), out);
    }
    return compile_field(cc, key, v, path, out);
}

/* A mapping: all of its entries. */
static int compile_map(struct compile_ctx *cc, const struct ynode *n, const char *path,
                       struct rule_cond **out)
{
    if (n->kind != Y_MAP || n->n == 0)
        return cond_fail(cc, n, path,
                         "expected a condition: a mapping of fields (or all, any, "
                         "not) to what they must match");
    struct rule_cond *all = cond_new(COND_ALL);
    if (!all)
        return cond_oom(cc);
    for (size_t i = 0; i < n->n; i += 2) {
        const struct ynode *key = n->items[i];
        char sub[512];
        struct rule_cond *kid = NULL;
        rule_path(sub, sizeof(sub), "%s.%s", path, key->value);
        int ret = compile_entry(cc, key, n->items[i + 1], sub, &kid);
        if ((ret = cond_adopt(cc, all, ret, kid)) < 0)
            return cond_finish(all, ret, out);
    }
    return cond_finish(all, 0, out);
}

int rule_cond_compile(const struct ynode *n, const char *path, rule_field_fn lookup, void *ctx,
                      struct rule_cond **out, struct pt_error *err)
{
    struct compile_ctx cc = {.lookup = lookup, .ctx = ctx, .err = err};
    *out = NULL;
    return compile_map(&cc, n, path, out);
}

/* ---- matching ---- */

struct value {
    enum { V_NONE, V_INT, V_REAL, V_STR, V_LIST } kind;
    int64_t i;
    double r;
    const char *s;
    json_t *list;
    size_t first; /* the list's first element to test */
};

static void value_from_json(json_t *j, struct value *v)
{
    if (json_is_integer(j)) {
        v->kind = V_INT;
        v->i = json_integer_value(j);
    } else if (json_is_real(j)) {
        v->kind = V_REAL;
        v->r = json_real_value(j);
    } else if (json_is_string(j)) {
        v->kind = V_STR;
        v->s = json_string_value(j);
    } else if (json_is_array(j)) {
        v->kind = V_LIST;
        v->list = j;
    }
}

static void value_get(const struct rule_cond *c, const struct rule_subject *s, json_t *element,
                      struct value *v)
{
    memset(v, 0, sizeof(*v));
    json_t *tree = NULL;
    if (c->src >= SRC_CMDLINE && c->src <= SRC_ANCESTOR)
        tree = s->tree ? s->tree(s->ctx) : NULL;
    switch (c->src) {
    case SRC_PID:
        v->kind = V_INT, v->i = s->pid;
        break;
    case SRC_UID:
        v->kind = V_INT, v->i = s->uid;
        break;
    case SRC_COMM:
        if ((v->s = s->comm ? s->comm(s->ctx) : NULL))
            v->kind = V_STR;
        break;
    case SRC_CMDLINE:
    case SRC_USERNAME:
        value_from_json(json_object_get(json_array_get(tree, 0), c->name), v);
        break;
    case SRC_DEPTH:
        if (json_array_size(tree) > 0)
            v->kind = V_INT, v->i = (int64_t)json_array_size(tree) - 1;
        break;
    case SRC_ANCESTOR:
        if (tree)
            v->kind = V_LIST, v->list = tree, v->first = 1;
        break;
    case SRC_FIELD:
        value_from_json(json_object_get(s->fields, c->name), v);
        break;
    case SRC_ELEMENT:
        value_from_json(json_object_get(element, c->name), v);
        break;
    }
}

static bool number_of(const struct value *v, double *out)
{
    int64_t i;
    if (v->kind == V_INT)
        *out = (double)v->i;
    else if (v->kind == V_REAL)
        *out = v->r;
    else if (v->kind == V_STR && parse_int64(v->s, &i) == 0)
        *out = (double)i;
    else
        return false;
    return true;
}

static bool in_range(const struct rule_cond *c, const struct value *v)
{
    if (v->kind == V_INT)
        return v->i >= c->lo && v->i <= c->hi;
    double d;
    return number_of(v, &d) && d >= (double)c->lo && d <= (double)c->hi;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    size_t bytes = bits / 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    unsigned rest = bits % 8;
    return rest == 0 || ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool in_network(const struct rule_cond *c, const struct value *v)
{
    uint8_t a[16];
    if (v->kind != V_STR)
        return false;
    if (inet_pton(AF_INET, v->s, a) == 1)
        return c->family == AF_INET && prefix_equal(a, c->addr, c->prefixlen);
    if (inet_pton(AF_INET6, v->s, a) != 1)
        return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->family == AF_INET)
        return memcmp(a, mapped, 12) == 0 && prefix_equal(a + 12, c->addr, c->prefixlen);
    return prefix_equal(a, c->addr, c->prefixlen);
}

static bool test_value(const struct rule_cond *c, const struct value *v)
{
    char num[32];
    const char *s = v->s;
    if (c->op == OP_RANGE)
        return in_range(c, v);
    if (c->op == OP_CIDR)
        return in_network(c, v);
    if (v->kind == V_INT) {
        snprintf(num, sizeof(num), "%" PRId64, v->i);
        s = num;
    } else if (v->kind != V_STR) {
        return false;
    }
    size_t len = strlen(s), tlen = strlen(c->text);
    switch (c->op) {
    case OP_EQUAL:
        return strcmp(s, c->text) == 0;
    case OP_PREFIX:
        return strncmp(s, c->text, tlen) == 0;
    case OP_SUFFIX:
        return len >= tlen && memcmp(s + len - tlen, c->text, tlen) == 0;
    case OP_CONTAINS:
        return strstr(s, c->text) != NULL;
    default:
        return fnmatch(c->text, s, 0) == 0;
    }
}

static bool match_in(const struct rule_cond *c, const struct rule_subject *s, json_t *element);

static bool match_some(const struct rule_cond *c, const struct rule_subject *s, json_t *element)
{
    struct value v;
    value_get(c, s, element, &v);
    if (v.kind != V_LIST)
        return false;
    for (size_t i = v.first; i < json_array_size(v.list); i++)
        if (match_in(c->kids[0], s, json_array_get(v.list, i)))
            return true;
    return false;
}

static bool match_in(const struct rule_cond *c, const struct rule_subject *s, json_t *element)
{
    struct value v;
    switch (c->kind) {
    case COND_ALL:
        for (size_t i = 0; i < c->n_kids; i++)
            if (!match_in(c->kids[i], s, element))
                return false;
        return true;
    case COND_ANY:
        for (size_t i = 0; i < c->n_kids; i++)
            if (match_in(c->kids[i], s, element))
                return true;
        return false;
    case COND_NOT:
        return !match_in(c->kids[0], s, element);
    case COND_SOME:
        return match_some(c, s, element);
    case COND_TEST:
        value_get(c, s, element, &v);
        return test_value(c, &v);
    }
    return false;
}

bool rule_cond_match(const struct rule_cond *c, const struct rule_subject *s)
{
    return !c || match_in(c, s, NULL);
}

/* ---- what the kernel can evaluate ---- */

static bool kernel_term(const struct rule_cond *c, struct rule_kernel_terms *kt)
{
    if (c->kind != COND_TEST)
        return false;
    if (c->src == SRC_UID && !(kt->flags & RULE_KT_UID) && c->lo >= 0 && c->hi <= UINT32_MAX) {
        kt->flags |= RULE_KT_UID;
        kt->uid_lo = (uint32_t)c->lo;
        kt->uid_hi = (uint32_t)c->hi;
        return true;
    }
    if (c->src == SRC_COMM && !(kt->flags & RULE_KT_COMM)) {
        size_t len = strlen(c->text);
        bool prefix = c->op == OP_PREFIX;
        /* Only "name" and "prefix*": the kernel compares bytes. */
        if (len >= RULE_KT_COMM_MAX || (c->op != OP_EQUAL && !prefix))
            return false;
        kt->flags |= RULE_KT_COMM | (prefix ? RULE_KT_COMM_PREFIX : 0);
        memcpy(kt->comm, c->text, len);
        kt->comm[len] = '\0';
        kt->comm_len = len;
        return true;
    }
    if (c->src == SRC_FIELD && c->kernel == PROBE_KERNEL_ADDR && c->op == OP_CIDR &&
        !(kt->flags & RULE_KT_ADDR)) {
        kt->flags |= RULE_KT_ADDR;
        kt->family = c->family;
        memcpy(kt->addr, c->addr, sizeof(kt->addr));
        kt->prefixlen = c->prefixlen;
        return true;
    }
    if (c->src == SRC_FIELD && c->kernel == PROBE_KERNEL_PORT && c->op == OP_RANGE &&
        !(kt->flags & RULE_KT_PORT) && c->lo >= 0 && c->hi <= 65535) {
        kt->flags |= RULE_KT_PORT;
        kt->port_lo = (uint16_t)c->lo;
        kt->port_hi = (uint16_t)c->hi;
        return true;
    }
    return false;
}

bool rule_cond_kernel_terms(const struct rule_cond *c, struct rule_kernel_terms *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return true;
    if (c->kind != COND_ALL)
        return kernel_term(c, out);
    for (size_t i = 0; i < c->n_kids; i++)
        if (!kernel_term(c->kids[i], out))
            return false;
    return true;
}
