/* output: where JSON lines go (stdout, a file, a FIFO), whole lines only.
 *
 * Lines are buffered and written in batches: the event loop flushes before
 * it sleeps, so a burst costs a few write()s instead of one per event, and
 * nothing waits in the buffer while the daemon is idle.
 *
 * The output never blocks the daemon: a pipe or FIFO is written without
 * blocking (a stopped reader must not keep SIGTERM from being handled), and
 * what cannot be written yet waits in a bounded buffer. A line that does not
 * fit in it is dropped and counted, by tag (the daemon tags lines with their
 * probe id), so "written" counts only lines that reached the output.
 *
 * A file never holds a partial line: a short write (a full disk) is cut back
 * to the last whole line, and the cut lines wait for the next flush; at open,
 * a file whose last line was cut by an earlier run gets its newline first.
 *
 * -f is opened as root in places users can write to, so the open refuses a
 * symlink (O_NOFOLLOW, for the file and its directory), a file owned by
 * another user in a directory others can write to, and a directory others
 * can write to without the sticky bit (anyone could swap the file). New
 * files are created 0600: the lines name every user's commands.
 */
#ifndef PIDTREE_OUTPUT_H
#define PIDTREE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strbuf.h"

#define OUTPUT_MAX_TAGS 64
/* What waits for a slow reader or a full disk before lines are dropped. */
#define OUTPUT_MAX_BUFFERED (16u * 1024 * 1024)

struct output_mark {
    size_t end; /* offset in buf just past the line's '\n' */
    uint8_t tag;
};

enum output_kind { OUTPUT_FILE, OUTPUT_PIPE, OUTPUT_SOCKET, OUTPUT_OTHER };

struct output {
    int fd;
    int owns_fd;
    enum output_kind kind;
    char *path;
    struct strbuf buf;
    /* One per line in buf, in order. A pipe that took part of the first
     * line holds only its rest: that line is never dropped. */
    struct output_mark *marks;
    size_t n_marks, cap_marks;
    size_t flush_threshold;
    size_t max_buffered;
    unsigned long long lines; /* lines written in full */
    unsigned long long written[OUTPUT_MAX_TAGS];
    unsigned long long dropped[OUTPUT_MAX_TAGS];
    unsigned long long dropped_total;
    int stalled; /* the positive errno that stops writing now (EAGAIN, ENOSPC), or 0 */
};

/* "-" is stdout. A FIFO blocks here until a reader opens it. Returns 0 or a
 * negative errno, described in `err`. */
int output_open(struct output *out, const char *path, struct pt_error *err);

/* Same, on an fd the caller opened (tests); the output does not close it. */
int output_open_fd(struct output *out, int fd);

/* Appends one line (a newline is added) tagged `tag`. Flushes when the
 * buffer is full. Returns 0 (the line is buffered, or dropped and counted
 * when the buffer is at its bound), or a negative errno when the output is
 * broken for good (-EPIPE: the reader went away). */
int output_line(struct output *out, unsigned tag, const char *line, size_t len);

/* Writes what the output takes now without blocking. Returns 0 (written, or
 * kept for later when the reader is slow or the disk full: see `stalled`),
 * or a negative errno when the output is broken for good. */
int output_flush(struct output *out);

/* Lines still waiting; output_drop_pending counts them as dropped (at exit,
 * when the reader never came back). */
size_t output_pending(const struct output *out);
void output_drop_pending(struct output *out);

void output_close(struct output *out);

#endif
