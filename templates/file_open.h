/* file_open.h: the file_open probe's event and its path-prefix map key,
 * shared by its template and its decoder (probes/file_open.c). */
#ifndef PIDTREE_FILE_OPEN_H
#define PIDTREE_FILE_OPEN_H

/* A path as the process passed it, up to this many bytes with its NUL;
 * longer ones are cut and marked. A power of two: the template masks with
 * it. */
#define PT_FILE_OPEN_PATH_MAX 512
/* Prefixes are compared on a path's first bytes, at most this many (the
 * kernel's limit on an LPM trie key). */
#define PT_FILE_OPEN_PREFIX_MAX 256
/* Include and exclude prefixes, and the default entry. */
#define PT_FILE_OPEN_PREFIXES 1024

/* What the longest matching prefix says. */
enum pt_file_open_verdict {
    PT_FILE_OPEN_REPORT = 1,
    PT_FILE_OPEN_DROP = 2,
};

/* An LPM trie key: prefix_bits then the bytes. The event below holds one
 * at path_bits, so a path read once is also the key it is looked up by. */
struct pt_file_open_key {
    __u32 prefix_bits;
    char prefix[PT_FILE_OPEN_PREFIX_MAX];
};

struct pt_file_open_event {
    struct pt_header h;
    __s32 ret;   /* the new fd, or -errno */
    __u32 flags; /* O_* as the process passed them */
    __u32 mode;
    __u16 path_len; /* bytes in path, without its NUL */
    __u8 cut;       /* the path was longer than PT_FILE_OPEN_PATH_MAX - 1 */
    __u8 pad;
    __u32 path_bits; /* 8 * the bytes of path prefixes are compared on */
    char path[PT_FILE_OPEN_PATH_MAX];
};

#endif
