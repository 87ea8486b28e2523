/* probe: what a probe is to the rest of the daemon.
 *
 * A probe is a template (templates/NAME.bpf.c), a header shared with the
 * kernel (templates/NAME.h) and a decoder (probes/NAME.c). The descriptor
 * below is all the daemon knows of it: where its code is, the two ways it
 * can attach, and how to turn one of its records into JSON fields. Nothing
 * outside probes/NAME.c and its template knows the record's layout.
 */
#ifndef PIDTREE_PROBE_H
#define PIDTREE_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "probe_schema.h"

struct strbuf;
struct probe_instance;
struct filter_tables;

enum probe_attach_kind {
    PROBE_TRACEPOINT, /* target "category/name" */
    PROBE_KPROBE,     /* target: kernel function */
    PROBE_KRETPROBE,  /* target: kernel function */
    PROBE_CGROUP,     /* target: a cgroup socket hook (cgroup_hook.h), e.g. "sock_release" */
    PROBE_UPROBE,     /* target "BINARY:SYMBOL", a function's entry in a program */
    PROBE_URETPROBE,  /* target "BINARY:SYMBOL", its return */
    /* target "category/name": the same tracepoint, its program handed the
     * tracepoint's own arguments (struct bpf_raw_tracepoint_args) instead
     * of the record the perf machinery would first build from them. */
    PROBE_RAW_TRACEPOINT,
};

/* A uprobe's BINARY may be "{OPTION}": the value of the probe's path option
 * of that name (bashreadline's binary), expanded by probe_attach_target(). */
struct probe_attach_point {
    enum probe_attach_kind kind;
    const char *target;
    const char *function; /* the program in the template */
};

struct probe_form {
    const struct probe_attach_point *points;
    size_t n_points;
};

/* A field of the probe's events, as rules (src/rules.h) see it: its name
 * and type (checked when a rule is loaded), and the part it plays in the
 * probe's kernel programs, where kernel rules (templates/rules.bpf.c) are
 * evaluated at the event. A field inside the elements of a list field is
 * named "list.field" ("destinations.daddr"). */
enum probe_field_type {
    PROBE_FIELD_STRING = 1,
    PROBE_FIELD_NUMBER,
    PROBE_FIELD_ADDR, /* an address in its text form */
    PROBE_FIELD_LIST, /* a list of objects */
};

enum probe_field_kernel {
    PROBE_KERNEL_NONE = 0,
    PROBE_KERNEL_ADDR, /* handed to pt_rules_apply() as its address */
    PROBE_KERNEL_PORT, /* handed to pt_rules_apply() as its port */
};

struct probe_field {
    const char *name;
    enum probe_field_type type;
    enum probe_field_kernel kernel;
};

/* What a running probe can ask of the daemon. */
struct probe_services {
    /* Emits one event for this probe: fills the common fields, runs the
     * plugins and writes the line. `event` is borrowed. */
    int (*emit)(struct probe_instance *pi, uint32_t pid, uint64_t boot_ns, json_t *event);
    /* The fd of one of the module's maps, or a negative errno. */
    int (*map_fd)(struct probe_instance *pi, const char *name);
    /* Whether the probe's container_labels let an event of process `pid`
     * through: for events no kernel program filtered (snapshots). */
    bool (*container_allowed)(struct probe_instance *pi, uint32_t pid);
};

struct probe_ops {
    const char *name;
    const char *header;   /* file in the template directory, or NULL */
    const char *template; /* file in the template directory */
    struct probe_form tracepoint_form;
    struct probe_form kprobe_form;
    size_t record_size; /* smallest valid record */
    /* The probe's own options; the config module checks and types them,
     * and conf->opts holds their values in this table's order. */
    struct probe_schema schema;
    /* The fields of its events, for rules; NULL: not declared (a rule's
     * fields are then typed from the values it compares them with). */
    const struct probe_field *fields;
    size_t n_fields;
    /* Its kernel programs evaluate kernel rules (pt_rules_apply), and the
     * attach points they need for it besides the form's, attached only when
     * rules are on (tcp_connect's cgroup connect hooks, which refuse a
     * connect before its SYN is sent). */
    bool kernel_rules;
    struct probe_form rules_form;

    /* Checks what one option alone cannot say (options that depend on each
     * other, a file that must exist). Returns 0, or -EINVAL with `err` set.
     * Optional. */
    int (*validate)(const struct probe_ops *ops, const struct probe_conf *conf,
                    struct pt_error *err);

    /* Appends the probe's settings as #define lines (typed values only).
     * Optional. */
    int (*render_settings)(const struct probe_ops *ops, const struct probe_conf *conf,
                           struct strbuf *out);

    /* Writes the probe's own maps (filters it keeps apart from the shared
     * ones) from `next`: once loaded, before attach (pi->conf == next), and
     * on a -w swap of its swappable options, with pi->conf still the old
     * config. Returns 0 or a negative errno (a swap then restarts).
     * Optional. */
    int (*maps_load)(struct probe_instance *pi, const struct probe_conf *next);

