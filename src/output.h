/* output: where JSON lines go (stdout, a file, a FIFO).
 *
 * Lines are buffered and written in batches: the event loop flushes before
 * it sleeps, so a burst costs a few write()s instead of one per event, and
 * nothing waits in the buffer while the daemon is idle.
 */
#ifndef PIDTREE_OUTPUT_H
#define PIDTREE_OUTPUT_H

#include <stddef.h>

#include "strbuf.h"

struct output {
    int fd;
    int owns_fd;
    char *path;
    struct strbuf buf;
    size_t flush_threshold;
    unsigned long long lines;
};

/* "-" is stdout. A FIFO blocks here until a reader opens it. Returns 0 or a
 * negative errno with a message. */
int output_open(struct output *out, const char *path, char *err, size_t errlen);

/* Appends one line (a newline is added). Flushes when the buffer is full.
 * Returns 0, or a negative errno when writing failed (-EPIPE: the reader
 * went away). */
int output_line(struct output *out, const char *line, size_t len);

/* Writes everything buffered. Returns 0 or a negative errno. */
int output_flush(struct output *out);

void output_close(struct output *out);

#endif
