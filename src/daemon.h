/* daemon: the tracer's life, from a parsed command line to its exit status.
 *
 * Reads straight down, as libbpf-tools do: config, probes, render, checks
 * of filters and plugins (-p stops after them, printing the module), output,
 * compile and load, filters, attach, process cache, then the event loop
 * until a signal; then one cleanup path.
 */
#ifndef PIDTREE_DAEMON_H
#define PIDTREE_DAEMON_H

#include "cli.h"

enum daemon_exit {
    DAEMON_EXIT_OK = 0,
    DAEMON_EXIT_RUNTIME = 1,
    DAEMON_EXIT_CONFIG = 2,
    /* Internal: SIGHUP asked for a restart with the config re-read. */
    DAEMON_EXIT_RESTART = 100,
};

enum daemon_exit daemon_main(const struct cli_options *opts);

#endif
