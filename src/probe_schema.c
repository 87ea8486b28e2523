#include "probe_schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of every probe; the config module parses them itself. */
static const char *const common_keys[] = {
    "filters", "includeports", "excludeports", "container_labels", "plugins", "attach",
};

bool probe_schema_common_key(const char *name)
{
    for (size_t i = 0; i < sizeof(common_keys) / sizeof(common_keys[0]); i++)
        if (strcmp(common_keys[i], name) == 0)
            return true;
    return false;
}

bool probe_schema_identifier(const char *s)
{
    if (!s || !*s || strlen(s) > 64 || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

int probe_schema_find(const struct probe_schema *schema, const char *name)
{
    for (size_t i = 0; schema && i < schema->n_options; i++)
        if (strcmp(schema->options[i].name, name) == 0)
            return (int)i;
    return -1;
}

int probe_schema_defaults(const struct probe_schema *schema, struct probe_option_value *values)
{
    for (size_t i = 0; i < schema->n_options; i++) {
        const struct probe_option *o = &schema->options[i];
        values[i] = (struct probe_option_value){.i = o->def};
        if (o->type == POPT_PATH && o->def_str && !(values[i].s = strdup(o->def_str)))
            return -ENOMEM;
    }
    return 0;
}

void probe_option_values_free(struct probe_option_value *values, size_t n)
{
    for (size_t i = 0; values && i < n; i++) {
        free(values[i].s);
        for (size_t k = 0; values[i].strings && k < values[i].n; k++)
            free(values[i].strings[k]);
        free(values[i].strings);
        free(values[i].ints);
        values[i] = (struct probe_option_value){0};
    }
}

static int option_check(const struct probe_option *o, char *why, size_t why_len)
{
    if (!probe_schema_identifier(o->name) || probe_schema_common_key(o->name)) {
        snprintf(why, why_len, "option '%s': not an identifier, or a key every probe takes",
                 o->name ? o->name : "(null)");
        return -EINVAL;
    }
    bool ranged = o->type == POPT_INT || o->type == POPT_SECONDS;
    if ((ranged || o->type == POPT_INTS) && o->min > o->max) {
        snprintf(why, why_len, "option '%s': min above max", o->name);
        return -EINVAL;
    }
    if (ranged && (o->def < o->min || o->def > o->max) &&
        !(o->def == 0 && (o->flags & POPT_OFF_IS_ZERO))) {
        snprintf(why, why_len, "option '%s': default %lld outside %lld..%lld", o->name, o->def,
                 o->min, o->max);
        return -EINVAL;
    }
    if (o->type == POPT_BOOL && o->def != 0 && o->def != 1) {
        snprintf(why, why_len, "option '%s': a boolean's default is 0 or 1", o->name);
        return -EINVAL;
    }
    if (o->type == POPT_NAMES) {
        size_t n = 0;
        while (o->names && o->names[n])
            n++;
        if (n < 2 || n > 63 || o->def <= 0 || (o->def >> n) != 0) {
            snprintf(why, why_len, "option '%s': names, or a default that is not a subset",
                     o->name);
            return -EINVAL;
        }
    }
    if (o->type == POPT_STRINGS && (o->max < 1 || o->max > PROBE_OPTION_LIST_MAX)) {
        snprintf(why, why_len, "option '%s': entry limit outside 1..%d", o->name,
                 PROBE_OPTION_LIST_MAX);
        return -EINVAL;
    }
    if (o->type == POPT_PATH && o->def_str && o->def_str[0] != '/') {
        snprintf(why, why_len, "option '%s': default path not absolute", o->name);
        return -EINVAL;
    }
    return 0;
}

int probe_schema_check(const struct probe_schema *schema, char *why, size_t why_len)
{
    for (size_t i = 0; i < schema->n_options; i++) {
        int ret = option_check(&schema->options[i], why, why_len);
        if (ret < 0)
            return ret;
        for (size_t k = 0; k < i; k++)
            if (strcmp(schema->options[k].name, schema->options[i].name) == 0) {
                snprintf(why, why_len, "option '%s' declared twice", schema->options[i].name);
                return -EINVAL;
            }
    }
    return 0;
}
