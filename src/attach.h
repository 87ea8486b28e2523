/* attach: one loaded program on one hook, and its undoing. */
#ifndef PIDTREE_ATTACH_H
#define PIDTREE_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "probe.h"

struct attach_link {
    int fd; /* perf event fd; -1 when not attached */
    enum probe_attach_kind kind;
    char event_name[96]; /* kprobe event to remove on detach */
};

/* Attaches `prog_fd` as `ap` says, at `target` (ap->target, with a
 * uprobe's "{OPTION}" expanded: probe_attach_target()). Returns 0, or a
 * negative errno with "failed to attach tracepoint sock/inet_sock_set_state:
 * <reason>" in err. */
int attach_link_create(int prog_fd, const struct probe_attach_point *ap, const char *target,
                       struct attach_link *link, char *err, size_t errlen);

/* Where a uprobe target "BINARY:SYMBOL" attaches: the symbol's offset in
 * the file. Returns 0, -EINVAL (not BINARY:SYMBOL), -ENODATA (no such
 * symbol) or the errno of reading BINARY. */
int attach_uprobe_offset(const char *target, uint64_t *offset);
void attach_link_destroy(struct attach_link *link);

#endif
