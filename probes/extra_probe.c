/* extra_probe: descriptions of probes from --extra-probe-path, and the
 * generic decoder their events go through. */
#include "extra_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_hook.h"
#include "config.h"
#include "error.h"
#include "jsonutil.h"
#include "templates/pidtree_common.h"
#include "strbuf.h"

#define EXTRA_MAX_FIELDS 64
#define EXTRA_MAX_STRING 4096
#define EXTRA_MAX_POINTS 16

enum field_type {
    FIELD_U8,
    FIELD_U16,
    FIELD_U32,
    FIELD_U64,
    FIELD_S8,
    FIELD_S16,
    FIELD_S32,
    FIELD_S64,
    FIELD_BOOL,
    FIELD_IPV4,
    FIELD_IPV6,
    FIELD_STRING,
};

/* Name, C declaration, size, alignment (as clang lays out the struct). */
static const struct {
    const char *name;
    const char *ctype;
    size_t size;
    size_t align;
} field_types[] = {
    [FIELD_U8] = {"u8", "__u8", 1, 1},      [FIELD_U16] = {"u16", "__u16", 2, 2},
    [FIELD_U32] = {"u32", "__u32", 4, 4},   [FIELD_U64] = {"u64", "__u64", 8, 8},
    [FIELD_S8] = {"s8", "__s8", 1, 1},      [FIELD_S16] = {"s16", "__s16", 2, 2},
    [FIELD_S32] = {"s32", "__s32", 4, 4},   [FIELD_S64] = {"s64", "__s64", 8, 8},
    [FIELD_BOOL] = {"bool", "__u8", 1, 1},  [FIELD_IPV4] = {"ipv4", "__u8", 4, 1},
    [FIELD_IPV6] = {"ipv6", "__u8", 16, 1}, [FIELD_STRING] = {"string", "char", 0, 1},
};

struct extra_field {
    char *name;
    enum field_type type;
    size_t size;
    size_t offset;
};

struct extra_desc {
    struct extra_field fields[EXTRA_MAX_FIELDS];
    size_t n_fields;
    struct probe_option *settings; /* the probe's schema; names owned */
    size_t n_settings;
    struct probe_attach_point points[2][EXTRA_MAX_POINTS]; /* tracepoint, kprobe */
    size_t n_points[2];
    size_t record_size;
    char *strings[2 * EXTRA_MAX_POINTS * 2 + 2]; /* owned target/program names */
    size_t n_strings;
};

/* Field names the daemon itself writes. */
static const char *const reserved_fields[] = {"timestamp", "probe", "pid", "proctree",
                                              "error",     "type",  NULL};
static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* Targets and program names go into attach calls, never into C. */
static bool target_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '/' || *s == '.'))
            return false;
    return true;
}

/* A tracepoint's category and name also become C identifiers (BCC's
 * struct tracepoint__CAT__NAME). */
static bool tracepoint_valid(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || strchr(slash + 1, '/') || !target_valid(s) || strchr(s, '.'))
        return false;
    return probe_schema_identifier(slash + 1) || (slash[1] >= '0' && slash[1] <= '9');
}

static char *desc_strdup(struct extra_desc *d, const char *s)
{
    if (d->n_strings == sizeof(d->strings) / sizeof(d->strings[0]))
        return NULL;
    return d->strings[d->n_strings++] = strdup(s);
}

static int parse_field_type(const char *name, enum field_type *out)
{
    for (size_t i = 0; i < sizeof(field_types) / sizeof(field_types[0]); i++)
        if (strcmp(field_types[i].name, name) == 0) {
            *out = (enum field_type)i;
            return 0;
        }
    return -EINVAL;
}

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static int parse_field(struct extra_desc *d, const json_t *f, size_t i, const char *origin,
                       struct pt_error *err)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *type = json_string_value(json_object_get(f, "type"));
    struct extra_field *ef = &d->fields[d->n_fields];
    if (!json_is_object(f) || !probe_schema_identifier(name))
        return pt_error_set(err, EINVAL, origin, 0,
                            "fields[%zu].name: expected a lower-case identifier", i);
    if (in_list(reserved_fields, name))
        return pt_error_set(err, EINVAL, origin, 0,
                            "fields[%zu].name: '%s' is written by the daemon", i, name);
    for (size_t k = 0; k < d->n_fields; k++)
        if (strcmp(d->fields[k].name, name) == 0)
            return pt_error_set(err, EINVAL, origin, 0, "fields[%zu].name: '%s' is declared twice",
                                i, name);
    if (!type || parse_field_type(type, &ef->type) < 0)
        return pt_error_set(err, EINVAL, origin, 0,
                            "fields[%zu].type: expected one of u8 u16 u32 u64 s8 s16 s32 s64 bool "
                            "ipv4 ipv6 string",
                            i);
    ef->size = field_types[ef->type].size;
    if (ef->type == FIELD_STRING) {
        json_t *size = json_object_get(f, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 1 ||
            json_integer_value(size) > EXTRA_MAX_STRING)
            return pt_error_set(err, EINVAL, origin, 0,
                                "fields[%zu].size: a string needs a size of 1-%d bytes", i,
                                EXTRA_MAX_STRING);
        ef->size = (size_t)json_integer_value(size);
    }
    ef->offset = align_up(d->record_size, field_types[ef->type].align);
    d->record_size = ef->offset + ef->size;
    if (!(ef->name = strdup(name)))
        return pt_error_set(err, ENOMEM, origin, 0, "out of memory");
    d->n_fields++;
    return 0;
}

