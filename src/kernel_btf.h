/* kernel_btf: where a field sits in the running kernel's structs.
 *
 * The templates compile against whatever kernel headers are installed,
 * which need not be the running kernel's (Debian's 6.1 headers on a 6.18
 * kernel): a field read through those headers may be read at the wrong
 * offset. The kernel describes its own layout in BTF
 * (/sys/kernel/btf/vmlinux); the daemon takes the offset from there and
 * hands it to the template as a constant.
 */
#ifndef PIDTREE_KERNEL_BTF_H
#define PIDTREE_KERNEL_BTF_H

#include <stddef.h>

/* The kernel's own BTF. */
#define KERNEL_BTF_PATH "/sys/kernel/btf/vmlinux"

/* The byte offset of `member` in `struct struct_name` as BTF blob `data`
 * describes it (with `member` NULL: the struct's size). Returns the offset
 * (>= 0), -ENOENT when the struct or the member is not there, -EINVAL when
 * the blob is malformed, -ENOTSUP when the member is a bitfield. */
long kernel_btf_member_offset(const void *data, size_t len, const char *struct_name,
                              const char *member);

/* The same, reading the BTF file at `path`. Also returns a negative errno
 * when the file cannot be read. */
long kernel_btf_file_member_offset(const char *path, const char *struct_name, const char *member);

/* Several at once, the file read once (it is megabytes, and parsing it per
 * question costs start-up time): each query's `result` gets the member's
 * offset, or with `member` NULL the struct's size, or a negative errno. */
struct kernel_btf_query {
    const char *struct_name;
    const char *member; /* NULL: the struct's size */
    long result;
};
void kernel_btf_file_query(const char *path, struct kernel_btf_query *queries, size_t n);

#endif
