#include "daemon.h"

#include <bcc/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "bpf_objects.h"
#include "config.h"
#include "config_watch.h"
#include "container_engine.h"
#include "container_filter.h"
#include "dispatch.h"
#include "event_loop.h"
#include "filter.h"
#include "cgroup_hook.h"
#include "kernel_layout.h"
#include "kernel_env.h"
#include "output.h"
#include "plugin_loader.h"
#include "privilege.h"
#include "probe_registry.h"
#include "proctree.h"
#include "render.h"
#include "rule_engine.h"
#include "rules_host.h"
#include "rules_kernel.h"
#include "strbuf.h"
#include "timeutil.h"
#include "uid_budget.h"

/* 2048 pages (8 MiB): a full second of a 30,000 connects/s storm fits with
 * room to spare while the daemon is descheduled. */
#define RINGBUF_PAGES 2048
/* Records handled before the loop looks at its other fds again: a storm
 * that never lets the ring buffer empty must not keep SIGTERM waiting.
 * ~10 ms of work. */
#define RINGBUF_BATCH 4096
#define RINGBUF_COALESCE_NS 1000000l /* 1 ms */
/* Process lifecycle records wake no reader (templates/common.bpf.c): read
 * at least this often, and at once when an event record follows them. */
#define LAZY_DRAIN_MS 20
#define STOP_DRAIN_NS (2ull * 1000000000ull)
#define ERRLEN 8192

struct daemon {
    const struct cli_options *opts;
    struct config *cfg;
    struct probe_registry registry;
    struct probe_instance probes[PT_MAX_PROBES]; /* [0] is the process probe */
    size_t n_probes;
    char template_dir[PATH_MAX];
    char plugin_dir[PATH_MAX];

    struct bpf_objects *objs;
    struct attach_link *links; /* one per attach point of every probe */
    size_t n_links;
    struct filter_tables filters[PT_MAX_PROBES];
    struct ring_buffer *ringbuf;
    int ringbuf_fd;
    struct filter_maps filter_maps;
    struct config_watch *watch;
    bool config_dirty;
    /* The config the plugins and probe states were started with: they keep
     * pointers into it, so it lives as long as they do. Configs swapped in
     * later are freed when the next one replaces them, so reloads do not
     * pile up (a 54 MB config reloaded kept 300 MB). */
    struct config *start_cfg;
    int lost_fd;
    int filtered_fd; /* pt_filtered_count, with rules on; -1 otherwise */
    int n_cpus;
    uint64_t *lost_values; /* one per possible CPU */
    uint64_t lost_seen[PT_MAX_PROBES];
    uint32_t next_rule_id;
    unsigned ticks;

    struct event_loop *loop;
    int signal_fd;
    struct proc_cache *cache;
    struct output *out; /* shared by the daemons one restart hands over between */
    /* The container engine's client, shared the same way (NULL: no engine
     * can be reached, DOCKER_HOST is not a unix socket); and what the
     * kernel's pt_containers holds for this daemon's probes (NULL when no
     * probe has container_labels). */
    struct container_engine *engine;
    struct container_filter *cfilter;
    struct rules_host *rules; /* shared likewise */
    struct uid_budget *budget;
    unsigned batch;       /* records consumed in this ring buffer batch */
    uint64_t consumed_ns; /* monotonic time of the last batch */
    /* At stop, records left past this time are counted, not written: a
     * storm's full ring must not hold SIGTERM up (0: no deadline). */
    uint64_t drain_deadline_ns;
    uint64_t skipped_at_stop;
    int stalled_reported;
    /* The shared output's counters when this daemon took over. */
    unsigned long long written_before[OUTPUT_MAX_TAGS], dropped_before[OUTPUT_MAX_TAGS];
    struct dispatch *dispatch;
    struct plugin_set *plugins[PT_MAX_PROBES]; /* by probe id, until the dispatcher takes them */
    enum daemon_exit exit_code;
    char err[ERRLEN];
    char reload_err[ERRLEN]; /* the last failed reload's message */
};

static void log_error(const char *msg)
{
    fprintf(stderr, "pidtree-bcc: %s\n", msg);
}

/* ---- paths ---- */

static bool dir_exists(const char *path)
{
    return access(path, R_OK | X_OK) == 0;
}

/* An installed binary finds its files under ../share and the configured
 * library dir; one run from the build tree uses the source templates and the
 * plugins built next to it. PIDTREE_TEMPLATE_DIR overrides, for tests. */
