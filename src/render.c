#include "render.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "strbuf.h"

static int render_oom(struct pt_error *err)
{
    return pt_error_set(err, ENOMEM, NULL, 0, "out of memory rendering the eBPF module");
}

/* Appends a template file behind a #line marker naming it. */
static int render_file(const struct render_options *opts, const char *name, struct strbuf *out,
                       struct pt_error *err)
{
    char path[4096];
    /* Templates of extra probes come with their absolute path. */
    if (snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : opts->template_dir,
                 name[0] == '/' ? "" : "/", name) >= (int)sizeof(path)) {
        return pt_error_set(err, ENAMETOOLONG, NULL, 0, "template path too long: %s/%s",
                            opts->template_dir, name);
    }
    /* The path goes into a #line string literal. */
    if (strpbrk(path, "\"\\\n")) {
        return pt_error_set(err, EINVAL, NULL, 0,
                            "template path %s has a quote, backslash or newline in it", path);
    }
    if (strbuf_printf(out, "#line 1 \"%s\"\n", path) < 0)
        return render_oom(err);
    int ret = strbuf_read_file(out, path);
    if (ret < 0)
        return pt_error_set(err, -ret, NULL, 0, "cannot read template %s: %s", path,
                            strerror(-ret));
    if (out->len && out->data[out->len - 1] != '\n' && strbuf_puts(out, "\n") < 0)
        return render_oom(err);
    return 0;
}

/* BCC generates a tracepoint's argument struct in front of the first
 * function whose parameter has that type, and again for each further one,
 * which does not compile when two probes share a tracepoint. So one anchor
 * per tracepoint declares the type, and the probes' programs take `void *ctx`
 * and cast. The anchors are never loaded. */
/* True when a point before probe `i`'s point `j` names the same tracepoint. */
static bool tracepoint_seen_before(const struct render_probe *probes, size_t i, size_t j,
                                   const char *target)
{
    for (size_t pi = 0; pi <= i; pi++) {
        const struct probe_form *form = probe_form_get(probes[pi].ops, probes[pi].attach);
        size_t end = pi == i ? j : form->n_points;
        for (size_t pj = 0; pj < end; pj++)
            if (form->points[pj].kind == PROBE_TRACEPOINT &&
                strcmp(form->points[pj].target, target) == 0)
                return true;
    }
    return false;
}

static int render_tracepoint_anchors(const struct render_probe *probes, size_t n,
                                     struct strbuf *out, struct pt_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct probe_form *form = probe_form_get(probes[i].ops, probes[i].attach);
        for (size_t j = 0; j < form->n_points; j++) {
            const struct probe_attach_point *ap = &form->points[j];
            if (ap->kind != PROBE_TRACEPOINT || tracepoint_seen_before(probes, i, j, ap->target))
                continue;
            const char *slash = strchr(ap->target, '/');
            if (!slash)
                return pt_error_set(err, EINVAL, NULL, 0,
                                    "probe '%s': tracepoint '%s' is not category/name",
                                    probes[i].ops->name, ap->target);
            int cat_len = (int)(slash - ap->target);
            if (strbuf_printf(out,
                              "int pt_tp__%.*s__%s(struct tracepoint__%.*s__%s *args) "
                              "{ return 0; }\n",
                              cat_len, ap->target, slash + 1, cat_len, ap->target, slash + 1) < 0)
                return render_oom(err);
        }
    }
    return 0;
}

