#include "probe_registry.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extra_probe.h"

/* Every NAME.yml in the directory is a probe; its NAME.bpf.c must exist. */
static int extra_dir_load(struct probe_registry *reg, const char *dir, struct pt_error *err)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return pt_error_set(err, errno, NULL, 0, "--extra-probe-path %s: %s", dir, strerror(errno));
    int ret = 0;
    struct dirent *de;
    while (ret == 0 && (de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        if (len <= 4 || de->d_name[0] == '.' || strcmp(de->d_name + len - 4, ".yml") != 0)
            continue;
        char name[NAME_MAX + 1];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 4), de->d_name);
        if (probe_builtin_find(name)) {
            ret = pt_error_set(err, EEXIST, NULL, 0,
                               "%s/%s: '%s' is a built-in probe and cannot be replaced", dir,
                               de->d_name, name);
            break;
        }
        struct probe_ops *grown = realloc(reg->extra, (reg->n_extra + 1) * sizeof(*grown));
        if (!grown) {
            ret = pt_error_set(err, ENOMEM, NULL, 0, "--extra-probe-path %s: out of memory", dir);
            break;
        }
        reg->extra = grown;
        ret = extra_probe_load(dir, name, &reg->extra[reg->n_extra], err);
        reg->n_extra += ret == 0;
    }
    closedir(dh);
    return ret;
}

int probe_registry_init(struct probe_registry *reg, const char *extra_dir, struct pt_error *err)
{
    memset(reg, 0, sizeof(*reg));
    if (!extra_dir)
        return 0;
    /* Templates are named by absolute path in the rendered module. */
    char dir[PATH_MAX];
    if (!realpath(extra_dir, dir))
        return pt_error_set(err, errno, NULL, 0, "--extra-probe-path %s: %s", extra_dir,
                            strerror(errno));
    int ret = extra_dir_load(reg, dir, err);
    if (ret < 0)
        probe_registry_release(reg);
    return ret;
}

const struct probe_ops *probe_registry_find(const struct probe_registry *reg, const char *name)
{
    const struct probe_ops *ops = probe_builtin_find(name);
    for (size_t i = 0; !ops && i < reg->n_extra; i++)
        if (strcmp(reg->extra[i].name, name) == 0)
            ops = &reg->extra[i];
    return ops;
}

static const struct probe_schema *registry_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = probe_registry_find(ctx, name);
    return ops ? &ops->schema : NULL;
}

struct config_probes probe_registry_config(const struct probe_registry *reg)
{
    return (struct config_probes){
        .find = registry_schema, .ctx = (void *)reg, .builtin_names = probe_builtin_names()};
}

void probe_registry_release(struct probe_registry *reg)
{
    for (size_t i = 0; i < reg->n_extra; i++)
        extra_probe_release(&reg->extra[i]);
    free(reg->extra);
    memset(reg, 0, sizeof(*reg));
}