static void paths_resolve(struct daemon *d)
{
    char exe[PATH_MAX], candidate[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *env = getenv("PIDTREE_TEMPLATE_DIR");
    snprintf(candidate, sizeof(candidate), "%s/../share/pidtree-bcc/templates", exe);
    const char *templates = env                                      ? env
                            : dir_exists(candidate)                  ? candidate
                            : dir_exists(PIDTREE_SOURCE_TEMPLATEDIR) ? PIDTREE_SOURCE_TEMPLATEDIR
                                                                     : PIDTREE_TEMPLATEDIR;
    /* A path longer than PATH_MAX cannot be opened anyway; truncation then
     * shows up as a clear "cannot read template" error later. */
    if (snprintf(d->template_dir, sizeof(d->template_dir), "%s", templates) >=
        (int)sizeof(d->template_dir))
        d->template_dir[0] = '\0';
    /* The compiler sits next to a binary run from its build tree. */
    snprintf(candidate, sizeof(candidate), "%s/pidtree-bcc-compile", exe);
    if (access(candidate, X_OK) == 0)
        bpf_objects_set_compiler(candidate);
    snprintf(candidate, sizeof(candidate), "%s/plugins", exe);
    if (snprintf(d->plugin_dir, sizeof(d->plugin_dir), "%s",
                 dir_exists(candidate) ? candidate : PIDTREE_PLUGINDIR) >=
        (int)sizeof(d->plugin_dir))
        d->plugin_dir[0] = '\0';
}

/* ---- configuration and probes ---- */

static const struct probe_ops *rules_find_probe(void *ctx, const char *name)
{
    return probe_registry_find(ctx, name);
}

/* The rules directory, checked against the probes this daemon knows. */
static int rules_prepare(struct daemon *d)
{
    struct pt_error rerr = {0};
    if (rules_host_load(d->rules, rules_find_probe, &d->registry, &rerr) < 0) {
        pt_error_format(&rerr, d->err, sizeof(d->err));
        log_error(d->err);
        return -EINVAL;
    }
    return 0;
}

static struct probe_instance *probe_add(struct daemon *d, const struct probe_ops *ops,
                                        const struct probe_conf *conf)
{
    if (d->n_probes == PT_MAX_PROBES) {
        snprintf(d->err, sizeof(d->err), "%s:%d: more than %d probes configured",
                 conf ? conf->file : "", conf ? conf->line : 0, PT_MAX_PROBES - 1);
        return NULL;
    }
    struct probe_instance *pi = &d->probes[d->n_probes];
    *pi = (struct probe_instance){.ops = ops,
                                  .conf = conf,
                                  .id = (uint32_t)d->n_probes,
                                  .attach = ATTACH_TRACEPOINT,
                                  .filters = &d->filters[d->n_probes]};
    d->n_probes++;
    return pi;
}

/* The process probe first, then each configured probe. */
static int probes_configure(struct daemon *d, bool probing)
{
    if (!probe_add(d, &probe_process, NULL))
        return -EINVAL;
    for (size_t i = 0; i < d->cfg->n_probes; i++) {
        const struct probe_conf *conf = &d->cfg->probes[i];
        const struct probe_ops *ops = probe_registry_find(&d->registry, conf->name);
        struct probe_instance *pi = probe_add(d, ops, conf);
        if (!pi)
            return -EINVAL;
        struct pt_error verr = {0};
        if (ops->validate && ops->validate(ops, conf, &verr) < 0) {
            pt_error_format(&verr, d->err, sizeof(d->err));
            return -EINVAL;
        }
        /* -p renders an explicitly requested form even where it could not
         * attach: it loads nothing. */
        bool probe_kernel = probing && !(d->opts->print_and_quit && conf->attach != ATTACH_AUTO);
        if (kernel_env_choose_form(ops, conf->attach, probe_kernel, &pi->attach, d->err,
                                   sizeof(d->err)) < 0)
            return -ENOTSUP;
    }
    return 0;
}

/* Prints warnings (ignored keys, ignored plugin arguments); in --strict
 * mode they are errors and -EINVAL is returned. */
static int warnings_check(const struct daemon *d, const struct pt_diags *warnings)
{
    char line[sizeof(warnings->items[0].file) + sizeof(warnings->items[0].msg) + 16];
    for (size_t i = 0; i < warnings->n; i++) {
        pt_error_format(&warnings->items[i], line, sizeof(line));
        if (d->opts->strict)
            fprintf(stderr, "pidtree-bcc: %s (refused: --strict)\n", line);
        else
            fprintf(stderr, "pidtree-bcc: warning: %s\n", line);
    }
    if (warnings->n_more)
        fprintf(stderr, "pidtree-bcc: ... and %zu more warning(s) not shown\n", warnings->n_more);
    return d->opts->strict && warnings->n ? -EINVAL : 0;
}

static int config_prepare(struct daemon *d)
{
    if (!d->opts->config_path) {
        log_error("no configuration: give one with -c CONFIG (see example_config.yml)");
        return -EINVAL;
    }
    struct pt_error cerr = {0};
    int ret = probe_registry_init(&d->registry, d->opts->extra_probe_path, &cerr);
    if (ret < 0) {
        pt_error_format(&cerr, d->err, sizeof(d->err));
        log_error(d->err);
        return ret;
    }
    struct config_probes probes = probe_registry_config(&d->registry);
    ret = config_load(d->opts->config_path, &probes, &d->cfg, &cerr);
    if (ret < 0) {
        pt_error_format(&cerr, d->err, sizeof(d->err));
        log_error(d->err);
        return ret;
    }
    d->start_cfg = d->cfg;
    if (warnings_check(d, &d->cfg->warnings) < 0) {
        snprintf(d->err, sizeof(d->err), "%s: %zu warning(s) in --strict mode",
                 d->opts->config_path, d->cfg->warnings.n + d->cfg->warnings.n_more);
        log_error(d->err);
        return -EINVAL;
    }
    if (d->cfg->n_probes == 0) {
        snprintf(d->err, sizeof(d->err), "%s: no probes configured", d->opts->config_path);
        log_error(d->err);
        return -EINVAL;
    }
    return 0;
}

/* Where the running kernel keeps what the process programs read from its
 * structs (kernel_btf): 0 for what its BTF does not say. Without the
 * loginuid the process cache has loginuids from /proc only; without the
 * mm's the exec program takes offsets from the kernel headers; without the
 * way to a task's pid in its own PID namespace (task_struct.thread_pid ->
 * pid.numbers[level], the size of a struct upid) that pid is read from
 * /proc. */
static void kernel_layout_read(struct render_options *ropts)
{
    long q[KF_UPID_SIZE + 1];
    for (int i = 0; i <= KF_UPID_SIZE; i++)
        q[i] = kernel_layout_offset((enum kernel_field)i);
    for (int i = 0; i <= KF_MM_ARG_END; i++)
        if (q[i] <= 0)
            fprintf(stderr, "pidtree-bcc: warning: %s: no offset of %s (%s)%s\n",
                    kernel_layout_path(), kernel_layout_name((enum kernel_field)i),
                    q[i] < 0 ? strerror((int)-q[i]) : "at 0",
                    i == KF_TASK_LOGINUID ? "; login uids are read from /proc"
                                          : "; the kernel headers' is used");
    ropts->task_loginuid_offset = q[KF_TASK_LOGINUID] > 0 ? q[KF_TASK_LOGINUID] : 0;
    ropts->task_mm_offset = q[KF_TASK_MM] > 0 ? q[KF_TASK_MM] : 0;
    ropts->mm_arg_start_offset = q[KF_MM_ARG_START] > 0 ? q[KF_MM_ARG_START] : 0;
    ropts->mm_arg_end_offset = q[KF_MM_ARG_END] > 0 ? q[KF_MM_ARG_END] : 0;
    bool ns = q[KF_TASK_THREAD_PID] > 0 && q[KF_PID_LEVEL] > 0 && q[KF_PID_NUMBERS] > 0 &&
              q[KF_UPID_SIZE] > 0;
    if (!ns)
        fprintf(stderr,
                "pidtree-bcc: warning: %s: no offsets of task_struct.thread_pid, pid.level, "
                "pid.numbers or struct upid's size; pids in PID namespaces are read from /proc\n",
                kernel_layout_path());
    ropts->task_thread_pid_offset = ns ? q[KF_TASK_THREAD_PID] : 0;
    ropts->pid_level_offset = ns ? q[KF_PID_LEVEL] : 0;
    ropts->pid_numbers_offset = ns ? q[KF_PID_NUMBERS] : 0;
    ropts->upid_size = ns ? q[KF_UPID_SIZE] : 0;
}

static int module_render(struct daemon *d, struct strbuf *text)
{
    struct render_probe rp[PT_MAX_PROBES];
    for (size_t i = 0; i < d->n_probes; i++)
        rp[i] = (struct render_probe){d->probes[i].ops, d->probes[i].conf, d->probes[i].id,
                                      d->probes[i].attach};
    struct render_options ropts = {.template_dir = d->template_dir,
                                   .ringbuf_pages = RINGBUF_PAGES,
                                   .rules = rules_host_enabled(d->rules),
                                   .rules_cgroup_signal = rules_kernel_cgroup_can_signal()};
    kernel_layout_read(&ropts);
    struct pt_error rerr = {0};
    int ret = render_module(&ropts, rp, d->n_probes, text, &rerr);
    if (ret < 0)
        pt_error_format(&rerr, d->err, sizeof(d->err));
    return ret;
}

static int filters_build(struct daemon *d)
{
    d->next_rule_id = 1;
    for (size_t i = 1; i < d->n_probes; i++) {
        if (!d->probes[i].conf)
            continue;
        int ret = filter_tables_build(d->probes[i].conf, d->probes[i].id, &d->next_rule_id,
                                      &d->filters[i], d->err, sizeof(d->err));
        if (ret < 0)
            return ret;
    }
    /* The maps are shared: the limits hold for all probes together. */
    return filter_tables_check_totals(d->filters, d->n_probes, d->opts->config_path, d->err,
                                      sizeof(d->err));
}

/* ---- loading and attaching ---- */

/* Probe i's attach points: its form's (f = 0), then, with rules on, those
 * its kernel rules need (f = 1); NULL past the last. */
static const struct probe_form *probe_form_nth(const struct daemon *d, size_t i, size_t f)
{
    if (f == 0)
        return probe_form_get(d->probes[i].ops, d->probes[i].attach);
    return f == 1 && rules_host_enabled(d->rules) ? &d->probes[i].ops->rules_form : NULL;
}

/* Every attach point of every probe, however many the probes declare. */
static size_t attach_points_count(const struct daemon *d)
{
    size_t n = 0;
    const struct probe_form *form;
    for (size_t i = 0; i < d->n_probes; i++)
        for (size_t f = 0; (form = probe_form_nth(d, i, f)); f++)
            n += form->n_points;
    return n;
}

static int module_load(struct daemon *d, const char *text)
{
    struct bpf_prog_spec *specs = calloc(attach_points_count(d) + 1, sizeof(*specs));
    if (!specs) {
        snprintf(d->err, sizeof(d->err), "out of memory loading the eBPF programs");
        return -ENOMEM;
    }
    size_t n = 0;
    const struct probe_form *form;
    for (size_t i = 0; i < d->n_probes; i++) {
        for (size_t f = 0; (form = probe_form_nth(d, i, f)); f++) {
            for (size_t j = 0; j < form->n_points; j++) {
                if (!probe_point_active(d->probes[i].ops, d->probes[i].conf, &form->points[j]))
                    continue;
                bool dup = false;
                for (size_t k = 0; k < n && !dup; k++)
                    dup = strcmp(specs[k].function, form->points[j].function) == 0;
                if (!dup)
                    specs[n++] = (struct bpf_prog_spec){
                        form->points[j].function, form->points[j].kind, form->points[j].target};
            }
        }
    }
    char msg[ERRLEN - 64];
    d->objs = bpf_objects_load(text, specs, n, msg, sizeof(msg));
    int ret = d->objs ? 0 : -errno;
    free(specs);
    if (ret < 0)
        snprintf(d->err, sizeof(d->err), "cannot load the eBPF programs: %s", msg);
    return ret;
}

static int maps_open(struct daemon *d)
{
    int *fd = d->filter_maps.fd;
    int subnets = fd[FILTER_MAP_SUBNETS] = bpf_objects_map_fd(d->objs, "pt_subnets");
    int ports = fd[FILTER_MAP_SUBNET_PORTS] = bpf_objects_map_fd(d->objs, "pt_subnet_ports");
    int bits = fd[FILTER_MAP_PORT_BITS] = bpf_objects_map_fd(d->objs, "pt_port_bits");
    d->ringbuf_fd = bpf_objects_map_fd(d->objs, "pt_events");
    d->lost_fd = bpf_objects_map_fd(d->objs, "pt_lost");
    if (subnets < 0 || ports < 0 || bits < 0 || d->ringbuf_fd < 0 || d->lost_fd < 0) {
        snprintf(d->err, sizeof(d->err), "the compiled module lacks its shared maps");
        return -ENOENT;
    }
    for (size_t i = 1; i < d->n_probes; i++) {
        if (!d->probes[i].conf)
            continue;
        struct probe_instance *pi = &d->probes[i];
        int ret = filter_tables_load(&d->filters[i], &d->filter_maps);
        if (ret == 0 && pi->ops->maps_load)
            ret = pi->ops->maps_load(pi, pi->conf);
        if (ret < 0) {
            snprintf(d->err, sizeof(d->err), "probe '%s': cannot load its filters: %s",
                     pi->ops->name, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

/* One attach point of one probe, into the next link. */
static int point_attach(struct daemon *d, const struct probe_instance *pi,
                        const struct probe_attach_point *ap)
{
    char msg[512], target[4096];
    int fd = bpf_objects_prog_fd(d->objs, ap->function);
    int ret = fd;
    if (fd < 0)
        snprintf(msg, sizeof(msg), "program %s missing from the module", ap->function);
    else if ((ret = probe_attach_target(pi->ops, pi->conf, ap, target, sizeof(target))) < 0)
        snprintf(msg, sizeof(msg), "%.500s", target); /* the reason */
    else
        ret = attach_link_create(fd, ap, target, &d->links[d->n_links], msg, sizeof(msg));
    if (ret < 0) {
        snprintf(d->err, sizeof(d->err), "probe '%s': %s", pi->ops->name, msg);
        return ret;
    }
    d->n_links++;
    return 0;
}

/* ---- containers ---- */

static bool has_container_labels(const struct daemon *d)
{
    for (size_t i = 1; i < d->n_probes; i++)
        if (d->probes[i].conf && d->probes[i].conf->n_container_labels)
            return true;
    return false;
}

static void container_filter_configure(struct daemon *d)
{
    const struct probe_conf *confs[PT_MAX_PROBES] = {0};
    for (size_t i = 1; i < d->n_probes; i++)
        confs[d->probes[i].id] = d->probes[i].conf;
    container_filter_set_probes(d->cfilter, confs);
}

/* Says, per probe with container_labels, what it reports now. */
static void containers_report(const struct daemon *d)
{
    for (size_t i = 1; i < d->n_probes; i++) {
        const struct probe_instance *pi = &d->probes[i];
        if (!pi->conf || !pi->conf->n_container_labels)
            continue;
        if (!d->engine)
            fprintf(stderr,
                    "pidtree-bcc: probe '%s': container_labels: no container engine to ask "
                    "(DOCKER_HOST is not a unix:// socket): nothing is reported for this probe\n",
                    pi->ops->name);
        else if (!container_engine_answering(d->engine))
            fprintf(stderr,
                    "pidtree-bcc: probe '%s': container_labels: the container engine at %s has "
                    "not answered: nothing is reported for this probe until it does\n",
                    pi->ops->name, container_engine_socket(d->engine));
        else
            fprintf(stderr, "pidtree-bcc: probe '%s': container_labels: %zu container(s) match\n",
                    pi->ops->name, container_filter_count(d->cfilter, pi->id));
    }
}

/* The kernel's table of matching containers, filled from what the engine
 * knows now (a restart's engine already answered: no gap). */
static int containers_open(struct daemon *d)
{
    if (!has_container_labels(d))
        return 0;
    int fd = bpf_objects_map_fd(d->objs, "pt_containers");
    d->cfilter = fd >= 0 ? container_filter_new(fd) : NULL;
    if (!d->cfilter) {
        snprintf(d->err, sizeof(d->err), "container_labels: %s",
                 fd < 0 ? "the compiled module lacks pt_containers" : "out of memory");
        return fd < 0 ? -ENOENT : -ENOMEM;
    }
    container_filter_configure(d);
    int ret = container_filter_sync(d->cfilter, d->engine);
    if (ret < 0) {
        snprintf(d->err, sizeof(d->err), "container_labels: cannot fill the kernel's table: %s",
                 strerror(-ret));
        return ret;
    }
    containers_report(d);
    return 0;
}

static void on_container(void *ctx, const struct container_info *c, bool present)
{
    struct daemon *d = ctx;
    if (d->cfilter)
        container_filter_changed(d->cfilter, c, present);
}

static void on_engine_answering(void *ctx, bool answering)
{
    struct daemon *d = ctx;
    if (answering)
        containers_report(d);
}

/* From now on the engine's news is this daemon's. */
static void containers_listen(struct daemon *d)
{
    struct container_engine_listener l = {on_container, on_engine_answering, d};
    if (d->engine)
        container_engine_set_listener(d->engine, &l);
}

static void on_engine(int fd, void *ctx)
{
    struct daemon *d = ctx;
    container_engine_dispatch(d->engine);
}

static const char *container_name_lookup(void *ctx, const char *id)
{
    struct daemon *d = ctx;
    const struct container_info *c = d->engine ? container_engine_find(d->engine, id) : NULL;
    return c ? c->name : NULL;
}

static bool container_allowed(void *ctx, uint32_t probe_id, uint32_t pid)
{
    struct daemon *d = ctx;
    struct proc_container pc;
    if (!d->cfilter)
        return true;
    if (proc_cache_container(d->cache, pid, &pc) < 0)
        return false;
    return container_filter_allows(d->cfilter, probe_id, pc.id);
}

static int probes_attach(struct daemon *d)
{
    d->links = calloc(attach_points_count(d) + 1, sizeof(*d->links));
    if (!d->links) {
        snprintf(d->err, sizeof(d->err), "out of memory attaching the probes");
        return -ENOMEM;
    }
    const struct probe_form *form;
    for (size_t i = 0; i < d->n_probes; i++) {
        for (size_t f = 0; (form = probe_form_nth(d, i, f)); f++) {
            for (size_t j = 0; j < form->n_points; j++) {
                if (!probe_point_active(d->probes[i].ops, d->probes[i].conf, &form->points[j]))
                    continue;
                int ret = point_attach(d, &d->probes[i], &form->points[j]);
                if (ret < 0)
                    return ret;
            }
        }
    }
    return 0;
}

static void probes_detach(struct daemon *d)
{
    for (size_t i = d->n_links; i-- > 0;)
        attach_link_destroy(&d->links[i]);
    d->n_links = 0;
    free(d->links);
    d->links = NULL;
}

/* ---- lost events ---- */

static int possible_cpus(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
    int lo, hi = 0, last = 0;
    if (!f)
        return 1;
    while (fscanf(f, "%d", &lo) == 1) {
        hi = lo;
        if (fscanf(f, "-%d", &hi) != 1)
            hi = lo;
        last = hi;
        if (fgetc(f) != ',')
            break;
    }
    fclose(f);
    return last + 1;
}

static int map_fd_lookup(void *ctx, const char *name)
{
    struct daemon *d = ctx;
    return d->objs ? bpf_objects_map_fd(d->objs, name) : -ENOENT;
}

/* A per-CPU counter of the module's, summed over every possible CPU. */
static uint64_t percpu_read(struct daemon *d, int fd, uint32_t probe_id)
{
    uint64_t sum = 0;
    if (fd < 0 || !d->lost_values || bpf_lookup_elem(fd, &probe_id, d->lost_values) < 0)
        return 0;
    for (int i = 0; i < d->n_cpus; i++)
        sum += d->lost_values[i];
    return sum;
}

static uint64_t lost_read(void *ctx, uint32_t probe_id)
{
    struct daemon *d = ctx;
    return percpu_read(d, d->lost_fd, probe_id);
}

/* Lost lifecycle records leave the cache behind the kernel: a rescan of
 * /proc brings it back in line. Lost probe records are reported. */
static void lost_check(struct daemon *d, bool report)
{
    for (size_t i = 0; i < d->n_probes; i++) {
        uint64_t lost = lost_read(d, d->probes[i].id);
        if (lost == d->lost_seen[i])
            continue;
        if (i == 0)
            proc_cache_scan(d->cache);
        if (report || i != 0)
            fprintf(stderr, "pidtree-bcc: probe '%s': %llu events lost so far (ring buffer full)\n",
                    d->probes[i].ops->name, (unsigned long long)lost);
        d->lost_seen[i] = lost;
    }
}

/* ---- the event loop ---- */

static int ringbuf_sample(void *ctx, void *data, size_t size)
{
    struct daemon *d = ctx;
    if (d->drain_deadline_ns &&
        (d->skipped_at_stop ||
         (d->batch % 256 == 0 && time_monotonic_ns() > d->drain_deadline_ns))) {
        d->skipped_at_stop++;
        return ++d->batch >= RINGBUF_BATCH ? -EAGAIN : 0;
    }
    int ret = dispatch_record(d->dispatch, data, size);
    /* A negative return stops ring_buffer__consume, this record consumed:
     * for a broken output, after which nothing more can be written, and at
     * the end of a batch (-EAGAIN: the rest waits for the next turn). */
    if (ret < 0)
        return ret;
    return ++d->batch >= RINGBUF_BATCH ? -EAGAIN : 0;
}

/* One batch; -EAGAIN when records remain. */
static int ringbuf_consume_batch(struct daemon *d)
{
    d->batch = 0;
    int ret = bpf_consume_ringbuf(d->ringbuf);
    d->consumed_ns = time_monotonic_ns(); /* a batch may take longer than a tick */
    return ret;
}

static void fail_output(struct daemon *d, int err)
{
    snprintf(d->err, sizeof(d->err), "cannot write to the output: %s", strerror(-err));
    log_error(d->err);
    d->exit_code = DAEMON_EXIT_RUNTIME;
    event_loop_stop(d->loop);
}

static void ringbuf_report(struct daemon *d, int ret)
{
    if (dispatch_output_error(d->dispatch))
        fail_output(d, dispatch_output_error(d->dispatch));
    else if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
        fprintf(stderr, "pidtree-bcc: reading the ring buffer failed: %s\n", strerror(-ret));
}

static void on_ringbuf(int fd, void *ctx)
{
    struct daemon *d = ctx;
    int ret = ringbuf_consume_batch(d);
    /* The kernel wakes the reader for a record submitted into an empty
     * buffer, and a wakeup per record costs more than the record: two
     * context switches here, and an irq_work in the traced task. Once the
     * buffer is drained, wait a little so that the next wakeup finds a
     * batch: at most RINGBUF_COALESCE_NS more latency, far fewer wakeups. */
    if (ret >= 0 && d->batch < RINGBUF_BATCH) {
        struct timespec pause = {0, RINGBUF_COALESCE_NS};
        nanosleep(&pause, NULL);
    }
    ringbuf_report(d, ret);
}

/* The lifecycle records that woke nobody, unless the reader ran lately:
 * a storm keeps it busy, and a second batch per loop would keep SIGTERM
 * waiting twice as long. */
static void on_drain_timer(void *ctx)
{
    struct daemon *d = ctx;
    if (time_monotonic_ns() - d->consumed_ns < LAZY_DRAIN_MS * 1000000ull)
        return;
    ringbuf_report(d, ringbuf_consume_batch(d));
}

static void on_signal(int fd, void *ctx)
{
    struct daemon *d = ctx;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
        return;
    if (si.ssi_signo == SIGHUP)
        d->exit_code = DAEMON_EXIT_RESTART;
    event_loop_stop(d->loop);
}

/* ---- -w: configuration changes ---- */

static void restart_for(struct daemon *d, const char *why)
{
    fprintf(stderr, "pidtree-bcc: %s: restarting\n", why);
    d->exit_code = DAEMON_EXIT_RESTART;
    event_loop_stop(d->loop);
}

/* Builds every probe's tables from `next` and swaps them in, all or
 * nothing: on any failure the kernel keeps what it had. */
static int filters_swap(struct daemon *d, const struct config *next)
{
    struct filter_tables fresh[PT_MAX_PROBES] = {0};
    uint32_t next_rule_id = d->next_rule_id;
    int ret = 0;
    size_t c = 0;
    for (size_t i = 1; i < d->n_probes && ret == 0; i++)
        if (d->probes[i].conf)
            ret = filter_tables_build(&next->probes[c++], d->probes[i].id, &next_rule_id, &fresh[i],
                                      d->err, sizeof(d->err));
    if (ret == 0)
        ret = filter_tables_check_totals(fresh, d->n_probes, d->opts->config_path, d->err,
                                         sizeof(d->err));
    if (ret == 0) {
        ret = filter_tables_swap(&fresh[1], &d->filters[1], d->n_probes - 1, &d->filter_maps);
        if (ret < 0)
            snprintf(d->err, sizeof(d->err), "cannot write the new filters: %s", strerror(-ret));
    }
    for (size_t i = 1; i < d->n_probes; i++) {
        if (ret == 0 && d->probes[i].conf) {
            filter_tables_release(&d->filters[i]);
            d->filters[i] = fresh[i];
        } else {
            filter_tables_release(&fresh[i]);
        }
    }
    if (ret == 0)
        d->next_rule_id = next_rule_id;
    return ret;
}

/* Each probe with maps of its own rewrites them from its part of `next`. */
static int probe_maps_swap(struct daemon *d, const struct config *next)
{
    size_t c = 0;
    for (size_t i = 1; i < d->n_probes; i++) {
        struct probe_instance *pi = &d->probes[i];
        if (!pi->conf)
            continue;
        const struct probe_conf *pc = &next->probes[c++];
        int ret = pi->ops->maps_load ? pi->ops->maps_load(pi, pc) : 0;
        if (ret < 0) {
            snprintf(d->err, sizeof(d->err), "probe '%s': cannot write its new filters (%s)",
                     pi->ops->name, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

static void config_reload_apply(struct daemon *d)
{
    struct config *next = NULL;
    struct pt_error cerr;
    struct config_probes probes = probe_registry_config(&d->registry);
    if (config_load(d->opts->config_path, &probes, &next, &cerr) < 0) {
        pt_error_format(&cerr, d->err, sizeof(d->err));
        /* A remote include that stays unreachable is said once, not at
         * every fetch. */
        if (strcmp(d->err, d->reload_err) != 0)
            fprintf(stderr, "pidtree-bcc: config change ignored, still running the old one: %s\n",
                    d->err);
        snprintf(d->reload_err, sizeof(d->reload_err), "%s", d->err);
        return;
    }
    d->reload_err[0] = '\0';
    /* A save that changed nothing, or a remote include fetched again. */
    if (config_same(d->cfg, next)) {
        config_free(next);
        return;
    }
    if (warnings_check(d, &next->warnings) < 0) {
        fprintf(stderr, "pidtree-bcc: config change ignored, still running the old one: "
                        "warnings in --strict mode\n");
        config_free(next);
        return;
    }
    if (!config_swappable(d->cfg, next)) {
        config_free(next);
        malloc_trim(0);
        restart_for(d, "config changed a setting that needs a restart");
        return;
    }
    if (filters_swap(d, next) < 0) {
        fprintf(stderr, "pidtree-bcc: config change ignored: %s\n", d->err);
        config_free(next);
        return;
    }
    /* The probes' own maps: a failure half way is mended by a restart. */
    if (probe_maps_swap(d, next) < 0) {
        config_free(next);
        restart_for(d, d->err);
        return;
    }
    /* Only the config the plugins were started with must outlive a swap. */
    if (d->cfg != d->start_cfg)
        config_free(d->cfg);
    d->cfg = next;
    size_t c = 0;
    for (size_t i = 1; i < d->n_probes; i++)
        if (d->probes[i].conf)
            d->probes[i].conf = &next->probes[c++];
    fprintf(stderr, "pidtree-bcc: config reloaded: filters swapped\n");
    /* New labels: every container the engine knows is matched again. */
    if (d->cfilter) {
        container_filter_configure(d);
        if (container_filter_sync(d->cfilter, d->engine) < 0)
            fprintf(stderr, "pidtree-bcc: container_labels: the kernel's table is incomplete\n");
        containers_report(d);
    }
}

/* Whatever came of the reload, the files to watch are those of the config
 * now running, reached through the symlinks as they are now. */
static void config_reload(struct daemon *d)
{
    config_reload_apply(d);
    if (d->exit_code == DAEMON_EXIT_RESTART)
        return;
    int ret = config_watch_update(d->watch, d->cfg);
    if (ret < 0)
        fprintf(stderr, "pidtree-bcc: cannot watch the config's files: %s\n", strerror(-ret));
}

static void on_config_change(int fd, void *ctx)
{
    struct daemon *d = ctx;
    /* Handled at the next tick: an editor's save is several events. */
    if (config_watch_read(d->watch))
        d->config_dirty = true;
}

/* A slow reader or a full disk is said once when it starts, once when it
 * ends, with what it cost. */
static void output_check(struct daemon *d)
{
    int stalled = d->out->stalled;
    if (stalled && !d->stalled_reported)
        fprintf(stderr,
                "pidtree-bcc: output stalled (%s): lines wait in memory, up to %u MiB, then are "
                "dropped and counted\n",
                strerror(stalled), OUTPUT_MAX_BUFFERED >> 20);
    else if (!stalled && d->stalled_reported)
        fprintf(stderr, "pidtree-bcc: output writable again; %llu line(s) dropped so far\n",
                d->out->dropped_total);
    d->stalled_reported = stalled;
}

static void on_tick(void *ctx)
{
    struct daemon *d = ctx;
    d->ticks++;
    unsigned period = d->opts->health_check_period;
    bool health_check = period && d->ticks % period == 0;
    /* Remote includes have no inotify: fetched again every period, a
     * change is a config change like any other. */
    if (d->watch && health_check && config_watch_has_remote(d->cfg))
        d->config_dirty = true;
    if (d->config_dirty) {
        d->config_dirty = false;
        config_reload(d);
    }
    dispatch_set_clock(d->dispatch, time_boot_to_realtime_offset());
    lost_check(d, health_check);
    output_check(d);
    if (dispatch_report_drops(d->dispatch) < 0)
        fail_output(d,
                    dispatch_output_error(d->dispatch) ? dispatch_output_error(d->dispatch) : -EIO);
    uint64_t now = time_boot_ns();
    for (size_t i = 1; i < d->n_probes; i++)
        if (d->probes[i].ops->tick)
            d->probes[i].ops->tick(&d->probes[i], now);
    dispatch_tick(d->dispatch, time_monotonic_ns());
    rules_host_tick(d->rules);
}

static void before_sleep(void *ctx)
{
    struct daemon *d = ctx;
    int ret = output_flush(d->out);
    if (ret < 0)
        fail_output(d, ret);
}

static int signals_block(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN); /* a vanished reader is an EPIPE to report */
    d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return d->signal_fd < 0 ? -errno : 0;
}

static int loop_setup(struct daemon *d)
{
    d->ringbuf = bpf_new_ringbuf(d->ringbuf_fd, ringbuf_sample, d);
    d->loop = event_loop_new();
    if (!d->ringbuf || !d->loop) {
        snprintf(d->err, sizeof(d->err), "cannot set up the event loop: %s", strerror(errno));
        return -ENOMEM;
    }
    int ret = event_loop_add_fd(d->loop, d->ringbuf_fd, on_ringbuf, d);
    if (ret == 0)
        ret = event_loop_add_fd(d->loop, d->signal_fd, on_signal, d);
    if (ret == 0)
        ret = event_loop_add_timer(d->loop, LAZY_DRAIN_MS, on_drain_timer, d);
    if (ret == 0)
        ret = event_loop_add_timer(d->loop, 1000, on_tick, d);
    if (ret == 0 && d->engine)
        ret = event_loop_add_fd(d->loop, container_engine_fd(d->engine), on_engine, d);
    if (ret == 0 && d->opts->watch_config) {
        d->watch = config_watch_new(d->cfg);
        ret = d->watch ? event_loop_add_fd(d->loop, config_watch_fd(d->watch), on_config_change, d)
                       : -errno;
    }
    if (ret < 0)
        snprintf(d->err, sizeof(d->err), "cannot set up the event loop: %s", strerror(-ret));
    event_loop_set_before_sleep(d->loop, before_sleep, d);
    return ret;
}

/* ---- start and stop ---- */

static int environment_check(struct daemon *d)
{
    if (geteuid() != 0) {
        snprintf(d->err, sizeof(d->err),
                 "must run as root: loading eBPF programs needs CAP_BPF and CAP_PERFMON "
                 "(try sudo; -p works without root)");
        return -EPERM;
    }
    int ret = kernel_env_mount_tracefs(d->err, sizeof(d->err));
    if (ret == 0)
        ret = kernel_env_check_headers(d->err, sizeof(d->err));
    /* Probes whose forms need cgroup hooks say so when they are chosen. */
    char cgerr[256];
    if (ret == 0 && cgroup_hook_mount_root(cgerr, sizeof(cgerr)) < 0)
        fprintf(stderr, "pidtree-bcc: warning: %s\n", cgerr);
    return ret;
}

static const char *plugin_username(void *ctx, uint32_t uid)
{
    return proc_cache_username(ctx, uid);
}

static int plugin_loginuid(void *ctx, uint32_t pid, uint32_t *loginuid)
{
    return proc_cache_loginuid(ctx, pid, loginuid);
}

/* After the process cache: the plugins share its user names and login
 * uids. */
static int plugins_load(struct daemon *d)
{
    const char *dirs[2] = {d->plugin_dir, d->opts->extra_plugin_path};
    size_t n_dirs = d->opts->extra_plugin_path ? 2 : 1;
    struct plugin_services services = {plugin_username, plugin_loginuid, d->cache};
    struct pt_diags warnings = {0};
    int ret = 0;
    for (size_t i = 1; i < d->n_probes && ret == 0; i++) {
        if (!d->probes[i].conf || d->probes[i].conf->n_plugins == 0)
            continue;
        struct pt_error perr = {0};
        d->plugins[i] =
            plugin_set_load(d->probes[i].conf, dirs, n_dirs, &services, &warnings, &perr);
        if (!d->plugins[i]) {
            pt_error_format(&perr, d->err, sizeof(d->err));
            ret = -EINVAL;
        }
    }
    if (ret == 0 && warnings_check(d, &warnings) < 0) {
        snprintf(d->err, sizeof(d->err), "%s: %zu plugin warning(s) in --strict mode",
                 d->opts->config_path, warnings.n + warnings.n_more);
        ret = -EINVAL;
    }
    pt_diags_free(&warnings);
    return ret;
}

/* What the config's checks cannot see alone: filters against the shared
 * maps' limits, plugins found, loaded and initialised with their
 * arguments. -p runs it too, so that a dry run refuses what the daemon
 * would refuse, with the same message. */
static int config_check_deep(struct daemon *d)
{
    /* Before the plugins: they share the process cache. */
    if (!d->cache && !(d->cache = proc_cache_new("/proc"))) {
        snprintf(d->err, sizeof(d->err), "cannot set up the process cache: %s", strerror(errno));
        return -ENOMEM;
    }
    return filters_build(d) < 0 || plugins_load(d) < 0 ? -EINVAL : 0;
}

/* The runtime object the probes are served by: their records, their
 * events, their plugins (which it takes) and their services. */
static int dispatch_create(struct daemon *d)
{
    struct dispatch_env env = {.cache = d->cache,
                               .out = d->out,
                               .budget = d->budget,
                               .lost_event_telemetry = d->opts->lost_event_telemetry,
                               .lost_reader = lost_read,
                               .map_fd = map_fd_lookup,
                               .container_name = container_name_lookup,
                               .container_allowed = container_allowed,
                               .ctx = d,
                               .rules = rules_host_enabled(d->rules) ? rules_host_engine(d->rules)
                                                                     : NULL,
                               .tap = rules_host_enabled(d->rules) ? rules_host_tap : NULL,
                               .tap_ctx = d->rules};
    d->dispatch = dispatch_new(&env);
    if (!d->dispatch) {
        snprintf(d->err, sizeof(d->err), "cannot set up the dispatcher: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < d->n_probes; i++) {
        dispatch_add_probe(d->dispatch, &d->probes[i], d->plugins[d->probes[i].id]);
        d->plugins[d->probes[i].id] = NULL;
    }
    return 0;
}

static int probes_start(struct daemon *d)
{
    for (size_t i = 1; i < d->n_probes; i++) {
        struct probe_instance *pi = &d->probes[i];
        if (pi->ops->start && pi->ops->start(pi) < 0) {
            snprintf(d->err, sizeof(d->err), "probe '%s': cannot start", pi->ops->name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Attached: from here on the daemon needs only what privilege.h lists. */
static int privileges_shed(struct daemon *d)
{
    char kept[256];
    struct pt_error perr = {0};
    int ret = privilege_drop(rules_host_enabled(d->rules) ? PRIVILEGE_KEEP_RULES : 0, kept,
                             sizeof(kept), &perr);
    if (ret < 0)
        pt_error_format(&perr, d->err, sizeof(d->err));
    else
        fprintf(stderr, "pidtree-bcc: capabilities kept after attach: %s\n", kept);
    return ret;
}

/* Stats per daemon from the output a restart shares. */
static void stats_mark(struct daemon *d)
{
    memcpy(d->written_before, d->out->written, sizeof(d->written_before));
    memcpy(d->dropped_before, d->out->dropped, sizeof(d->dropped_before));
}

/* ---- rules ---- */

static int probe_stats_read(void *ctx, uint32_t id, struct rules_probe_stats *out)
{
    struct daemon *d = ctx;
    struct dispatch_stats st;
    if (id == 0 || id >= d->n_probes)
        return -ENOENT;
    dispatch_get_stats(d->dispatch, &st);
    *out = (struct rules_probe_stats){
        .events = st.events[id],
        .unwritten = d->out->dropped[id] - d->dropped_before[id],
        .rate_limited = st.rate_limited[id],
        .lost = lost_read(d, id),
        .filtered = percpu_read(d, d->filtered_fd, id),
    };
    return 0;
}

/* The configured probes' names by id (NULL for the process probe and the
 * state others require: rules cannot name them). */
static void probe_names(const struct daemon *d, const char *names[PT_MAX_PROBES])
{
    memset(names, 0, PT_MAX_PROBES * sizeof(*names));
    for (size_t i = 1; i < d->n_probes; i++)
        if (d->probes[i].conf)
            names[d->probes[i].id] = d->probes[i].ops->name;
}

/* The rules follow this daemon: its probes, its loop, its maps. */
static int rules_bind(struct daemon *d)
{
    if (!rules_host_enabled(d->rules))
        return 0;
    const char *names[PT_MAX_PROBES];
    probe_names(d, names);
    d->filtered_fd = bpf_objects_map_fd(d->objs, "pt_filtered_count");
    struct rules_binding b = {.loop = d->loop,
                              .find = rules_find_probe,
                              .find_ctx = &d->registry,
                              .probe_names = names,
                              .n_probes = d->n_probes,
                              .krules_fd = bpf_objects_map_fd(d->objs, "pt_krules"),
                              .krules_ctl_fd = bpf_objects_map_fd(d->objs, "pt_krules_ctl"),
                              .probe_stats = probe_stats_read,
                              .stats_ctx = d};
    struct pt_error rerr = {0};
    int ret = rules_host_bind(d->rules, &b, &rerr);
    if (ret < 0)
        pt_error_format(&rerr, d->err, sizeof(d->err));
    return ret;
}

static enum daemon_exit daemon_start(struct daemon *d)
{
    struct strbuf text = STRBUF_INIT;
    enum daemon_exit status = DAEMON_EXIT_RUNTIME;
    uint64_t t0 = time_monotonic_ns();

    if (module_render(d, &text) < 0)
        goto out;
    if (config_check_deep(d) < 0) {
        status = DAEMON_EXIT_CONFIG;
        goto out;
    }
    struct pt_error oerr = {0};
    /* A restart keeps the output the running daemon has open. */
    if (d->out->fd < 0 && output_open(d->out, d->opts->output_path, &oerr) < 0) {
        pt_error_format(&oerr, d->err, sizeof(d->err));
        goto out;
    }
    d->budget = uid_budget_new(UID_BUDGET_DEFAULT_RATE, UID_BUDGET_DEFAULT_BURST);
    if (!d->budget) {
        snprintf(d->err, sizeof(d->err), "cannot set up the per-user budget: out of memory");
        goto out;
    }
    int ret = signals_block(d);
    if (ret < 0) {
        snprintf(d->err, sizeof(d->err), "cannot set up the signals: %s", strerror(-ret));
        goto out;
    }
    if (dispatch_create(d) < 0)
        goto out;
    if (module_load(d, text.data) < 0 || maps_open(d) < 0 || containers_open(d) < 0 ||
        loop_setup(d) < 0 || probes_attach(d) < 0)
        goto out;
    /* Attached first, scanned second: a process born in between is in the
     * ring buffer, and its fork applied after the scan changes nothing. */
    ret = proc_cache_scan(d->cache);
    if (ret < 0) {
        snprintf(d->err, sizeof(d->err), "cannot read /proc: %s", strerror(-ret));
        goto out;
    }
    if (probes_start(d) < 0) /* says which probe */
        goto out;
    if (rules_bind(d) < 0)
        goto out;
    if (privileges_shed(d) < 0)
        goto out;
    stats_mark(d);
    containers_listen(d);
    fprintf(stderr, "pidtree-bcc: %zu probe(s) attached in %.3f s\n", d->n_probes - 1,
            (double)(time_monotonic_ns() - t0) / 1e9);
    status = DAEMON_EXIT_OK;
out:
    strbuf_release(&text);
    if (status != DAEMON_EXIT_OK)
        log_error(d->err);
    return status;
}

/* One line per probe on the way out: what an operator (and the benchmark)
 * needs to tell "quiet" from "dropping". */
static void stats_report(struct daemon *d)
{
    struct dispatch_stats st, *ds = &st;
    dispatch_get_stats(d->dispatch, &st);
    uint64_t emitted = 0;
    for (size_t i = 1; i < d->n_probes; i++) {
        uint32_t id = d->probes[i].id;
        emitted += ds->events[id];
        /* Written counts only lines the output took in full; a line the
         * output could not take (slow reader, full disk) is "unwritten". */
        fprintf(stderr,
                "pidtree-bcc: probe '%s': %llu events written, %llu unwritten (output), %llu "
                "rate-limited, %llu lost in the kernel\n",
                d->probes[i].ops->name, d->out->written[id] - d->written_before[id],
                d->out->dropped[id] - d->dropped_before[id],
                (unsigned long long)ds->rate_limited[id], (unsigned long long)lost_read(d, id));
    }
    fprintf(stderr,
            "pidtree-bcc: stopped: %llu records read, %llu malformed, %llu process records lost, "
            "latency mean %.3f ms max %.3f ms\n",
            (unsigned long long)ds->records, (unsigned long long)ds->bad_records,
            (unsigned long long)lost_read(d, 0),
            emitted ? (double)ds->latency_sum_ns / (double)emitted / 1e6 : 0.0,
            (double)ds->latency_max_ns / 1e6);
}

/* `final`: the daemon exits (rather than hands over to a restarted one),
 * so lines the output cannot take now are dropped and counted: a stopped
 * reader must not hold SIGTERM up. */
static void daemon_stop(struct daemon *d, bool final)
{
    probes_detach(d);
    /* What the kernel submitted before the detach is still in the ring:
     * write it out before leaving. Finite: nothing is added any more; and
     * bounded in time at exit (a full ring of the largest lines is
     * gigabytes of output), after which the rest is counted. */
    if (final)
        d->drain_deadline_ns = time_monotonic_ns() + STOP_DRAIN_NS;
    while (d->ringbuf && !dispatch_output_error(d->dispatch) && ringbuf_consume_batch(d) == -EAGAIN)
        output_flush(d->out);
    if (d->skipped_at_stop)
        fprintf(stderr,
                "pidtree-bcc: %llu record(s) left in the ring buffer at stop were not written "
                "(the drain is bounded to %d s)\n",
                (unsigned long long)d->skipped_at_stop, (int)(STOP_DRAIN_NS / 1000000000ull));
    for (size_t i = 1; i < d->n_probes; i++)
        if (d->probes[i].ops->stop && d->probes[i].state)
            d->probes[i].ops->stop(&d->probes[i]);
    if (d->out->fd >= 0 && output_flush(d->out) < 0 && d->exit_code == DAEMON_EXIT_OK)
        d->exit_code = DAEMON_EXIT_RUNTIME;
    if (final && output_pending(d->out)) {
        fprintf(stderr, "pidtree-bcc: %zu line(s) could not be written (output %s): dropped\n",
                output_pending(d->out),
                d->out->stalled ? strerror(d->out->stalled) : "not writable");
        output_drop_pending(d->out);
    }
    stats_report(d);
}

static void daemon_cleanup(struct daemon *d)
{
    probes_detach(d); /* a start that failed half way */
    if (d->ringbuf)
        bpf_free_ringbuf(d->ringbuf);
    rules_host_forget(d->rules, d->loop);
    event_loop_free(d->loop);
    if (d->signal_fd >= 0)
        close(d->signal_fd);
    for (size_t i = 0; i < PT_MAX_PROBES; i++) {
        plugin_set_free(d->plugins[i]);
        filter_tables_release(&d->filters[i]);
    }
    dispatch_free(d->dispatch);
    container_filter_free(d->cfilter);
    bpf_objects_free(d->objs);
    proc_cache_free(d->cache);
    uid_budget_free(d->budget);
    config_watch_free(d->watch);
    config_free(d->cfg);
    if (d->start_cfg != d->cfg)
        config_free(d->start_cfg);
    free(d->lost_values);
    probe_registry_release(&d->registry);
}

/* -p: the module, then with rules on what the kernel rules' maps will
 * hold (they are not compiled in). */
static enum daemon_exit print_module(struct daemon *d)
{
    struct strbuf text = STRBUF_INIT;
    enum daemon_exit status = DAEMON_EXIT_RUNTIME;
    const char *names[PT_MAX_PROBES];
    probe_names(d, names);
    int ret = module_render(d, &text);
    if (ret == 0 && rules_host_enabled(d->rules))
        ret = rules_host_describe_kernel(d->rules, names, d->n_probes, &text);
    if (ret == 0 && fwrite(text.data, 1, text.len, stdout) == text.len && fflush(stdout) == 0)
        status = DAEMON_EXIT_OK;
    else
        log_error(d->err[0] ? d->err : "cannot write the rendered module");
    strbuf_release(&text);
    return status;
}

/* -p: the checks the daemon makes before loading, then the module. */
static enum daemon_exit print_checked_module(struct daemon *d)
{
    if (config_check_deep(d) < 0) {
        log_error(d->err);
        return DAEMON_EXIT_CONFIG;
    }
    return print_module(d);
}

static struct daemon *daemon_new(const struct cli_options *opts, struct output *out,
                                 struct container_engine *engine, struct rules_host *rules)
{
    struct daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->opts = opts;
    d->out = out;
    d->engine = engine;
    d->rules = rules;
    d->signal_fd = d->ringbuf_fd = d->lost_fd = d->filtered_fd = -1;
    d->n_cpus = possible_cpus();
    /* A per-CPU value is one u64 per possible CPU, however many there are. */
    d->lost_values = calloc((size_t)d->n_cpus, sizeof(*d->lost_values));
    paths_resolve(d);
    if (!d->lost_values) {
        free(d);
        return NULL;
    }
    return d;
}

static void daemon_free(struct daemon *d)
{
    daemon_cleanup(d);
    free(d);
}

/* Config, checks, probes: everything before the kernel is touched. */
static enum daemon_exit daemon_prepare(struct daemon *d)
{
    if (config_prepare(d) < 0)
        return DAEMON_EXIT_CONFIG;
    if (!d->opts->print_and_quit && environment_check(d) < 0) {
        log_error(d->err);
        return DAEMON_EXIT_RUNTIME;
    }
    /* -p as a user who cannot read tracefs renders the tracepoint forms. */
    int ret = probes_configure(d, kernel_env_tracefs() != NULL);
    if (ret < 0) {
        log_error(d->err);
        /* A probe's bad option is the config's fault; a missing attach
         * point is the kernel's. */
        return d->opts->print_and_quit || ret == -EINVAL ? DAEMON_EXIT_CONFIG : DAEMON_EXIT_RUNTIME;
    }
    if (rules_prepare(d) < 0)
        return DAEMON_EXIT_CONFIG;
    return DAEMON_EXIT_OK;
}

/* The running daemon's probes stay attached until the new ones are: no
 * event goes uncaptured during a restart (the old ring buffer is not read
 * while the new module compiles, but what overflows it is counted as lost).
 * For a probe both have, the old one keeps the events before the moment the
 * new one was complete and the new one those after, so none is written
 * twice. */
static void daemon_handover(struct daemon *old, struct daemon *next, uint64_t started_ns)
{
    uint64_t cut = time_boot_ns();
    for (size_t i = 1; i < next->n_probes; i++)
        for (size_t j = 1; j < old->n_probes; j++)
            if (strcmp(next->probes[i].ops->name, old->probes[j].ops->name) == 0) {
                dispatch_accept_from(next->dispatch, next->probes[i].id, cut);
                dispatch_accept_until(old->dispatch, old->probes[j].id, cut);
            }
    daemon_stop(old, false);
    stats_mark(next);
    fprintf(stderr,
            "pidtree-bcc: restarted: the old probes stayed attached for the %.3f s the new ones "
            "took\n",
            (double)(time_boot_ns() - started_ns) / 1e9);
}

/* SIGHUP, or a -w change that needs one: a new daemon from the config as
 * it is now, started beside the running one. When it cannot start, the
 * running one goes on with the configuration it has. Returns the daemon to
 * run. */
static struct daemon *daemon_restart(struct daemon *d)
{
    uint64_t t0 = time_boot_ns();
    struct daemon *next = daemon_new(d->opts, d->out, d->engine, d->rules);
    if (next && daemon_prepare(next) == DAEMON_EXIT_OK && daemon_start(next) == DAEMON_EXIT_OK) {
        daemon_handover(d, next, t0);
        daemon_free(d);
        /* The old config's parse may have grown the heap by hundreds of
         * MB; give it back rather than keep it for the daemon's life. */
        malloc_trim(0);
        return next;
    }
    if (next)
        daemon_free(next);
    else
        log_error("out of memory");
    /* The new daemon may have taken the rules over before it failed. */
    if (rules_bind(d) < 0)
        log_error(d->err);
    malloc_trim(0);
    fprintf(stderr, "pidtree-bcc: restart failed: still running the previous configuration\n");
    d->exit_code = DAEMON_EXIT_OK;
    return d;
}

/* Rules are on with a rules directory or a control socket; the socket
 * has its default path unless told otherwise ("none": no socket). */
static struct rules_host *rules_host_create(const struct cli_options *opts)
{
    bool socket_off = opts->ctl_socket && strcmp(opts->ctl_socket, "none") == 0;
    struct rules_host_options ro = {.rules_dir = opts->rules_dir,
                                    .watch = opts->watch_config,
                                    .ctl_socket = socket_off         ? NULL
                                                  : opts->ctl_socket ? opts->ctl_socket
                                                  : opts->rules_dir && !opts->print_and_quit
                                                      ? CTL_SOCKET_DEFAULT
                                                      : NULL};
    return rules_host_new(&ro);
}

/* The container engine's client, for the daemon's whole life (restarts
 * included); NULL when DOCKER_HOST names no unix socket, or for -p. */
static struct container_engine *engine_open(const struct cli_options *opts)
{
    char path[256];
    const char *host = getenv("DOCKER_HOST");
    if (opts->print_and_quit)
        return NULL;
    int ret = container_engine_socket_path(host, path, sizeof(path));
    if (ret < 0) {
        fprintf(stderr,
                "pidtree-bcc: warning: DOCKER_HOST=%s: %s: container names are not reported and "
                "container_labels probes report nothing\n",
                host,
                ret == -EPROTONOSUPPORT ? "only unix:// sockets are supported" : strerror(-ret));
        return NULL;
    }
    struct container_engine *e = container_engine_new(path, "/proc", NULL);
    if (!e)
        fprintf(stderr, "pidtree-bcc: warning: cannot set up the container engine's client: %s\n",
                strerror(errno));
    return e;
}

enum daemon_exit daemon_main(const struct cli_options *opts)
{
    struct output *out = calloc(1, sizeof(*out));
    struct rules_host *rules = out ? rules_host_create(opts) : NULL;
    struct daemon *d = rules ? daemon_new(opts, out, NULL, rules) : NULL;
    struct container_engine *engine = NULL;
    if (!d) {
        log_error("out of memory");
        rules_host_free(rules);
        free(out);
        return DAEMON_EXIT_RUNTIME;
    }
    out->fd = -1;
    enum daemon_exit status = daemon_prepare(d);
    if (status == DAEMON_EXIT_OK && opts->print_and_quit)
        status = print_checked_module(d);
    else if (status == DAEMON_EXIT_OK) {
        d->engine = engine = engine_open(opts);
        status = daemon_start(d);
    }
    while (status == DAEMON_EXIT_OK && !opts->print_and_quit) {
        int ret = event_loop_run(d->loop);
        if (ret < 0) {
            fprintf(stderr, "pidtree-bcc: event loop failed: %s\n", strerror(-ret));
            d->exit_code = DAEMON_EXIT_RUNTIME;
        }
        if (d->exit_code == DAEMON_EXIT_RESTART) {
            fprintf(stderr, "pidtree-bcc: restarting with the config re-read\n");
            d = daemon_restart(d);
            continue;
        }
        daemon_stop(d, true);
        status = d->exit_code;
        break;
    }
    daemon_free(d);
    rules_host_free(rules);
    container_engine_free(engine);
    if (out->fd >= 0)
        output_close(out);
    free(out);
    return status;
}
