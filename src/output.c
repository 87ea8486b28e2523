#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void output_init(struct output *out, int fd)
{
    memset(out, 0, sizeof(*out));
    out->fd = fd;
    out->flush_threshold = 64 * 1024;
    out->max_buffered = OUTPUT_MAX_BUFFERED;
}

/* Pipes and FIFOs are written without blocking. For our own fd that is one
 * fcntl; stdout's file description is shared with whoever started us, so a
 * pipe there is reopened through /proc (a new description of the same pipe)
 * and a socket is written with MSG_DONTWAIT. */
static int output_set_kind(struct output *out, const struct stat *st)
{
    if (S_ISREG(st->st_mode)) {
        out->kind = OUTPUT_FILE;
    } else if (S_ISSOCK(st->st_mode)) {
        out->kind = OUTPUT_SOCKET;
    } else if (S_ISFIFO(st->st_mode)) {
        out->kind = OUTPUT_PIPE;
        if (!out->owns_fd) {
            int fd = open("/proc/self/fd/1", O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                return -errno;
            out->fd = fd;
            out->owns_fd = 1;
        }
        int flags = fcntl(out->fd, F_GETFL);
        if (flags < 0 || fcntl(out->fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return -errno;
    } else {
        out->kind = OUTPUT_OTHER;
    }
    return 0;
}

/* A file whose last line an earlier run could not finish (a full disk, a
 * crash) gets its newline, so the next line starts whole. */
static int output_end_line(struct output *out, const struct stat *st)
{
    char last, self[64];
    if (out->kind != OUTPUT_FILE || st->st_size == 0)
        return 0;
    /* Our fd is write-only; read the same file through a second one. */
    snprintf(self, sizeof(self), "/proc/self/fd/%d", out->fd);
    int rfd = open(self, O_RDONLY | O_CLOEXEC);
    if (rfd < 0)
        return -errno;
    ssize_t n = pread(rfd, &last, 1, st->st_size - 1);
    int e = errno;
    close(rfd);
    if (n != 1)
        return n < 0 ? -e : -EIO;
    if (last == '\n')
        return 0;
    return write(out->fd, "\n", 1) == 1 ? 0 : -errno;
}

/* Refuses what would let a user choose the file root writes: see the
 * header. The same rule as logrotate's "insecure permissions" check. */
static int output_check_place(int dirfd, const struct stat *file, const char *path,
                              struct pt_error *err)
{
    struct stat dir;
    if (fstat(dirfd, &dir) < 0)
        return pt_error_set(err, errno, NULL, 0, "-f %s: cannot stat its directory: %s", path,
                            strerror(errno));
    bool shared = (dir.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (shared && !(dir.st_mode & S_ISVTX))
        return pt_error_set(err, EPERM, NULL, 0,
                            "-f %s: its directory is writable by other users without the sticky "
                            "bit: anyone could replace the file",
                            path);
    if (shared && file->st_uid != geteuid())
        return pt_error_set(err, EPERM, NULL, 0,
                            "-f %s: owned by uid %u in a directory other users can write to: "
                            "refusing to write events to it",
                            path, (unsigned)file->st_uid);
    return 0;
}

static int output_open_path(struct output *out, const char *path, struct pt_error *err)
{
    char dir[PATH_MAX], base[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return pt_error_set(err, ENAMETOOLONG, NULL, 0, "-f %s: path too long", path);
    memcpy(base, dir, sizeof(base));
    int dirfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return pt_error_set(err, errno, NULL, 0, "cannot open output file %s: its directory: %s",
                            path, errno == ELOOP ? "is a symlink" : strerror(errno));
    /* The FIFO open blocks until a reader comes, as before. */
    int fd = openat(dirfd, basename(base),
                    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    int ret = 0, e = errno;
    struct stat st;
    /* O_NOFOLLOW gives ELOOP, or EACCES where the kernel's sticky-directory
     * guard sees the symlink first: say which. */
    bool symlink = fd < 0 && fstatat(dirfd, basename(base), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                   S_ISLNK(st.st_mode);
    if (fd < 0)
        ret =
            pt_error_set(err, e, NULL, 0, "cannot open output file %s: %s", path,
                         symlink ? "it is a symlink (refused: -f never follows one)" : strerror(e));
    else if (fstat(fd, &st) < 0)
        ret = pt_error_set(err, errno, NULL, 0, "cannot stat output file %s: %s", path,
                           strerror(errno));
    else
        ret = output_check_place(dirfd, &st, path, err);
    close(dirfd);
    if (ret < 0) {
        if (fd >= 0)
            close(fd);
        return ret;
    }
    out->fd = fd;
    out->owns_fd = 1;
    if ((ret = output_set_kind(out, &st)) < 0 || (ret = output_end_line(out, &st)) < 0)
        return pt_error_set(err, -ret, NULL, 0, "cannot prepare output file %s: %s", path,
                            strerror(-ret));
    return 0;
}

int output_open(struct output *out, const char *path, struct pt_error *err)
{
    output_init(out, -1);
    int ret;
    if (strcmp(path, "-") == 0) {
        struct stat st;
        out->fd = STDOUT_FILENO;
        ret = fstat(out->fd, &st) < 0 ? -errno : output_set_kind(out, &st);
        if (ret < 0)
            pt_error_set(err, -ret, NULL, 0, "cannot use stdout as the output: %s", strerror(-ret));
    } else {
        ret = output_open_path(out, path, err);
    }
    if (ret == 0 && !(out->path = strdup(path)))
        ret = pt_error_set(err, ENOMEM, NULL, 0, "out of memory");
    if (ret < 0)
        output_close(out);
    return ret;
}

int output_open_fd(struct output *out, int fd)
{
    struct stat st;
    output_init(out, fd);
    if (fstat(fd, &st) < 0)
        return -errno;
    out->owns_fd = 1; /* so a pipe keeps this fd rather than reopening stdout */
    int ret = output_set_kind(out, &st);
    out->owns_fd = 0;
    return ret;
}

static ssize_t output_write(struct output *out, const char *data, size_t len)
{
    if (out->kind == OUTPUT_SOCKET)
        return send(out->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(out->fd, data, len);
}

/* Errors after which a later write may succeed: the reader is slow, the disk
 * is full. The lines wait (within the bound); anything else is fatal. */
static bool transient(int e)
{
    return e == EAGAIN || e == ENOSPC || e == EDQUOT;
}

/* A file keeps whole lines only: the bytes of a line cut short are cut
 * from the file, and the line stays buffered. */
static size_t output_cut_partial(struct output *out, size_t off, size_t whole)
{
    if (off == whole || out->kind != OUTPUT_FILE)
        return off;
    off_t end = lseek(out->fd, 0, SEEK_END);
    if (end >= 0 && ftruncate(out->fd, end - (off_t)(off - whole)) == 0)
        return whole;
    return off; /* cannot cut: the rest of the line must follow it */
}

/* Drops `off` written bytes from the front, counting the lines they ended. */
static void output_consume(struct output *out, size_t off)
{
    size_t done = 0;
    while (done < out->n_marks && out->marks[done].end <= off) {
        out->written[out->marks[done].tag]++;
        out->lines++;
        done++;
    }
    /* Nothing written (an empty output has NULL buffers): pointer
     * arithmetic on NULL is undefined even by 0 (found by fuzz_records). */
    if (off == 0)
        return;
    memmove(out->marks, out->marks + done, (out->n_marks - done) * sizeof(*out->marks));
    out->n_marks -= done;
    for (size_t i = 0; i < out->n_marks; i++)
        out->marks[i].end -= off;
    memmove(out->buf.data, out->buf.data + off, out->buf.len - off);
    out->buf.len -= off;
    if (out->buf.data)
        out->buf.data[out->buf.len] = '\0';
}

int output_flush(struct output *out)
{
    size_t off = 0;
    int e = 0;
    while (off < out->buf.len) {
        ssize_t n = output_write(out, out->buf.data + off, out->buf.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            break;
        }
        off += (size_t)n;
    }
    size_t whole = 0;
    for (size_t i = 0; i < out->n_marks && out->marks[i].end <= off; i++)
        whole = out->marks[i].end;
    off = output_cut_partial(out, off, whole);
    output_consume(out, off);
    out->stalled = e && transient(e) ? e : 0;
    return e && !transient(e) ? -e : 0;
}

int output_line(struct output *out, unsigned tag, const char *line, size_t len)
{
    tag = tag < OUTPUT_MAX_TAGS ? tag : OUTPUT_MAX_TAGS - 1;
    if (out->buf.len + len + 1 > out->max_buffered) {
        int ret = output_flush(out);
        if (ret < 0)
            return ret;
        if (out->buf.len + len + 1 > out->max_buffered) {
            out->dropped[tag]++;
            out->dropped_total++;
            return 0;
        }
    }
    if (out->n_marks == out->cap_marks) {
        size_t cap = out->cap_marks ? out->cap_marks * 2 : 256;
        struct output_mark *m = realloc(out->marks, cap * sizeof(*m));
        if (!m)
            return -ENOMEM;
        out->marks = m;
        out->cap_marks = cap;
    }
    if (strbuf_reserve(&out->buf, len + 1) < 0)
        return -ENOMEM;
    strbuf_append(&out->buf, line, len);
    strbuf_append(&out->buf, "\n", 1);
    out->marks[out->n_marks++] = (struct output_mark){out->buf.len, (uint8_t)tag};
    if (out->buf.len >= out->flush_threshold && !out->stalled)
        return output_flush(out);
    return 0;
}

size_t output_pending(const struct output *out)
{
    return out->n_marks;
}

void output_drop_pending(struct output *out)
{
    for (size_t i = 0; i < out->n_marks; i++)
        out->dropped[out->marks[i].tag]++;
    out->dropped_total += out->n_marks;
    out->n_marks = 0;
    strbuf_reset(&out->buf);
}

void output_close(struct output *out)
{
    if (out->fd >= 0)
        output_flush(out);
    output_drop_pending(out);
    if (out->owns_fd && out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    free(out->path);
    out->path = NULL;
    free(out->marks);
    out->marks = NULL;
    out->n_marks = out->cap_marks = 0;
    strbuf_release(&out->buf);
}
