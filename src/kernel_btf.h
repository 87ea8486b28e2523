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
 * the blob is malformed, -ENOTSUP when the member is a bitfield. Members of
 * anonymous structs and unions inside the struct are found as its own, at
 * their offset in it. */
long kernel_btf_member_offset(const void *data, size_t len, const char *struct_name,
                              const char *member);

/* Several offsets from the BTF file at `path`, read once: each query's
 * `offset` is set as kernel_btf_member_offset returns it (a negative errno
 * for every query when the file cannot be read, which is also returned). */
struct kernel_btf_query {
    const char *struct_name;
    const char *member; /* NULL: the struct's size */
    long offset;
};
int kernel_btf_file_member_offsets(const char *path, struct kernel_btf_query *queries, size_t n);

#endif
