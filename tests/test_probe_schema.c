/* Every built-in probe's option table, checked generically through the
 * config loader: the table is well made, each option defaults as declared,
 * takes a good value of its type, refuses a bad one (and one out of range)
 * naming the file, line and PROBE.OPTION, unknown keys warn, and -w swaps
 * exactly the options marked swappable. A probe added to the registry is
 * covered without touching this file. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_watch.h"
#include "probe.h"

static const struct probe_schema *find_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = probe_builtin_find(name);
    return ops ? &ops->schema : NULL;
}

static const struct config_probes builtins = {find_schema, NULL, NULL};

/* Calls fn for every built-in probe, found by the names the registry gives. */
static void each_builtin(void (*fn)(const struct probe_ops *ops))
{
    char names[256];
    snprintf(names, sizeof(names), "%s", probe_builtin_names());
    size_t n = 0;
    for (char *save = NULL, *name = strtok_r(names, ", ", &save); name;
         name = strtok_r(NULL, ", ", &save), n++) {
        const struct probe_ops *ops = probe_builtin_find(name);
        assert_non_null(ops);
        fn(ops);
    }
    assert_true(n >= 3);
}

static struct config *load(const char *text, struct pt_error *err)
{
    struct config *cfg = NULL;
    memset(err, 0, sizeof(*err));
    if (config_load_string(text, "test.yml", &builtins, &cfg, err) < 0)
        return NULL;
    return cfg;
}

static void check_table(const struct probe_ops *ops)
{
    char why[256] = "";
    if (probe_schema_check(&ops->schema, why, sizeof(why)) < 0)
        fail_msg("%s: %s", ops->name, why);
    assert_false(ops->schema.strict_keys);
}

