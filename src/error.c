#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void error_fill(struct pt_error *e, const char *file, int line, const char *fmt, va_list ap)
{
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int pt_error_set(struct pt_error *err, int errnum, const char *file, int line, const char *fmt, ...)
{
    int saved = errno;
    if (err && !pt_error_is_set(err)) {
        va_list ap;
        va_start(ap, fmt);
        error_fill(err, file, line, fmt, ap);
        va_end(ap);
    }
    errno = saved;
    return -(errnum > 0 ? errnum : EINVAL);
}

int pt_error_is_set(const struct pt_error *err)
{
    return err->msg[0] != '\0';
}

void pt_error_clear(struct pt_error *err)
{
    memset(err, 0, sizeof(*err));
}

void pt_error_format(const struct pt_error *err, char *buf, size_t len)
{
    if (err->line > 0)
        snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->msg);
    else if (err->file[0])
        snprintf(buf, len, "%s: %s", err->file, err->msg);
    else
        snprintf(buf, len, "%s", err->msg);
}

int pt_diags_add(struct pt_diags *d, const char *file, int line, const char *fmt, ...)
{
    if (d->n >= PT_DIAGS_MAX) {
        d->n_more++;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct pt_error *grown = realloc(d->items, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        d->items = grown;
        d->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    error_fill(&d->items[d->n++], file, line, fmt, ap);
    va_end(ap);
    return 0;
}

void pt_diags_free(struct pt_diags *d)
{
    free(d->items);
    memset(d, 0, sizeof(*d));
}