static int render_preamble(const struct render_options *opts, const struct render_probe *probes,
                           size_t n, struct strbuf *out)
{
    int ret = strbuf_puts(out, "/* Rendered by pidtree-bcc " PIDTREE_VERSION ". Probes:");
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = strbuf_printf(out, " %s (id %u, %s)", probes[i].ops->name, probes[i].id,
                            probes[i].attach == ATTACH_KPROBE ? "kprobe" : "tracepoint");
    /* What attaches where, for readers of -p (and the verifier test). */
    for (size_t i = 0; i < n && ret == 0; i++) {
        const struct probe_form *forms[2] = {probe_form_get(probes[i].ops, probes[i].attach),
                                             opts->rules ? &probes[i].ops->rules_form : NULL};
        for (size_t f = 0; f < 2 && forms[f] && ret == 0; f++)
            for (size_t j = 0; j < forms[f]->n_points && ret == 0; j++) {
                const struct probe_attach_point *ap = &forms[f]->points[j];
                char target[512];
                if (!probe_point_active(probes[i].ops, probes[i].conf, ap))
                    continue;
                if (probe_attach_target(probes[i].ops, probes[i].conf, ap, target, sizeof(target)) <
                    0)
                    snprintf(target, sizeof(target), "%s", ap->target);
                ret = strbuf_printf(out, "\n * attach %s %s -> %s",
                                    probe_attach_kind_name(ap->kind), target, ap->function);
            }
    }
    if (ret == 0)
        ret = strbuf_printf(out,
                            "\n */\n#define PT_BPF 1\n#define PT_RINGBUF_PAGES %u\n"
                            "#define PT_ATTACH_TRACEPOINT 1\n#define PT_ATTACH_KPROBE 2\n",
                            opts->ringbuf_pages);
    if (ret == 0 && opts->rules)
        ret = strbuf_printf(out, "#define PT_RULES 1\n#define PT_KRULES_CGROUP_SIGNAL %d\n",
                            opts->rules_cgroup_signal ? 1 : 0);
    if (ret == 0 && opts->task_loginuid_offset > 0)
        ret =
            strbuf_printf(out, "#define PT_TASK_LOGINUID_OFFSET %ld\n", opts->task_loginuid_offset);
    if (ret == 0 && opts->task_mm_offset > 0 && opts->mm_arg_start_offset > 0 &&
        opts->mm_arg_end_offset > 0)
        ret =
            strbuf_printf(out,
                          "#define PT_TASK_MM_OFFSET %ld\n#define PT_MM_ARG_START_OFFSET %ld\n"
                          "#define PT_MM_ARG_END_OFFSET %ld\n",
                          opts->task_mm_offset, opts->mm_arg_start_offset, opts->mm_arg_end_offset);
    if (ret == 0 && opts->task_thread_pid_offset > 0)
        ret =
            strbuf_printf(out,
                          "#define PT_TASK_THREAD_PID_OFFSET %ld\n#define PT_PID_LEVEL_OFFSET %ld\n"
                          "#define PT_PID_NUMBERS_OFFSET %ld\n#define PT_UPID_SIZE %ld\n",
                          opts->task_thread_pid_offset, opts->pid_level_offset,
                          opts->pid_numbers_offset, opts->upid_size);
    /* The probes with container_labels: only they look containers up. */
    unsigned containers = 0;
    for (size_t i = 0; i < n; i++)
        if (probes[i].conf && probes[i].conf->n_container_labels)
            containers |= 1u << probes[i].id;
    if (ret == 0 && containers)
        ret = strbuf_printf(out, "#define PT_CONTAINER_PROBES 0x%x\n", containers);
    return ret;
}

static int render_probe_text(const struct render_options *opts, const struct render_probe *rp,
                             struct strbuf *out, struct pt_error *err)
{
    int ret =
        strbuf_printf(out,
                      "\n#line 1 \"<settings of %s>\"\n#define PT_PROBE_ID %u\n"
                      "#define PT_ATTACH %s\n",
                      rp->ops->name, rp->id,
                      rp->attach == ATTACH_KPROBE ? "PT_ATTACH_KPROBE" : "PT_ATTACH_TRACEPOINT");
    if (ret == 0 && rp->ops->render_settings && rp->conf)
        ret = rp->ops->render_settings(rp->ops, rp->conf, out);
    if (ret < 0)
        return pt_error_set(err, -ret, NULL, 0, "probe '%s': cannot render its settings",
                            rp->ops->name);
    if (rp->ops->header && (ret = render_file(opts, rp->ops->header, out, err)) < 0)
        return ret;
    if ((ret = render_file(opts, rp->ops->template, out, err)) < 0)
        return ret;
    if (strbuf_puts(out, "#undef PT_PROBE_ID\n#undef PT_ATTACH\n") < 0)
        return render_oom(err);
    return 0;
}

int render_module(const struct render_options *opts, const struct render_probe *probes,
                  size_t n_probes, struct strbuf *out, struct pt_error *err)
{
    int ret = render_preamble(opts, probes, n_probes, out) < 0 ? render_oom(err) : 0;
    if (ret == 0)
        ret = render_file(opts, "pidtree_common.h", out, err);
    if (ret == 0 && opts->rules)
        ret = render_file(opts, "rules.h", out, err);
    if (ret == 0)
        ret = render_file(opts, "common.bpf.c", out, err);
    if (ret == 0 && opts->rules)
        ret = render_file(opts, "rules.bpf.c", out, err);
    if (ret == 0 && strbuf_puts(out, "#line 1 \"<tracepoint types>\"\n") < 0)
        ret = render_oom(err);
    if (ret == 0)
        ret = render_tracepoint_anchors(probes, n_probes, out, err);
    for (size_t i = 0; i < n_probes && ret == 0; i++)
        ret = render_probe_text(opts, &probes[i], out, err);
    return ret;
}
