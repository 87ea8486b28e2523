/* config_watch: notices when the config, or a file it includes, changes.
 *
 * Editors replace files by renaming a new one over them, which a watch on
 * the file itself would miss; so the directories are watched and events
 * filtered by name.
 */
#ifndef PIDTREE_CONFIG_WATCH_H
#define PIDTREE_CONFIG_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct config_watch;

/* Watches every file in cfg->files, and every symlink on the way to each
 * (a Kubernetes ConfigMap swaps a symlinked directory). NULL with errno on
 * failure. */
struct config_watch *config_watch_new(const struct config *cfg);

/* Watches the files of `cfg` instead: after a reload, an edited !include
 * may bring in new files, and symlinks may point elsewhere. Returns 0 or a
 * negative errno. */
int config_watch_update(struct config_watch *w, const struct config *cfg);
void config_watch_free(struct config_watch *w);

/* The inotify fd, for the event loop. */
int config_watch_fd(const struct config_watch *w);

/* Drains the inotify fd; true when a watched file changed. */
bool config_watch_read(struct config_watch *w);

/* True when the config was read in part from http(s) URLs, which no
 * inotify watch sees change: -w fetches them again every health-check
 * period. */
bool config_watch_has_remote(const struct config *cfg);

/* True when `next` says exactly what `cur` says (probes and their
 * options, included content resolved). */
bool config_same(const struct config *cur, const struct config *next);

/* True when `next` differs from `cur` only in what can be swapped without
 * a restart: filters and global port rules (in the kernel's maps), and the
 * options a probe's schema marks POPT_SWAPPABLE. */
bool config_swappable(const struct config *cur, const struct config *next);

#endif
