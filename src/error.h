#ifndef PIDTREE_ERROR_H
#define PIDTREE_ERROR_H
/* error: the project's one error convention.
 *
 * A function that can fail returns 0 (or a count) on success and a negative
 * errno on failure; when it fails it describes the cause in a struct
 * pt_error: where (file and line, when the fault is in an input file) and
 * what. The first error recorded wins: a later failure while unwinding
 * (closing, freeing, a fallback that also failed) must not overwrite the
 * cause the user needs to see. */

#include <stddef.h>

struct pt_error {
    char file[512]; /* input file at fault, "" when none */
    int line;       /* 1-based line in `file`, 0 when unknown */
    char msg[1024]; /* e.g. "tcp_connect.filters[1].network_mask: '255.0.255.0' is not a
                       contiguous mask" */
};

/* Records the error unless one is already recorded, and returns -errnum
 * (errnum is a positive errno such as EINVAL). `file` may be NULL. errno is
 * preserved, so callers may pass errno after formatting calls. */
__attribute__((format(printf, 5, 6))) int
pt_error_set(struct pt_error *err, int errnum, const char *file, int line, const char *fmt, ...);

/* True once an error is recorded. */
int pt_error_is_set(const struct pt_error *err);

/* Forgets the recorded error. */
void pt_error_clear(struct pt_error *err);

/* Formats an error as "FILE:LINE: MSG", "FILE: MSG" or "MSG". */
void pt_error_format(const struct pt_error *err, char *buf, size_t len);

/* A list of non-fatal findings (a key that is ignored, a duplicate key whose
 * last value is taken), each with where it is. Loaders append to it; the
 * daemon prints them as warnings, or refuses the input in strict mode. */
struct pt_diags {
    struct pt_error *items;
    size_t n;
    size_t cap;
    /* Findings past PT_DIAGS_MAX are counted, not kept: a hostile file with
     * a million duplicate keys must not take a gigabyte of warnings. */
    size_t n_more;
};

#define PT_DIAGS_MAX 100

/* Appends one finding (or counts it in n_more past PT_DIAGS_MAX); returns 0
 * or -ENOMEM. */
__attribute__((format(printf, 4, 5))) int pt_diags_add(struct pt_diags *d, const char *file,
                                                       int line, const char *fmt, ...);

void pt_diags_free(struct pt_diags *d);

#endif
