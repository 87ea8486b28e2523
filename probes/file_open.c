/* file_open: opens, with the path as passed, the flags by name and the
 * result; path prefixes and switches decided in the kernel. */
#include <bcc/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "file_open_flags.h"
#include "jsonutil.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "strbuf.h"
#include "templates/file_open.h"

/* Options, in the order of conf->opts. */
enum { FO_INCLUDE_PATHS, FO_EXCLUDE_PATHS, FO_WRITE_ONLY, FO_FAILED_ONLY };
/* Prefixes per list; both lists and the default entry fit the kernel map. */
#define FO_PREFIXES_MAX 500

static const struct probe_option file_open_options[] = {
    /* In the kernel's prefix map: -w swaps them. */
    [FO_INCLUDE_PATHS] = {.name = "include_paths",
                          .type = POPT_STRINGS,
                          .flags = POPT_ABSOLUTE | POPT_SWAPPABLE,
                          .max = FO_PREFIXES_MAX},
    [FO_EXCLUDE_PATHS] = {.name = "exclude_paths",
                          .type = POPT_STRINGS,
                          .flags = POPT_ABSOLUTE | POPT_SWAPPABLE,
                          .max = FO_PREFIXES_MAX},
    [FO_WRITE_ONLY] = {.name = "write_only", .type = POPT_BOOL},
    [FO_FAILED_ONLY] = {.name = "failed_only", .type = POPT_BOOL},
};

/* Two ways with tracepoints: entry and exit hooks (the exits share one
 * program: the three exit records have one layout), or, where the kernel
 * gives a program the registers the syscall was entered with, the exits
 * alone (FO_EXIT_ONLY_FIRST on): one hook per open instead of two. */
