/* json_writer: a streaming JSON writer into a strbuf, as bpftool's
 * json_writer.c: values are written as they come, commas and escaping are
 * the writer's business, and no tree is built.
 *
 * Every line the daemon writes goes through it, including events whose
 * jansson tree a plugin changed (json_writer_value walks the tree), so the
 * two are byte for byte the same for the same event. Strings are bytes: an
 * invalid UTF-8 sequence becomes U+FFFD; escaping is jansson's compact form
 * (", \, \b \f \n \r \t, other controls as \u00XX, '/' and non-ASCII kept).
 * Errors (ENOMEM, nesting past JSON_WRITER_MAX_DEPTH) are sticky: check
 * json_writer_error() once at the end.
 */
#ifndef PIDTREE_JSON_WRITER_H
#define PIDTREE_JSON_WRITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define JSON_WRITER_MAX_DEPTH 64

struct json_writer {
    struct strbuf *out;
    int error; /* the first negative errno */
    unsigned depth;
    bool need_comma[JSON_WRITER_MAX_DEPTH + 1];
    bool after_name;
};

/* Appends to `out` (which it does not reset). */
void json_writer_init(struct json_writer *w, struct strbuf *out);

void json_writer_start_object(struct json_writer *w);
void json_writer_end_object(struct json_writer *w);
void json_writer_start_array(struct json_writer *w);
void json_writer_end_array(struct json_writer *w);
/* The name of the next member of the current object. */
void json_writer_name(struct json_writer *w, const char *name);

void json_writer_string(struct json_writer *w, const char *bytes, size_t len);
void json_writer_cstring(struct json_writer *w, const char *s);
void json_writer_uint(struct json_writer *w, uint64_t v);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_bool(struct json_writer *w, bool v);
/* A value already serialised by this writer (a cached tree entry). */
void json_writer_raw(struct json_writer *w, const char *text, size_t len);
/* Any jansson value, members in their order. */
void json_writer_value(struct json_writer *w, const json_t *v);

/* 0, or the first negative errno. */
int json_writer_error(const struct json_writer *w);

#endif
