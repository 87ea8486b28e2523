/* extra_probe: probes a site adds without forking the project.
 *
 * A probe not built in is found in --extra-probe-path as two files: NAME.bpf.c
 * (its eBPF C, written like the built-in templates) and NAME.yml, which
 * declares its attach points, the fields of its event and its settings:
 *
 *   attach:
 *     tracepoint: [{target: syscalls/sys_enter_unlinkat, program: f}]
 *     kprobe: [{target: do_unlinkat, program: g, kind: kprobe}]
 *   fields:
 *     - {name: dfd, type: s32}
 *     - {name: path, type: string, size: 256}
 *   settings:
 *     - {name: min_uid, type: int, default: 0}
 *
 * From the fields the daemon generates `struct NAME_event` (after the common
 * header) into the rendered module, so the template and the generic decoder
 * agree on the layout by construction; settings become `#define
 * PT_SETTING_<name>` from the probe's config (or the default).
 */
#ifndef PIDTREE_EXTRA_PROBE_H
#define PIDTREE_EXTRA_PROBE_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "probe.h"

/* Fills `ops` from a description already read as JSON; `template_path` is
 * the absolute path of NAME.bpf.c. `origin` names the description file in
 * messages. Returns 0, or a negative errno with `err` naming the file and field. */
int extra_probe_from_json(const char *name, const json_t *desc, const char *template_path,
                          const char *origin, struct probe_ops *ops, struct pt_error *err);

/* Reads DIR/NAME.yml and checks DIR/NAME.bpf.c exists. */
int extra_probe_load(const char *dir, const char *name, struct probe_ops *ops,
                     struct pt_error *err);

/* Frees what extra_probe_from_json() allocated for `ops`. */
void extra_probe_release(struct probe_ops *ops);

#endif
