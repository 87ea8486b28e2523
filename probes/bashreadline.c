/* bashreadline: every command line typed into an interactive bash, with the
 * shell's tree. */
#include <errno.h>
#include <string.h>

#include "attach.h"
#include "jsonutil.h"
#include "templates/pidtree_common.h"
#include "probe.h"
#include "templates/bashreadline.h"

/* Options, in the order of conf->opts. */
enum { BASHREADLINE_BINARY };
static const struct probe_option bashreadline_options[] = {
    /* The shell whose readline() is probed. Another bash (a container's, a
     * static build) is another binary: a uprobe is on one file. */
    [BASHREADLINE_BINARY] = {.name = "binary", .type = POPT_PATH, .def_str = "/bin/bash"},
};

/* Bash has no tracepoint; the same uprobe serves both forms, so a kernel
 * without kprobes runs it as well as one with. */
static const struct probe_attach_point bashreadline_points[] = {
    {PROBE_URETPROBE, "{binary}:readline", "bashreadline__readline_ret"},
};

/* A binary without readline() is refused with the config, not at attach. */
static int bashreadline_validate(const struct probe_ops *ops, const struct probe_conf *conf,
                                 struct pt_error *err)
{
    char target[PROBE_OPTION_STRING_MAX + 32];
    uint64_t offset;
    int ret = probe_attach_target(ops, conf, &bashreadline_points[0], target, sizeof(target));
    if (ret == 0)
        ret = attach_uprobe_offset(target, &offset);
    const struct probe_option_value *v = &conf->opts[BASHREADLINE_BINARY];
    if (ret < 0)
        return pt_error_set(err, EINVAL, v->given ? v->file : conf->file,
                            v->given ? v->line : conf->line, "bashreadline.binary: %s: %s", v->s,
                            ret == -ENODATA ? "no readline() in it (is it bash?)" : strerror(-ret));
    return 0;
}

static int bashreadline_decode(struct probe_instance *pi, const void *record, size_t size,
                               json_t *event)
{
    const struct pt_bashreadline_event *e = record;
    if (json_object_set_new(event, "command",
                            json_string_lossy(e->line, strnlen(e->line, sizeof(e->line)))) ||
        (e->cut && json_object_set_new(event, "command_truncated", json_true())))
        return -ENOMEM;
    return 0;
}

/* For rules (src/rules.h). */
static const struct probe_field bashreadline_fields[] = {
    {"command", PROBE_FIELD_STRING, PROBE_KERNEL_NONE},
};

const struct probe_ops probe_bashreadline = {
    .name = "bashreadline",
    .header = "bashreadline.h",
    .template = "bashreadline.bpf.c",
    .tracepoint_form = {bashreadline_points,
                        sizeof(bashreadline_points) / sizeof(bashreadline_points[0])},
    .kprobe_form = {bashreadline_points,
                    sizeof(bashreadline_points) / sizeof(bashreadline_points[0])},
    .record_size = sizeof(struct pt_bashreadline_event),
    .schema = PROBE_SCHEMA_NO_ADDRESSES(bashreadline_options),
    .fields = bashreadline_fields,
    .n_fields = sizeof(bashreadline_fields) / sizeof(bashreadline_fields[0]),
    .validate = bashreadline_validate,
    .decode = bashreadline_decode,
};
