/* kernel_env: what the running kernel offers, and the set-up it needs.
 *
 * Tracepoints are found through tracefs, which some hosts do not mount at
 * boot; BCC compiles against /lib/modules/$(uname -r)/build. Each check here
 * turns a missing piece into one message that names the cause and the fix.
 */
#ifndef PIDTREE_KERNEL_ENV_H
#define PIDTREE_KERNEL_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "probe.h"

/* The tracefs mount point in use ("/sys/kernel/tracing" or the debugfs
 * path), or NULL when none is mounted. */
const char *kernel_env_tracefs(void);

/* Mounts tracefs (and debugfs, where BCC also looks) when they are not.
 * Returns 0 or a negative errno with a message. */
int kernel_env_mount_tracefs(char *err, size_t errlen);

bool kernel_env_has_tracepoint(const char *category_slash_name);
bool kernel_env_has_kprobes(void);

/* Checks that BCC will find kernel headers. */
int kernel_env_check_headers(char *err, size_t errlen);

/* Picks the form of a probe: `wanted` when forced (failing with a message
 * when it cannot attach here), else the tracepoint form when every one of
 * its tracepoints exists, else the kprobe form when the kernel has kprobes.
 * `probing` false means no tracefs is visible (e.g. -p as non-root): the
 * tracepoint form is assumed. */
int kernel_env_choose_form(const struct probe_ops *ops, enum attach_mode wanted, bool probing,
                           enum attach_mode *chosen, char *err, size_t errlen);

#endif
