#include "kernel_layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel_btf.h"

static struct kernel_btf_query layout[KF_COUNT] = {
    [KF_TASK_LOGINUID] = {"task_struct", "loginuid", 0},
    [KF_TASK_MM] = {"task_struct", "mm", 0},
    [KF_MM_ARG_START] = {"mm_struct", "arg_start", 0},
    [KF_MM_ARG_END] = {"mm_struct", "arg_end", 0},
    [KF_TASK_THREAD_PID] = {"task_struct", "thread_pid", 0},
    [KF_PID_LEVEL] = {"pid", "level", 0},
    [KF_PID_NUMBERS] = {"pid", "numbers", 0},
    [KF_UPID_SIZE] = {"upid", NULL, 0},
    [KF_TASK_FILES] = {"task_struct", "files", 0},
    [KF_FILES_FDT] = {"files_struct", "fdt", 0},
    [KF_FDT_MAX_FDS] = {"fdtable", "max_fds", 0},
    [KF_FDT_FD] = {"fdtable", "fd", 0},
    [KF_FILE_PRIVATE_DATA] = {"file", "private_data", 0},
    [KF_SOCKET_TYPE] = {"socket", "type", 0},
    [KF_SOCKET_SK] = {"socket", "sk", 0},
    [KF_SKC_V6_DADDR] = {"sock_common", "skc_v6_daddr", 0},
    [KF_SKC_V6_RCV_SADDR] = {"sock_common", "skc_v6_rcv_saddr", 0},
    [KF_SK_PROTOCOL] = {"sock", "sk_protocol", 0},
};

const char *kernel_layout_path(void)
{
    const char *env = getenv("PIDTREE_KERNEL_BTF");
    return env && *env ? env : KERNEL_BTF_PATH;
}

static void layout_read_once(void)
{
    static bool read;
    if (!read)
        kernel_btf_file_member_offsets(kernel_layout_path(), layout, KF_COUNT);
    read = true;
}

long kernel_layout_offset(enum kernel_field field)
{
    layout_read_once();
    return layout[field].offset;
}

const char *kernel_layout_name(enum kernel_field field)
{
    static char names[KF_COUNT][64];
    if (!names[field][0])
        snprintf(names[field], sizeof(names[field]), "%s%s%s", layout[field].struct_name,
                 layout[field].member ? "." : "", layout[field].member ? layout[field].member : "");
    return names[field];
}

bool kernel_layout_all(const enum kernel_field *fields, int n)
{
    for (int i = 0; i < n; i++)
        if (kernel_layout_offset(fields[i]) < 0)
            return false;
    return true;
}