static int parse_fields(struct extra_desc *d, const json_t *fields, const char *origin,
                        struct pt_error *err)
{
    if (!json_is_array(fields) || json_array_size(fields) == 0 ||
        json_array_size(fields) > EXTRA_MAX_FIELDS)
        return pt_error_set(err, EINVAL, origin, 0, "fields: expected a list of 1-%d fields",
                            EXTRA_MAX_FIELDS);
    d->record_size = sizeof(struct pt_header);
    for (size_t i = 0; i < json_array_size(fields); i++) {
        int ret = parse_field(d, json_array_get(fields, i), i, origin, err);
        if (ret < 0)
            return ret;
    }
    /* The header's u64 makes the struct 8-aligned; clang pads its tail. */
    d->record_size = align_up(d->record_size, 8);
    return 0;
}

/* A uprobe's "BINARY:SYMBOL": an absolute path, or "{SETTING}" naming a
 * path setting, then a symbol. It reaches attach calls and the comment -p
 * prints, never C code; its characters are kept plain all the same. */
static bool uprobe_target_valid(const struct extra_desc *d, const char *s)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || !colon[1] || strlen(s) > PROBE_OPTION_STRING_MAX)
        return false;
    for (const char *c = colon + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '@'))
            return false;
    if (s[0] == '{') {
        char name[65];
        int len = (int)(colon - s) - 2;
        if (len < 1 || len > 64 || colon[-1] != '}')
            return false;
        snprintf(name, sizeof(name), "%.*s", len, s + 1);
        struct probe_schema schema = {d->settings, d->n_settings, true, false};
        int i = probe_schema_find(&schema, name);
        return i >= 0 && d->settings[i].type == POPT_PATH;
    }
    if (s[0] != '/')
        return false;
    for (const char *c = s; c < colon; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '/' || *c == '-' || *c == '+'))
            return false;
    return !strstr(s, "/*") && !strstr(s, "*/");
}

/* The tracepoint form holds tracepoints (the default), raw tracepoints,
 * cgroup socket hooks and uprobes; the kprobe form kprobes (the default),
 * kretprobes and uprobes. */
static int parse_kind(int form_index, const json_t *p, enum probe_attach_kind *kind)
{
    static const struct {
        const char *name;
        enum probe_attach_kind kind;
        int form; /* -1: either */
    } kinds[] = {
        {"tracepoint", PROBE_TRACEPOINT, 0}, {"kprobe", PROBE_KPROBE, 1},
        {"kretprobe", PROBE_KRETPROBE, 1},   {"uprobe", PROBE_UPROBE, -1},
        {"uretprobe", PROBE_URETPROBE, -1},  {"raw_tracepoint", PROBE_RAW_TRACEPOINT, 0},
        {"cgroup", PROBE_CGROUP, 0},
    };
    const char *k = json_string_value(json_object_get(p, "kind"));
    if (!k)
        k = form_index == 0 ? "tracepoint" : "kprobe";
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(k, kinds[i].name) == 0 && (kinds[i].form < 0 || kinds[i].form == form_index)) {
            *kind = kinds[i].kind;
            return 0;
        }
    return -EINVAL;
}

static bool point_target_valid(const struct extra_desc *d, enum probe_attach_kind kind,
                               const char *target)
{
    switch (kind) {
    case PROBE_TRACEPOINT:
    case PROBE_RAW_TRACEPOINT:
        return tracepoint_valid(target);
    case PROBE_CGROUP:
        return target && cgroup_hook_find(target) != NULL;
    case PROBE_UPROBE:
    case PROBE_URETPROBE:
        return uprobe_target_valid(d, target);
    default:
        return target_valid(target);
    }
}

