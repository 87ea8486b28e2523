#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int output_open(struct output *out, const char *path, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->flush_threshold = 64 * 1024;
    if (strcmp(path, "-") == 0) {
        out->fd = STDOUT_FILENO;
        return 0;
    }
    out->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open output file %s: %s", path, strerror(e));
        return -e;
    }
    out->owns_fd = 1;
    out->path = strdup(path);
    return 0;
}

int output_flush(struct output *out)
{
    size_t off = 0;
    while (off < out->buf.len) {
        ssize_t n = write(out->fd, out->buf.data + off, out->buf.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            /* Keep what was not written: a caller that retries loses nothing. */
            memmove(out->buf.data, out->buf.data + off, out->buf.len - off);
            out->buf.len -= off;
            return -e;
        }
        off += (size_t)n;
    }
    strbuf_reset(&out->buf);
    return 0;
}

int output_line(struct output *out, const char *line, size_t len)
{
    if (strbuf_reserve(&out->buf, len + 1) < 0)
        return -ENOMEM;
    strbuf_append(&out->buf, line, len);
    strbuf_append(&out->buf, "\n", 1);
    out->lines++;
    if (out->buf.len >= out->flush_threshold)
        return output_flush(out);
    return 0;
}

void output_close(struct output *out)
{
    output_flush(out);
    if (out->owns_fd && out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    free(out->path);
    out->path = NULL;
    strbuf_release(&out->buf);
}
