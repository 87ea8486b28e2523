/* kernel_layout: where the running kernel keeps the struct fields the
 * templates read, from its own BTF (kernel_btf), read once per process.
 *
 * Reading /sys/kernel/btf/vmlinux costs tens of milliseconds of start-up
 * (5.5 MB, which sysfs hands out 4 KB per read), so every field any part
 * of the daemon needs is listed here and resolved in one pass, the first
 * time one is asked for.
 */
#ifndef PIDTREE_KERNEL_LAYOUT_H
#define PIDTREE_KERNEL_LAYOUT_H

#include <stdbool.h>

enum kernel_field {
    /* The process lifecycle's programs. */
    KF_TASK_LOGINUID,
    KF_TASK_MM,
    KF_MM_ARG_START,
    KF_MM_ARG_END,
    KF_TASK_THREAD_PID,
    KF_PID_LEVEL,
    KF_PID_NUMBERS,
    KF_UPID_SIZE, /* the size of struct upid */
    /* From a descriptor to its socket (tcp_accept). */
    KF_TASK_FILES,
    KF_FILES_FDT,
    KF_FDT_MAX_FDS,
    KF_FDT_FD,
    KF_FILE_PRIVATE_DATA,
    KF_SOCKET_TYPE,
    KF_SOCKET_SK,
    /* A sock's IPv6 addresses and protocol (the socket probes). */
    KF_SKC_V6_DADDR,
    KF_SKC_V6_RCV_SADDR,
    KF_SK_PROTOCOL,
    KF_COUNT
};

/* The BTF file read: $PIDTREE_KERNEL_BTF when set (a kernel built without
 * BTF can be described by a file from elsewhere; the tests name a missing
 * file to run the templates' fallbacks), else KERNEL_BTF_PATH. */
const char *kernel_layout_path(void);

/* The field's byte offset (>= 0), or a negative errno: -ENOENT when the
 * kernel has no such field, -ENOTSUP when it is a bitfield (sk_protocol
 * before 5.6), or the error reading the BTF. */
long kernel_layout_offset(enum kernel_field field);

/* "struct.member" (or "struct" for a size), for messages. */
const char *kernel_layout_name(enum kernel_field field);

/* True when every field in `fields` has an offset. */
bool kernel_layout_all(const enum kernel_field *fields, int n);

#endif
