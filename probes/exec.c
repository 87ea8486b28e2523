/* exec: one event per program executed, with the path executed and the new
 * program's command line first in the tree; failed execs on request. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "templates/exec.h"

/* Options, in the order of conf->opts. */
enum { EXEC_INCLUDE_FAILED, EXEC_UIDS, EXEC_EXCLUDE_UIDS, EXEC_FILENAMES, EXEC_EXCLUDE_FILENAMES };
#define EXEC_GLOBS_MAX 256

static const struct probe_option exec_options[] = {
    /* Attaches execve/execveat's syscall tracepoints: a restart. */
    [EXEC_INCLUDE_FAILED] = {.name = "include_failed", .type = POPT_BOOL},
    /* The rest is decided on the record the kernel sends for every exec
     * anyway, at each event: -w swaps them. uid 4294967295 is no uid. */
    [EXEC_UIDS] =
        {.name = "uids", .type = POPT_INTS, .flags = POPT_SWAPPABLE, .min = 0, .max = 4294967294ll},
    [EXEC_EXCLUDE_UIDS] = {.name = "exclude_uids",
                           .type = POPT_INTS,
                           .flags = POPT_SWAPPABLE,
                           .min = 0,
                           .max = 4294967294ll},
    [EXEC_FILENAMES] = {.name = "filenames",
                        .type = POPT_STRINGS,
                        .flags = POPT_SWAPPABLE,
                        .max = EXEC_GLOBS_MAX},
    [EXEC_EXCLUDE_FILENAMES] = {.name = "exclude_filenames",
                                .type = POPT_STRINGS,
                                .flags = POPT_SWAPPABLE,
                                .max = EXEC_GLOBS_MAX},
};

static const struct probe_attach_point exec_points[] = {
    {PROBE_TRACEPOINT, "syscalls/sys_enter_execve", "exec__sys_enter_execve"},
    {PROBE_TRACEPOINT, "syscalls/sys_enter_execveat", "exec__sys_enter_execveat"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_execve", "exec__sys_exit_execve"},
    {PROBE_TRACEPOINT, "syscalls/sys_exit_execveat", "exec__sys_exit_execve"},
};

/* The failed-exec hooks only with include_failed. */
static bool exec_point_active(const struct probe_attach_point *ap, const struct probe_conf *conf)
{
    return conf && conf->opts[EXEC_INCLUDE_FAILED].i;
}

static bool uid_listed(const struct probe_option_value *list, uint32_t uid)
{
    for (size_t i = 0; i < list->n; i++)
        if (list->ints[i] == (long long)uid)
            return true;
    return false;
}

/* A glob matches the whole path; `*` also matches `/`, so "/usr/lib/" then
 * `*` is every path under /usr/lib. */
static bool glob_listed(const struct probe_option_value *list, const char *path)
{
    for (size_t i = 0; i < list->n; i++)
        if (fnmatch(list->strings[i], path, 0) == 0)
            return true;
    return false;
}

static bool exec_wanted(const struct probe_conf *conf, uint32_t uid, const char *filename)
{
    const struct probe_option_value *o = conf ? conf->opts : NULL;
    if (!o)
        return true;
    return (!o[EXEC_UIDS].n || uid_listed(&o[EXEC_UIDS], uid)) &&
           !uid_listed(&o[EXEC_EXCLUDE_UIDS], uid) &&
           (!o[EXEC_FILENAMES].n || glob_listed(&o[EXEC_FILENAMES], filename)) &&
           !glob_listed(&o[EXEC_EXCLUDE_FILENAMES], filename);
}

/* The fields of one exec, or -EAGAIN when the config filters it out. */
static int exec_fields(struct probe_instance *pi, uint32_t uid, const char *filename, size_t len,
                       int32_t ret, json_t *event)
{
    char *path = strndup(filename, len);
    if (!path)
        return -ENOMEM;
    bool wanted = exec_wanted(pi->conf, uid, path);
    free(path);
    if (!wanted)
        return -EAGAIN;
    if (json_object_set_new(event, "filename", json_string_lossy(filename, len)) ||
        json_object_set_new(event, "retval", json_integer(ret)))
        return -ENOMEM;
    return 0;
}

/* A successful exec: the process lifecycle's record. */
static int exec_process_exec(struct probe_instance *pi, const void *record, size_t size,
                             json_t *event)
{
    const struct pt_exec_event *e = record;
    /* The kernel sent the record for the trees, whatever the probe's
     * container_labels: they are applied here. */
    if (pi->services && !pi->services->container_allowed(pi, e->h.pid))
        return -EAGAIN;
    size_t len = strnlen(e->filename, e->filename_len < sizeof(e->filename) ? e->filename_len
                                                                            : sizeof(e->filename));
    return exec_fields(pi, e->h.uid, e->filename, len, 0, event);
}

/* A failed exec: the probe's own record. */
static int exec_decode(struct probe_instance *pi, const void *record, size_t size, json_t *event)
{
    const struct pt_exec_failed_event *e = record;
    size_t avail = size - offsetof(struct pt_exec_failed_event, filename);
    size_t len = strnlen(e->filename, e->filename_len < avail ? e->filename_len : avail);
    return exec_fields(pi, e->h.uid, e->filename, len, e->ret, event);
}

/* For rules (src/rules.h). */
static const struct probe_field exec_rule_fields[] = {
    {"filename", PROBE_FIELD_STRING, PROBE_KERNEL_NONE},
    {"retval", PROBE_FIELD_NUMBER, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_exec = {
    .name = "exec",
    .header = "exec.h",
    .template = "exec.bpf.c",
    .tracepoint_form = {exec_points, sizeof(exec_points) / sizeof(exec_points[0])},
    .kprobe_form = {exec_points, sizeof(exec_points) / sizeof(exec_points[0])},
    /* Records end with the path: the smallest holds its NUL. */
    .record_size = offsetof(struct pt_exec_failed_event, filename) + 1,
    .schema = PROBE_SCHEMA_NO_ADDRESSES(exec_options),
    .fields = exec_rule_fields,
    .n_fields = sizeof(exec_rule_fields) / sizeof(exec_rule_fields[0]),
    .point_active = exec_point_active,
    .process_exec = exec_process_exec,
    .decode = exec_decode,
};
