/* cli: the command line (README.md, "Options", quotes its help). */
#ifndef PIDTREE_CLI_H
#define PIDTREE_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct cli_options {
    const char *config_path;            /* -c; NULL: no probes configured */
    const char *output_path;            /* -f; "-" is stdout */
    bool print_and_quit;                /* -p */
    bool watch_config;                  /* -w */
    unsigned health_check_period;       /* seconds; 0 = no periodic checks */
    unsigned long lost_event_telemetry; /* every N events; 0 = off */
    bool strict;                        /* --strict: config warnings are errors */
    const char *extra_probe_path;
    const char *extra_plugin_path;
    const char *rules_dir;  /* --rules-dir; NULL: none */
    const char *ctl_socket; /* --ctl-socket; NULL: none (the default path when rules are on) */
    bool show_version;
    bool show_help;
};

enum cli_result {
    CLI_OK = 0,
    CLI_USAGE_ERROR = 2,
};

/* Parses argv. On a usage error, writes the reason and a hint to `err`. */
enum cli_result cli_parse(int argc, char **argv, struct cli_options *opts, FILE *err);

void cli_print_help(FILE *out);

#endif