static int parse_form(struct extra_desc *d, const json_t *attach, int form_index,
                      const char *origin, struct pt_error *err)
{
    static const char *const expected_target[] = {
        [PROBE_TRACEPOINT] = "category/name",
        [PROBE_RAW_TRACEPOINT] = "category/name",
        [PROBE_CGROUP] = "a cgroup socket hook (sock_release, post_bind4, post_bind6, bind4, "
                         "bind6, connect4, connect6, sendmsg4, sendmsg6, sock_ops)",
        [PROBE_KPROBE] = "a kernel function name",
        [PROBE_KRETPROBE] = "a kernel function name",
        [PROBE_UPROBE] = "BINARY:SYMBOL (BINARY an absolute path or {a path setting})",
        [PROBE_URETPROBE] = "BINARY:SYMBOL (BINARY an absolute path or {a path setting})",
    };
    const char *form = form_index == 0 ? "tracepoint" : "kprobe";
    const json_t *points = json_object_get(attach, form);
    if (!points)
        return 0;
    if (!json_is_array(points) || json_array_size(points) > EXTRA_MAX_POINTS)
        return pt_error_set(err, EINVAL, origin, 0,
                            "attach.%s: expected a list of at most %d attach points", form,
                            EXTRA_MAX_POINTS);
    for (size_t i = 0; i < json_array_size(points); i++) {
        const json_t *p = json_array_get(points, i);
        const char *target = json_string_value(json_object_get(p, "target"));
        const char *program = json_string_value(json_object_get(p, "program"));
        struct probe_attach_point *ap = &d->points[form_index][i];
        if (parse_kind(form_index, p, &ap->kind) < 0)
            return pt_error_set(err, EINVAL, origin, 0, "attach.%s[%zu].kind: expected %s", form, i,
                                form_index == 0
                                    ? "tracepoint, raw_tracepoint, cgroup, uprobe or uretprobe"
                                    : "kprobe, kretprobe, uprobe or uretprobe");
        if (!point_target_valid(d, ap->kind, target))
            return pt_error_set(err, EINVAL, origin, 0, "attach.%s[%zu].target: expected %s", form,
                                i, expected_target[ap->kind]);
        if (!probe_schema_identifier(program))
            return pt_error_set(err, EINVAL, origin, 0,
                                "attach.%s[%zu].program: expected the name of a function in the "
                                "template",
                                form, i);
        if (!(ap->target = desc_strdup(d, target)) || !(ap->function = desc_strdup(d, program)))
            return pt_error_set(err, ENOMEM, origin, 0, "out of memory");
        d->n_points[form_index]++;
    }
    return 0;
}

/* A setting becomes an entry of the probe's option schema: the config
 * module checks and types it as it does the built-ins' options. */
static int parse_setting(struct probe_option *s, const json_t *j, size_t i, const char *origin,
                         struct pt_error *err)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *def = json_object_get(j, "default");
    if (!probe_schema_identifier(name) || probe_schema_common_key(name))
        return pt_error_set(err, EINVAL, origin, 0,
                            "settings[%zu].name: expected an identifier not used by "
                            "every probe",
                            i);
    if (!type ||
        (strcmp(type, "int") != 0 && strcmp(type, "bool") != 0 && strcmp(type, "path") != 0))
        return pt_error_set(err, EINVAL, origin, 0,
                            "settings[%zu].type: expected int, bool or path", i);
    bool is_bool = strcmp(type, "bool") == 0, is_path = strcmp(type, "path") == 0;
    const char *path = json_string_value(def);
    if (is_path   ? !path || path[0] != '/' || strlen(path) > PROBE_OPTION_STRING_MAX
        : is_bool ? !json_is_boolean(def)
                  : !json_is_integer(def))
        return pt_error_set(err, EINVAL, origin, 0, "settings[%zu].default: expected %s", i,
                            is_path   ? "an absolute path"
                            : is_bool ? "a boolean"
                                      : "an integer");
    *s = (struct probe_option){.type = is_path   ? POPT_PATH
                                       : is_bool ? POPT_BOOL
                                                 : POPT_INT,
                               .min = LLONG_MIN,
                               .max = LLONG_MAX,
                               .def = is_bool ? json_is_true(def) : json_integer_value(def)};
    if ((is_path && !(s->def_str = strdup(path))) || !(s->name = strdup(name)))
        return pt_error_set(err, ENOMEM, origin, 0, "out of memory");
    return 0;
}

