#include "json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"

void json_writer_init(struct json_writer *w, struct strbuf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static void put(struct json_writer *w, const char *s, size_t len)
{
    if (!w->error && strbuf_append(w->out, s, len) < 0)
        w->error = -ENOMEM;
}

/* The separator a value needs where it stands. */
static void value_begin(struct json_writer *w)
{
    if (w->after_name) {
        w->after_name = false;
        return;
    }
    if (w->need_comma[w->depth])
        put(w, ",", 1);
    w->need_comma[w->depth] = true;
}

static void open_level(struct json_writer *w, char c)
{
    value_begin(w);
    put(w, &c, 1);
    if (w->depth == JSON_WRITER_MAX_DEPTH) {
        if (!w->error)
            w->error = -E2BIG;
        return;
    }
    w->need_comma[++w->depth] = false;
}

static void close_level(struct json_writer *w, char c)
{
    put(w, &c, 1);
    if (w->depth > 0)
        w->depth--;
}

void json_writer_start_object(struct json_writer *w)
{
    open_level(w, '{');
}

void json_writer_end_object(struct json_writer *w)
{
    close_level(w, '}');
}

void json_writer_start_array(struct json_writer *w)
{
    open_level(w, '[');
}

void json_writer_end_array(struct json_writer *w)
{
    close_level(w, ']');
}

/* Bytes that need a look: control characters, '"', '\\' and the start
 * of multi-byte UTF-8. Everything else is copied in runs. */
static bool needs_care(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

static void put_escaped(struct json_writer *w, const unsigned char *s, size_t len)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t run = 0; /* bytes before s[i] not yet written */
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (!needs_care(c)) {
            run++;
            i++;
            continue;
        }
        const char *esc = NULL;
        char seq[8];
        size_t n = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20)
            snprintf(seq, sizeof(seq), "\\u%04X", c), esc = seq;
        else if (c >= 0x80 && (n = utf8_sequence_length(s + i, len - i)) == 0)
            esc = replacement, n = 1;
        if (esc) {
            put(w, (const char *)s + i - run, run);
            put(w, esc, strlen(esc));
            run = 0;
        } else {
            run += n;
        }
        i += n;
    }
    put(w, (const char *)s + len - run, run);
}

void json_writer_name(struct json_writer *w, const char *name)
{
    value_begin(w);
    put(w, "\"", 1);
    put_escaped(w, (const unsigned char *)name, strlen(name));
    put(w, "\":", 2);
    w->after_name = true;
}

void json_writer_string(struct json_writer *w, const char *bytes, size_t len)
{
    value_begin(w);
    put(w, "\"", 1);
    put_escaped(w, (const unsigned char *)bytes, len);
    put(w, "\"", 1);
}

void json_writer_cstring(struct json_writer *w, const char *s)
{
    json_writer_string(w, s, strlen(s));
}

void json_writer_uint(struct json_writer *w, uint64_t v)
{
    char num[24];
    value_begin(w);
    put(w, num, (size_t)snprintf(num, sizeof(num), "%" PRIu64, v));
}

void json_writer_int(struct json_writer *w, int64_t v)
{
    char num[24];
    value_begin(w);
    put(w, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, v));
}

void json_writer_bool(struct json_writer *w, bool v)
{
    value_begin(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_writer_raw(struct json_writer *w, const char *text, size_t len)
{
    value_begin(w);
    put(w, text, len);
}

/* Reals and null as jansson writes them. */
static void put_scalar(struct json_writer *w, const json_t *v)
{
    char text[64];
    size_t n = json_dumpb(v, text, sizeof(text), JSON_ENCODE_ANY | JSON_COMPACT);
    if (n == 0 || n > sizeof(text)) {
        if (!w->error)
            w->error = -EINVAL;
        return;
    }
    json_writer_raw(w, text, n);
}

void json_writer_value(struct json_writer *w, const json_t *v)
{
    const char *key;
    json_t *member;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_writer_start_object(w);
        json_object_foreach((json_t *)v, key, member)
        {
            json_writer_name(w, key);
            json_writer_value(w, member);
        }
        json_writer_end_object(w);
        break;
    case JSON_ARRAY:
        json_writer_start_array(w);
        json_array_foreach(v, i, member) json_writer_value(w, member);
        json_writer_end_array(w);
        break;
    case JSON_STRING:
        json_writer_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        json_writer_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        json_writer_bool(w, json_is_true(v));
        break;
    default:
        put_scalar(w, v);
        break;
    }
}

int json_writer_error(const struct json_writer *w)
{
    return w->error;
}