#define FO_EXIT_ONLY_FIRST 6
static const struct probe_attach_point file_open_tracepoints[] = {
    {PROBE_TRACEPOINT, "syscalls/sys_enter_open", "file_open__sys_enter_open"},
    {PROBE_TRACEPOINT, "syscalls/sys_enter_openat", "file_open__sys_enter_openat"},
    {PROBE_TRACEPOINT, "syscalls/sys_enter_openat2", "file_open__sys_enter_openat2"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_open", "file_open__sys_exit_open"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_openat", "file_open__sys_exit_open"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_openat2", "file_open__sys_exit_open"},
    [FO_EXIT_ONLY_FIRST] = {PROBE_TRACEPOINT, "syscalls/sys_exit_open",
                            "file_open__sys_exit_open_regs"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_openat", "file_open__sys_exit_openat_regs"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_openat2", "file_open__sys_exit_openat2_regs"},
};
#define FO_TRACEPOINTS (sizeof(file_open_tracepoints) / sizeof(file_open_tracepoints[0]))

static const struct probe_attach_point file_open_kprobes[] = {
    {PROBE_KPROBE, "do_sys_openat2", "file_open__do_sys_openat2"},
    {PROBE_KRETPROBE, "do_sys_openat2", "file_open__do_sys_openat2_ret"},
};

/* open(2)'s flags by name, as this architecture's C library numbers them.
 * O_RDONLY is 0: it is named when the access mode is neither of the others.
 * O_SYNC and O_TMPFILE include other flags' bits and are matched first. */
static const struct {
    const char *name;
    unsigned value;
} open_flags[] = {
    {"O_SYNC", O_SYNC},
    {"O_TMPFILE", O_TMPFILE},
    {"O_CREAT", O_CREAT},
    {"O_EXCL", O_EXCL},
    {"O_NOCTTY", O_NOCTTY},
    {"O_TRUNC", O_TRUNC},
    {"O_APPEND", O_APPEND},
    {"O_NONBLOCK", O_NONBLOCK},
    {"O_DSYNC", O_DSYNC},
    {"O_ASYNC", O_ASYNC},
    {"O_DIRECT", O_DIRECT},
    /* The C library's is 0 on 64-bit hosts; the kernel's bit is this. */
    {"O_LARGEFILE", FILE_OPEN_O_LARGEFILE},
    {"O_DIRECTORY", O_DIRECTORY},
    {"O_NOFOLLOW", O_NOFOLLOW},
    {"O_NOATIME", O_NOATIME},
    {"O_CLOEXEC", O_CLOEXEC},
    {"O_PATH", O_PATH},
};

json_t *file_open_flag_names(uint32_t flags)
{
    json_t *names = json_array();
    if (!names)
        return NULL;
    unsigned mode = flags & O_ACCMODE;
    int ret = json_array_append_new(names, json_string(mode == O_WRONLY ? "O_WRONLY"
                                                       : mode == O_RDWR ? "O_RDWR"
                                                       : mode == 0      ? "O_RDONLY"
                                                                        : "O_ACCMODE"));
    flags &= ~(uint32_t)O_ACCMODE;
    for (size_t i = 0; ret == 0 && i < sizeof(open_flags) / sizeof(open_flags[0]); i++) {
        if ((flags & open_flags[i].value) != open_flags[i].value)
            continue;
        ret = json_array_append_new(names, json_string(open_flags[i].name));
        flags &= ~open_flags[i].value;
    }
    /* Bits no name covers are kept, as a number. */
    if (ret == 0 && flags) {
        char other[16];
        snprintf(other, sizeof(other), "0x%x", flags);
        ret = json_array_append_new(names, json_string(other));
    }
    if (ret < 0) {
        json_decref(names);
        return NULL;
    }
    return names;
}

/* The exit hooks alone need bpf_task_pt_regs() (5.15) and the x86-64
 * syscall registers the template reads. */
static bool file_open_exit_only(void)
{
    static int known = -1;
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (known < 0)
        known = uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0 &&
                sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
                (major > 5 || (major == 5 && minor >= 15));
    return known == 1;
}

static bool file_open_point_active(const struct probe_attach_point *ap,
                                   const struct probe_conf *conf)
{
    if (ap < file_open_tracepoints || ap >= file_open_tracepoints + FO_TRACEPOINTS)
        return true; /* the kprobe form */
    return (ap - file_open_tracepoints >= FO_EXIT_ONLY_FIRST) == file_open_exit_only();
}

/* A path in both lists would depend on which was read last. */
static int file_open_validate(const struct probe_ops *ops, const struct probe_conf *conf,
                              struct pt_error *err)
{
    const struct probe_option_value *inc = &conf->opts[FO_INCLUDE_PATHS],
                                    *exc = &conf->opts[FO_EXCLUDE_PATHS];
    for (size_t i = 0; i < inc->n; i++)
        for (size_t k = 0; k < exc->n; k++)
            if (strcmp(inc->strings[i], exc->strings[k]) == 0)
                return pt_error_set(err, EINVAL, exc->file, exc->line,
                                    "file_open: '%s' is in both include_paths and exclude_paths",
                                    exc->strings[k]);
    return 0;
}

static int file_open_render_settings(const struct probe_ops *ops, const struct probe_conf *conf,
                                     struct strbuf *out)
{
    return strbuf_printf(out,
                         "#define FILE_OPEN_WRITE_ONLY %d\n#define FILE_OPEN_FAILED_ONLY %d\n"
                         "#define FILE_OPEN_SELF_TGID %d\n#define FILE_OPEN_EXIT_ONLY %d\n",
                         conf->opts[FO_WRITE_ONLY].i ? 1 : 0, conf->opts[FO_FAILED_ONLY].i ? 1 : 0,
                         (int)getpid(), file_open_exit_only() ? 1 : 0);
}

static void prefix_key(const char *prefix, struct pt_file_open_key *key)
{
    memset(key, 0, sizeof(*key));
    size_t len = strnlen(prefix, sizeof(key->prefix));
    memcpy(key->prefix, prefix, len);
    key->prefix_bits = (uint32_t)(8 * len);
}

static int prefixes_write(int fd, const struct probe_option_value *list, uint8_t verdict)
{
    for (size_t i = 0; i < list->n; i++) {
        struct pt_file_open_key key;
        prefix_key(list->strings[i], &key);
        if (bpf_update_elem(fd, &key, &verdict, 0) < 0)
            return -errno;
    }
    return 0;
}

static bool prefix_listed(const struct probe_conf *conf, const char *prefix)
{
    for (int l = FO_INCLUDE_PATHS; l <= FO_EXCLUDE_PATHS; l++)
        for (size_t i = 0; i < conf->opts[l].n; i++)
            if (strcmp(conf->opts[l].strings[i], prefix) == 0)
                return true;
    return false;
}

/* The kernel's prefix map from `next`: the new entries first, then the
 * default, then what only the old config had, so that a swap never passes
 * through an empty list. */
static int file_open_maps_load(struct probe_instance *pi, const struct probe_conf *next)
{
    int fd = pi->services->map_fd(pi, "file_open_prefixes");
    if (fd < 0)
        return fd;
    int ret = prefixes_write(fd, &next->opts[FO_INCLUDE_PATHS], PT_FILE_OPEN_REPORT);
    if (ret == 0)
        ret = prefixes_write(fd, &next->opts[FO_EXCLUDE_PATHS], PT_FILE_OPEN_DROP);
    struct pt_file_open_key root = {0};
    uint8_t def = next->opts[FO_INCLUDE_PATHS].n ? PT_FILE_OPEN_DROP : PT_FILE_OPEN_REPORT;
    if (ret == 0 && bpf_update_elem(fd, &root, &def, 0) < 0)
        ret = -errno;
    for (int l = FO_INCLUDE_PATHS; ret == 0 && pi->conf != next && l <= FO_EXCLUDE_PATHS; l++)
        for (size_t i = 0; i < pi->conf->opts[l].n; i++) {
            struct pt_file_open_key key;
            if (prefix_listed(next, pi->conf->opts[l].strings[i]))
                continue;
            prefix_key(pi->conf->opts[l].strings[i], &key);
            bpf_delete_elem(fd, &key);
        }
    return ret;
}

static int file_open_decode(struct probe_instance *pi, const void *record, size_t size,
                            json_t *event)
{
    const struct pt_file_open_event *e = record;
    size_t avail = size - offsetof(struct pt_file_open_event, path);
    size_t len = strnlen(e->path, e->path_len < avail ? e->path_len : avail);
    json_t *flags = file_open_flag_names(e->flags);
    if (!flags || json_object_set_new(event, "path", json_string_lossy(e->path, len)) ||
        json_object_set_new(event, "flags", flags) ||
        json_object_set_new(event, "retval", json_integer(e->ret)) ||
        (e->cut && json_object_set_new(event, "path_truncated", json_true())))
        return -ENOMEM;
    return 0;
}

/* For rules (src/rules.h); flags, a list of names, is left untyped. */
static const struct probe_field file_open_fields[] = {
    {"path", PROBE_FIELD_STRING, PROBE_KERNEL_NONE},
    {"retval", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_file_open = {
    .name = "file_open",
    .header = "file_open.h",
    .template = "file_open.bpf.c",
    .tracepoint_form = {file_open_tracepoints, FO_TRACEPOINTS},
    .kprobe_form = {file_open_kprobes, sizeof(file_open_kprobes) / sizeof(file_open_kprobes[0])},
    /* Records end with the path: the smallest holds its NUL. */
    .record_size = offsetof(struct pt_file_open_event, path) + 1,
    .schema = PROBE_SCHEMA_NO_ADDRESSES(file_open_options),
    .fields = file_open_fields,
    .n_fields = sizeof(file_open_fields) / sizeof(file_open_fields[0]),
    .validate = file_open_validate,
    .point_active = file_open_point_active,
    .render_settings = file_open_render_settings,
    .maps_load = file_open_maps_load,
    .decode = file_open_decode,
};