static int parse_settings(struct extra_desc *d, const json_t *settings, const char *origin,
                          struct pt_error *err)
{
    if (!settings)
        return 0;
    if (!json_is_array(settings))
        return pt_error_set(err, EINVAL, origin, 0, "settings: expected a list");
    d->settings = calloc(json_array_size(settings) + 1, sizeof(*d->settings));
    if (!d->settings)
        return pt_error_set(err, ENOMEM, origin, 0, "out of memory");
    for (size_t i = 0; i < json_array_size(settings); i++) {
        int ret = parse_setting(&d->settings[i], json_array_get(settings, i), i, origin, err);
        d->n_settings += d->settings[i].name != NULL;
        if (ret < 0)
            return ret;
    }
    char why[256];
    struct probe_schema schema = {d->settings, d->n_settings, true, false};
    if (probe_schema_check(&schema, why, sizeof(why)) < 0)
        return pt_error_set(err, EINVAL, origin, 0, "settings: %s", why);
    return 0;
}

static int parse_description(struct extra_desc *d, const json_t *desc, const char *origin,
                             struct pt_error *err)
{
    static const char *const keys[] = {"attach", "fields", "settings", "description", NULL};
    const char *key;
    json_t *value;
    if (!json_is_object(desc))
        return pt_error_set(err, EINVAL, origin, 0, "expected a mapping with attach and fields");
    json_object_foreach((json_t *)desc, key, value)
    {
        if (!in_list(keys, key))
            return pt_error_set(err, EINVAL, origin, 0,
                                "unknown key '%s' (expected attach, fields, settings, description)",
                                key);
    }
    const json_t *attach = json_object_get(desc, "attach");
    if (!json_is_object(attach))
        return pt_error_set(err, EINVAL, origin, 0,
                            "attach: expected a mapping with tracepoint and/or kprobe");
    int ret = parse_fields(d, json_object_get(desc, "fields"), origin, err);
    /* Settings first: a uprobe's target may name a path setting. */
    if (ret == 0)
        ret = parse_settings(d, json_object_get(desc, "settings"), origin, err);
    if (ret == 0)
        ret = parse_form(d, attach, 0, origin, err);
    if (ret == 0)
        ret = parse_form(d, attach, 1, origin, err);
    if (ret == 0 && d->n_points[0] + d->n_points[1] == 0)
        ret = pt_error_set(err, EINVAL, origin, 0,
                           "attach: no attach point in tracepoint or kprobe form");
    return ret;
}

/* ---- what the daemon calls through probe_ops ---- */

static int extra_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                 struct strbuf *out)
{
    const struct extra_desc *d = ops->desc;
    int ret = strbuf_printf(out, "struct %s_event {\n    struct pt_header h;\n", ops->name);
    for (size_t i = 0; ret == 0 && i < d->n_fields; i++) {
        const struct extra_field *f = &d->fields[i];
        bool array = f->type >= FIELD_IPV4;
        ret = array ? strbuf_printf(out, "    %s %s[%zu];\n", field_types[f->type].ctype, f->name,
                                    f->size)
                    : strbuf_printf(out, "    %s %s;\n", field_types[f->type].ctype, f->name);
    }
    if (ret == 0)
        ret = strbuf_puts(out, "};\n");
    /* The decoder reads at the offsets computed here: make clang agree. */
    for (size_t i = 0; ret == 0 && i < d->n_fields; i++)
        ret = strbuf_printf(out,
                            "_Static_assert(__builtin_offsetof(struct %s_event, %s) == %zu, "
                            "\"field layout\");\n",
                            ops->name, d->fields[i].name, d->fields[i].offset);
    if (ret == 0)
        ret = strbuf_printf(out, "_Static_assert(sizeof(struct %s_event) == %zu, \"size\");\n",
                            ops->name, d->record_size);
    /* The config module typed the values against the settings' schema. A
     * path is for attach targets, never pasted into C. */
    for (size_t i = 0; ret == 0 && i < d->n_settings; i++) {
        if (d->settings[i].type == POPT_PATH)
            continue;
        long long value = conf && i < conf->n_opts ? conf->opts[i].i : d->settings[i].def;
        ret = strbuf_printf(out, "#define PT_SETTING_%s %lldLL\n", d->settings[i].name, value);
    }
    return ret;
}

