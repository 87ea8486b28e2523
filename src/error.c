#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pt_error_set(struct pt_error *err, int errnum, const char *file, int line, const char *fmt, ...)
{
    int saved = errno;
    if (err && !pt_error_is_set(err)) {
        snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
        err->line = line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
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