static void test_tables_are_well_made(void **state)
{
    each_builtin(check_table);
    /* What the check refuses. */
    static const struct probe_option clash[] = {{.name = "filters", .type = POPT_BOOL}};
    static const struct probe_option twice[] = {{.name = "a", .type = POPT_BOOL},
                                                {.name = "a", .type = POPT_BOOL}};
    static const struct probe_option out_of_range[] = {
        {.name = "a", .type = POPT_INT, .min = 1, .max = 5, .def = 9}};
    static const struct probe_option bad_name[] = {{.name = "Bad-Name", .type = POPT_BOOL}};
    const struct probe_schema bad[] = {PROBE_SCHEMA(clash), PROBE_SCHEMA(twice),
                                       PROBE_SCHEMA(out_of_range), PROBE_SCHEMA(bad_name)};
    char why[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(probe_schema_check(&bad[i], why, sizeof(why)), -EINVAL);
}

static void check_defaults(const struct probe_ops *ops)
{
    char text[128];
    struct pt_error err;
    snprintf(text, sizeof(text), "%s:\n", ops->name);
    struct config *cfg = load(text, &err);
    if (!cfg)
        fail_msg("%s: %s", ops->name, err.msg);
    const struct probe_conf *pc = &cfg->probes[0];
    assert_int_equal(pc->n_opts, ops->schema.n_options);
    for (size_t i = 0; i < pc->n_opts; i++) {
        const struct probe_option *o = &ops->schema.options[i];
        assert_false(pc->opts[i].given);
        if (o->type == POPT_PATH && o->def_str)
            assert_string_equal(pc->opts[i].s, o->def_str);
        else if (o->type == POPT_STRINGS || o->type == POPT_INTS)
            assert_int_equal(pc->opts[i].n, 0);
        else
            assert_int_equal(pc->opts[i].i, o->def);
    }
    config_free(cfg);
}

static void test_defaults(void **state)
{
    each_builtin(check_defaults);
}

/* A valid value of the option's type as YAML; `variant` 0 and 1 give two
 * different ones. `expect` gets the integer it must read as (when it has
 * one). */
static void good_value(const struct probe_option *o, int variant, char *buf, size_t len,
                       long long *expect)
{
    *expect = 0;
    switch (o->type) {
    case POPT_BOOL:
        *expect = variant ? !o->def : o->def;
        snprintf(buf, len, "%s", *expect ? "yes" : "false");
        break;
    case POPT_INT:
        *expect = variant ? o->max : o->min;
        snprintf(buf, len, "%lld", *expect);
        break;
    case POPT_SECONDS:
        *expect = variant ? o->max : o->min;
        snprintf(buf, len, "%.3f", (double)*expect / 1000);
        break;
    case POPT_NAMES: /* the first name; the first two */
        *expect = variant ? 3 : 1;
        if (variant)
            snprintf(buf, len, "[%s, %s]", o->names[0], o->names[1]);
        else
            snprintf(buf, len, "[%s]", o->names[0]);
        break;
    case POPT_PATH:
        snprintf(buf, len, "%s", variant ? "/usr/bin/x" : "/bin/y");
        break;
    case POPT_STRINGS:
        snprintf(buf, len, "%s", variant ? "[/a/b, /c]" : "[/d]");
        *expect = variant ? 2 : 1;
        break;
    case POPT_INTS:
        snprintf(buf, len, "[%lld]", variant ? o->max : o->min);
        *expect = 1;
        break;
    }
}

static void check_good_values(const struct probe_ops *ops)
{
    for (size_t i = 0; i < ops->schema.n_options; i++) {
        const struct probe_option *o = &ops->schema.options[i];
        for (int variant = 0; variant < 2; variant++) {
            char value[128], text[512];
            long long expect;
            struct pt_error err;
            good_value(o, variant, value, sizeof(value), &expect);
            snprintf(text, sizeof(text), "%s:\n  %s: %s\n", ops->name, o->name, value);
            struct config *cfg = load(text, &err);
            if (!cfg)
                fail_msg("%s: '%s' refused: %s", ops->name, text, err.msg);
            const struct probe_option_value *v = &cfg->probes[0].opts[i];
            assert_true(v->given);
            if (o->type == POPT_PATH)
                assert_string_equal(v->s, value);
            else if (o->type == POPT_STRINGS || o->type == POPT_INTS)
                assert_int_equal(v->n, expect);
            else if (expect != v->i)
                fail_msg("%s.%s: %s read as %lld, not %lld", ops->name, o->name, value, v->i,
                         expect);
            assert_int_equal(cfg->warnings.n, 0);
            config_free(cfg);
        }
    }
}

static void test_good_values(void **state)
{
    each_builtin(check_good_values);
}

/* Values of the wrong type or out of range, as YAML, NULL-terminated. */
static size_t bad_values(const struct probe_option *o, char out[][64])
{
    size_t n = 0;
    switch (o->type) {
    case POPT_BOOL:
        snprintf(out[n++], 64, "maybe");
        snprintf(out[n++], 64, "[true]");
        break;
    case POPT_INT:
    case POPT_SECONDS:
        snprintf(out[n++], 64, "soon");
        snprintf(out[n++], 64, "{a: 1}");
        if (o->type == POPT_INT && o->max < LLONG_MAX)
            snprintf(out[n++], 64, "%lld", o->max + 1);
        if (o->type == POPT_INT && o->min > LLONG_MIN)
            snprintf(out[n++], 64, "%lld", o->min - 1);
        if (o->type == POPT_SECONDS)
            snprintf(out[n++], 64, "%.3f", (double)(o->max + 1000) / 1000);
        break;
    case POPT_NAMES:
        snprintf(out[n++], 64, "[%s, bogus]", o->names[0]);
        snprintf(out[n++], 64, "[]");
        snprintf(out[n++], 64, "%s", o->names[0]);
        break;
    case POPT_PATH:
        snprintf(out[n++], 64, "relative/path");
        snprintf(out[n++], 64, "[/a]");
        break;
    case POPT_STRINGS:
        snprintf(out[n++], 64, "/not/a/list");
        snprintf(out[n++], 64, "[[nested]]");
        if (o->flags & POPT_ABSOLUTE)
            snprintf(out[n++], 64, "[relative]");
        break;
    case POPT_INTS:
        snprintf(out[n++], 64, "[x]");
        snprintf(out[n++], 64, "7");
        if (o->max < LLONG_MAX)
            snprintf(out[n++], 64, "[%lld]", o->max + 1);
        if (o->min > LLONG_MIN)
            snprintf(out[n++], 64, "[%lld]", o->min - 1);
        break;
    }
    return n;
}

static void check_bad_values(const struct probe_ops *ops)
{
    for (size_t i = 0; i < ops->schema.n_options; i++) {
        const struct probe_option *o = &ops->schema.options[i];
        char values[8][64], text[1024], field[128];
        size_t n = bad_values(o, values);
        snprintf(field, sizeof(field), "%s.%s", ops->name, o->name);
        for (size_t k = 0; k < n; k++) {
            struct pt_error err;
            /* The option on line 3, after a key every probe takes. */
            snprintf(text, sizeof(text), "%s:\n  attach: auto\n  %s: %s\n", ops->name, o->name,
                     values[k]);
            struct config *cfg = load(text, &err);
            if (cfg) {
                config_free(cfg);
                fail_msg("%s: '%s' accepted", field, values[k]);
            }
            if (strcmp(err.file, "test.yml") != 0 || err.line != 3 ||
                strncmp(err.msg, field, strlen(field)) != 0)
                fail_msg("%s: '%s' gave %s:%d: %s", field, values[k], err.file, err.line, err.msg);
        }
    }
}

static void test_bad_values(void **state)
{
    each_builtin(check_bad_values);
}

static void check_unknown_key(const struct probe_ops *ops)
{
    char text[256];
    struct pt_error err;
    snprintf(text, sizeof(text), "%s:\n  attach: auto\n  no_such_option: 1\n", ops->name);
    struct config *cfg = load(text, &err);
    if (!cfg)
        fail_msg("%s: %s", ops->name, err.msg);
    char msg[128];
    snprintf(msg, sizeof(msg), "%s: unknown field 'no_such_option' ignored", ops->name);
    assert_int_equal(cfg->warnings.n, 1);
    assert_int_equal(cfg->warnings.items[0].line, 3);
    assert_string_equal(cfg->warnings.items[0].msg, msg);
    config_free(cfg);
}

static void test_unknown_keys(void **state)
{
    each_builtin(check_unknown_key);
}

/* Filters on a probe whose events have no address are said to be ignored. */
static void check_address_keys(const struct probe_ops *ops)
{
    char text[256];
    struct pt_error err;
    snprintf(text, sizeof(text), "%s:\n  filters: [{network: 10.0.0.0/8}]\n  excludeports: [22]\n",
             ops->name);
    struct config *cfg = load(text, &err);
    if (!cfg)
        fail_msg("%s: %s", ops->name, err.msg);
    assert_int_equal(cfg->warnings.n, ops->schema.no_addresses ? 2 : 0);
    if (ops->schema.no_addresses) {
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "%s.filters: ignored: this probe's events have no address or port", ops->name);
        assert_int_equal(cfg->warnings.items[0].line, 2);
        assert_string_equal(cfg->warnings.items[0].msg, msg);
    }
    config_free(cfg);
}