static json_t *field_value(const struct extra_field *f, const uint8_t *p)
{
    char buf[INET6_ADDRSTRLEN];
    union {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int8_t s8;
        int16_t s16;
        int32_t s32;
        int64_t s64;
    } v;
    memcpy(&v, p, f->size < sizeof(v) ? f->size : sizeof(v));
    switch (f->type) {
    case FIELD_U8:
        return json_integer(v.u8);
    case FIELD_U16:
        return json_integer(v.u16);
    case FIELD_U32:
        return json_integer(v.u32);
    /* JSON readers lose precision past 2^53 anyway; keep the bits. */
    case FIELD_U64:
        return json_integer((json_int_t)v.u64);
    case FIELD_S8:
        return json_integer(v.s8);
    case FIELD_S16:
        return json_integer(v.s16);
    case FIELD_S32:
        return json_integer(v.s32);
    case FIELD_S64:
        return json_integer(v.s64);
    case FIELD_BOOL:
        return json_boolean(v.u8);
    case FIELD_IPV4:
        return json_string(inet_ntop(AF_INET, p, buf, sizeof(buf)));
    case FIELD_IPV6:
        return json_string(probe_addr_format(AF_INET6, p, buf));
    case FIELD_STRING:
        return json_string_lossy((const char *)p, strnlen((const char *)p, f->size));
    }
    return NULL;
}

static int extra_decode(struct probe_instance *pi, const void *record, size_t size, json_t *event)
{
    const struct extra_desc *d = pi->ops->desc;
    for (size_t i = 0; i < d->n_fields; i++) {
        const struct extra_field *f = &d->fields[i];
        if (json_object_set_new(event, f->name,
                                field_value(f, (const uint8_t *)record + f->offset)))
            return -ENOMEM;
    }
    return 0;
}

static void desc_free(struct extra_desc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_fields; i++)
        free(d->fields[i].name);
    for (size_t i = 0; i < d->n_settings; i++) {
        free((char *)d->settings[i].name);
        free((char *)d->settings[i].def_str);
    }
    free(d->settings);
    for (size_t i = 0; i < d->n_strings; i++)
        free(d->strings[i]);
    free(d);
}

int extra_probe_from_json(const char *name, const json_t *desc, const char *template_path,
                          const char *origin, struct probe_ops *ops, struct pt_error *err)
{
    memset(ops, 0, sizeof(*ops));
    if (!probe_schema_identifier(name))
        return pt_error_set(err, EINVAL, origin, 0,
                            "'%s' is not a valid probe name (lower-case letters, digits, "
                            "_)",
                            name);
    struct extra_desc *d = calloc(1, sizeof(*d));
    if (!d)
        return pt_error_set(err, ENOMEM, origin, 0, "out of memory");
    int ret = parse_description(d, desc, origin, err);
    char *owned_name = ret == 0 ? strdup(name) : NULL;
    char *owned_template = owned_name ? strdup(template_path) : NULL;
    if (ret < 0 || !owned_template) {
        free(owned_name);
        desc_free(d);
        return ret < 0 ? ret : pt_error_set(err, ENOMEM, origin, 0, "out of memory");
    }
    *ops = (struct probe_ops){
        .name = owned_name,
        .template = owned_template,
        .tracepoint_form = {d->points[0], d->n_points[0]},
        .kprobe_form = {d->points[1], d->n_points[1]},
        .record_size = d->record_size,
        .schema = {d->settings, d->n_settings, true, false},
        .render_settings = extra_render_settings,
        .decode = extra_decode,
        .desc = d,
    };
    return 0;
}

int extra_probe_load(const char *dir, const char *name, struct probe_ops *ops, struct pt_error *err)
{
    char desc_path[PATH_MAX], template_path[PATH_MAX];
    if (snprintf(desc_path, sizeof(desc_path), "%s/%s.yml", dir, name) >= (int)sizeof(desc_path) ||
        snprintf(template_path, sizeof(template_path), "%s/%s.bpf.c", dir, name) >=
            (int)sizeof(template_path))
        return pt_error_set(err, ENAMETOOLONG, NULL, 0, "%s/%s: path too long", dir, name);
    if (access(template_path, R_OK) < 0)
        return pt_error_set(err, EINVAL, desc_path, 0, "the probe's template %s cannot be read: %s",
                            template_path, strerror(errno));
    json_t *desc = NULL;
    int ret = config_yaml_file_to_json(desc_path, &desc, err);
    if (ret < 0)
        return ret;
    ret = extra_probe_from_json(name, desc, template_path, desc_path, ops, err);
    json_decref(desc);
    return ret;
}

void extra_probe_release(struct probe_ops *ops)
{
    free((char *)ops->name);
    free((char *)ops->template);
    desc_free((struct extra_desc *)ops->desc);
    memset(ops, 0, sizeof(*ops));
}