    /* Adds the probe's own fields to `event` from one record whose size was
     * checked against record_size. Returns 0, or -EAGAIN when the record
     * produces no line now (it only updated the probe's state), or a
     * negative errno. */
    int (*decode)(struct probe_instance *pi, const void *record, size_t size, json_t *event);

    /* Optional: a successful exec, from the process lifecycle's record (a
     * struct pt_exec_event of `size` bytes, at least up to its args), once
     * the process cache holds the new program. Fills `event` as decode
     * does; -EAGAIN: no event. The kernel sends this record for every exec
     * anyway, so a probe reporting execs costs no kernel work. */
    int (*process_exec)(struct probe_instance *pi, const void *record, size_t size, json_t *event);
    /* Optional: false when attach point `ap` of the chosen form is not used
     * with `conf` (an option off, a kernel without a helper): its program
     * is neither loaded nor attached, and the template may leave it out. */
    bool (*point_active)(const struct probe_attach_point *ap, const struct probe_conf *conf);

    /* Optional: called once attached, with the epoll-free periodic hook
     * `tick` called every second (session expiry, snapshots). */
    int (*start)(struct probe_instance *pi);
    void (*tick)(struct probe_instance *pi, uint64_t now_boot_ns);
    /* Optional: a process exited (called before the process cache forgets
     * it, so its tree is still whole). */
    void (*process_exit)(struct probe_instance *pi, uint32_t pid, uint64_t boot_ns);
    void (*stop)(struct probe_instance *pi);

    /* The description of a probe from --extra-probe-path; NULL otherwise. */
    const void *desc;
};

/* A configured probe in a running daemon. */
struct probe_instance {
    const struct probe_ops *ops;
    const struct probe_conf *conf;
    uint32_t id;             /* PT_PROBE_ID in the template; indexes the shared maps */
    enum attach_mode attach; /* the form chosen: ATTACH_TRACEPOINT or ATTACH_KPROBE */
    const struct probe_services *services;
    void *services_ctx;
    const struct filter_tables *filters; /* what the kernel applies, for userland checks */
    void *state;                         /* the probe's own, owned by its start/stop */
};

/* The built-in probes. */
const struct probe_ops *probe_builtin_find(const char *name);
/* Their names, "tcp_connect, net_listen, ...", for messages. */
const char *probe_builtin_names(void);
extern const struct probe_ops probe_tcp_connect;
extern const struct probe_ops probe_net_listen;
extern const struct probe_ops probe_udp_session;
extern const struct probe_ops probe_bashreadline;
extern const struct probe_ops probe_file_open;
extern const struct probe_ops probe_tcp_accept;
extern const struct probe_ops probe_exec;
/* The process lifecycle programs every module carries (probe id 0). */
extern const struct probe_ops probe_process;

/* True unless the probe's point_active says `ap` is not used with `conf`. */
bool probe_point_active(const struct probe_ops *ops, const struct probe_conf *conf,
                        const struct probe_attach_point *ap);

const struct probe_form *probe_form_get(const struct probe_ops *ops, enum attach_mode mode);

/* The attach kind's name, "tracepoint", "kprobe", "kretprobe", "cgroup",
 * "uprobe", "uretprobe", "raw_tracepoint", for messages and extra probes. */
const char *probe_attach_kind_name(enum probe_attach_kind kind);

/* `ap->target` with a uprobe's "{OPTION}" replaced by that path option's
 * value in `conf` (NULL: the option's default). Returns 0, or -EINVAL with
 * the reason in `buf` (an option that is not a set path option), or
 * -ENAMETOOLONG. */
int probe_attach_target(const struct probe_ops *ops, const struct probe_conf *conf,
                        const struct probe_attach_point *ap, char *buf, size_t len);

/* Raw tracepoint programs on socket tracepoints (tcp_connect's
 * inet_sock_set_state, udp_session's sock_send_length) get the sock alone
 * and read its protocol and IPv6 addresses at offsets from the running
 * kernel's BTF. True when BTF has them all (sk_protocol is a bitfield
 * before 5.6): the probes then attach those programs instead of their
 * plain tracepoint ones. */
bool probe_sock_raw_usable(void);
/* point_active for a probe whose every plain tracepoint has a raw twin in
 * its tracepoint form: the raw ones when probe_sock_raw_usable(), the plain
 * ones otherwise; other points always. */
bool probe_sock_raw_point_active(const struct probe_attach_point *ap,
                                 const struct probe_conf *conf);
/* Appends those offsets as PT_SK_OFF_PROTOCOL, PT_SK_OFF_V6_DADDR and
 * PT_SK_OFF_V6_RCV_SADDR (once per module, whichever probe asks first);
 * nothing when they are not all known. */
int probe_sock_raw_render(struct strbuf *out);

/* Formats an address from a record (`family` AF_INET uses the first 4
 * bytes) in its usual text form. IPv4-mapped IPv6 addresses print as IPv4.
 * `buf` must hold INET6_ADDRSTRLEN. */
const char *probe_addr_format(int family, const uint8_t addr[16], char *buf);

#endif