static void test_address_keys(void **state)
{
    each_builtin(check_address_keys);
}

/* A change of one option is swappable exactly when the table says so. */
static void check_swappable(const struct probe_ops *ops)
{
    for (size_t i = 0; i < ops->schema.n_options; i++) {
        const struct probe_option *o = &ops->schema.options[i];
        char a[128], b[128], text[512];
        long long unused;
        struct pt_error err;
        good_value(o, 0, a, sizeof(a), &unused);
        good_value(o, 1, b, sizeof(b), &unused);
        snprintf(text, sizeof(text), "%s:\n  %s: %s\n", ops->name, o->name, a);
        struct config *cur = load(text, &err);
        snprintf(text, sizeof(text), "%s:\n  %s: %s\n", ops->name, o->name, b);
        struct config *next = load(text, &err);
        assert_non_null(cur);
        assert_non_null(next);
        assert_false(config_same(cur, next));
        if (config_swappable(cur, next) != ((o->flags & POPT_SWAPPABLE) != 0))
            fail_msg("%s.%s: swappable is %d, the table says %d", ops->name, o->name,
                     config_swappable(cur, next), (o->flags & POPT_SWAPPABLE) != 0);
        config_free(cur);
        config_free(next);
    }
}

static void test_swappable(void **state)
{
    each_builtin(check_swappable);
}

