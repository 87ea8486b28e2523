#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int strbuf_reserve(struct strbuf *sb, size_t extra)
{
    if (sb->cap - sb->len > extra)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap - sb->len <= extra) {
        if (cap > ((size_t)-1) / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *data = realloc(sb->data, cap);
    if (!data)
        return -ENOMEM;
    sb->data = data;
    sb->cap = cap;
    return 0;
}

int strbuf_append(struct strbuf *sb, const char *data, size_t len)
{
    if (strbuf_reserve(sb, len) < 0)
        return -ENOMEM;
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
    return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
    return strbuf_append(sb, s, strlen(s));
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
    return 0;
}

char *strbuf_detach(struct strbuf *sb)
{
    char *data = sb->data;
    if (!data)
        data = calloc(1, 1);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return data;
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

int strbuf_read_file(struct strbuf *sb, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int ret = 0;
    for (;;) {
        if (strbuf_reserve(sb, 4096) < 0) {
            ret = -ENOMEM;
            break;
        }
        ssize_t n = read(fd, sb->data + sb->len, sb->cap - sb->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            break;
        }
        if (n == 0)
            break;
        sb->len += (size_t)n;
        sb->data[sb->len] = '\0';
    }
    close(fd);
    return ret;
}
