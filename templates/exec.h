/* exec.h: the exec probe's own record, shared by its template and its
 * decoder (probes/exec.c). Successful execs need no record of their own:
 * the process lifecycle's (struct pt_exec_event) is reported. */
#ifndef PIDTREE_EXEC_H
#define PIDTREE_EXEC_H

/* An exec that failed (include_failed): sent with only as many bytes of
 * `filename` as it holds, and its NUL. */
struct pt_exec_failed_event {
    struct pt_header h;
    __s32 ret;          /* -errno */
    __u32 filename_len; /* bytes in filename, without its NUL */
    char filename[PT_FILENAME_MAX];
};

#endif