/* The list and path types, which no built-in of this version may use yet:
 * null is no list, and each entry is checked with its index. */
static const struct probe_option list_options[] = {
    {.name = "paths", .type = POPT_STRINGS, .flags = POPT_ABSOLUTE, .max = 2},
    {.name = "uids", .type = POPT_INTS, .min = 0, .max = 100},
    {.name = "binary", .type = POPT_PATH, .def_str = "/bin/sh"},
};
static const struct probe_schema list_schema = PROBE_SCHEMA(list_options);

static const struct probe_schema *find_list_probe(const char *name, void *ctx)
{
    return strcmp(name, "lists") == 0 ? &list_schema : NULL;
}

static void expect_list_error(const char *text, int line, const char *msg)
{
    const struct config_probes probes = {find_list_probe, NULL, NULL};
    struct config *cfg = NULL;
    struct pt_error err;
    assert_true(config_load_string(text, "test.yml", &probes, &cfg, &err) < 0);
    if (err.line != line || strcmp(err.msg, msg) != 0)
        fail_msg("got %d '%s', expected %d '%s'", err.line, err.msg, line, msg);
}

static void test_list_types(void **state)
{
    const struct config_probes probes = {find_list_probe, NULL, NULL};
    struct config *cfg = NULL;
    struct pt_error err;
    assert_int_equal(config_load_string("lists:\n  paths: ~\n  uids: [0, 100]\n", "test.yml",
                                        &probes, &cfg, &err),
                     0);
    const struct probe_conf *pc = &cfg->probes[0];
    assert_int_equal(pc->opts[0].n, 0);
    assert_true(pc->opts[0].given);
    assert_int_equal(pc->opts[1].n, 2);
    assert_int_equal(pc->opts[1].ints[1], 100);
    assert_string_equal(pc->opts[2].s, "/bin/sh");
    config_free(cfg);
    assert_int_equal(config_load_string("lists:\n  paths: [/tmp/, /var/log]\n  binary: /bin/bash\n",
                                        "test.yml", &probes, &cfg, &err),
                     0);
    assert_string_equal(cfg->probes[0].opts[0].strings[1], "/var/log");
    assert_string_equal(cfg->probes[0].opts[2].s, "/bin/bash");
    config_free(cfg);
    expect_list_error("lists:\n  paths:\n    - /a\n    - b\n", 4,
                      "lists.paths[1]: 'b' is not an absolute path");
    expect_list_error("lists:\n  paths: [/a, /b, /c]\n", 2,
                      "lists.paths: expected a list of at most 2 absolute paths");
    expect_list_error("lists:\n  uids: [1, 101]\n", 2,
                      "lists.uids[1]: expected a non-negative integer, at most 100");
    expect_list_error("lists:\n  binary: bash\n", 2,
                      "lists.binary: expected an absolute path of at most 255 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_are_well_made), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good_values),          cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_keys),         cmocka_unit_test(test_swappable),
        cmocka_unit_test(test_list_types),           cmocka_unit_test(test_address_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
