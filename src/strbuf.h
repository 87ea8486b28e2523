/* strbuf: a growable byte buffer, for rendering C and building lines. */
#ifndef PIDTREE_STRBUF_H
#define PIDTREE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
};

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Each returns 0 or -ENOMEM; on failure the buffer is unchanged. */
int strbuf_append(struct strbuf *sb, const char *data, size_t len);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_reserve(struct strbuf *sb, size_t extra);
/* Gives the buffer away (caller frees); the strbuf is left empty. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);

/* Reads a whole file into sb (appending). Returns 0 or a negative errno. */
int strbuf_read_file(struct strbuf *sb, const char *path);

#endif
