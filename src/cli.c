#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_HEALTH_CHECK_PERIOD = 1000,
    OPT_LOST_EVENT_TELEMETRY,
    OPT_EXTRA_PROBE_PATH,
    OPT_EXTRA_PLUGIN_PATH,
    OPT_STRICT,
    OPT_RULES_DIR,
    OPT_CTL_SOCKET,
};

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"output_file", required_argument, NULL, 'f'},
    {"print-and-quit", no_argument, NULL, 'p'},
    {"watch-config", no_argument, NULL, 'w'},
    {"health-check-period", required_argument, NULL, OPT_HEALTH_CHECK_PERIOD},
    {"lost-event-telemetry", required_argument, NULL, OPT_LOST_EVENT_TELEMETRY},
    {"extra-probe-path", required_argument, NULL, OPT_EXTRA_PROBE_PATH},
    {"extra-plugin-path", required_argument, NULL, OPT_EXTRA_PLUGIN_PATH},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"rules-dir", required_argument, NULL, OPT_RULES_DIR},
    {"ctl-socket", required_argument, NULL, OPT_CTL_SOCKET},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Kept word for word in README.md's "Options" section; itests/test_cli.sh
 * checks that they agree. */
void cli_print_help(FILE *out)
{
    fputs("usage: pidtree-bcc [-c CONFIG] [-f OUTPUT] [-p] [-w] [--health-check-period SECS]\n"
          "                   [--lost-event-telemetry NEVENTS] [--extra-probe-path DIR]\n"
          "                   [--extra-plugin-path DIR] [--strict] [--rules-dir DIR]\n"
          "                   [--ctl-socket PATH] [-v|--version] [-h|--help]\n"
          "       pidtree-bcc ctl [--ctl-socket PATH] ls | add FILE... | rm NAME... | stats\n"
          "                       | trace [KEY=VALUE...]\n"
          "\n"
          "Attaches the process tree (pid, command line, user, up to PID 1) to the\n"
          "events eBPF probes report (connections, listeners, execs, file opens,\n"
          "typed shell commands), one JSON object per line.\n"
          "\n"
          "options:\n"
          "  -c, --config CONFIG           YAML file with one top-level key per probe to run\n"
          "  -f, --output_file OUTPUT      where JSON lines go; - (default) is stdout\n"
          "  -p, --print-and-quit          check the config as the daemon would, print the\n"
          "                                rendered eBPF C and exit, loading nothing\n"
          "  -w, --watch-config            swap filters when the config changes; restart\n"
          "                                when a setting that cannot be swapped changes\n"
          "  --health-check-period SECS    seconds between reports of lost process\n"
          "                                records and fetches of remote includes\n"
          "                                (default 60; 0: never); local config changes\n"
          "                                (-w) and lost probe events are seen every second\n"
          "  --lost-event-telemetry N      every N events, report the events lost so far\n"
          "                                (0 or negative, as -1: off, the default)\n"
          "  --extra-probe-path DIR        directory searched for probes not built in\n"
          "  --extra-plugin-path DIR       directory searched for plugins not built in\n"
          "  --strict                      refuse the config on any warning (an unknown\n"
          "                                key) instead of ignoring what is not understood\n"
          "  --rules-dir DIR               rules (*.yml, *.yaml) to apply to every event:\n"
          "                                log, kill, interrupt or stop; re-read with -w\n"
          "  --ctl-socket PATH             the control socket (default, when rules are on:\n"
          "                                /run/pidtree-bcc/ctl.sock; none: no socket)\n"
          "  -v, --version                 print the version and exit\n"
          "  -h, --help                    print this help and exit\n"
          "\n"
          "exit status: 0 clean stop, 1 runtime failure, 2 bad usage or configuration\n",
          out);
}

static int parse_unsigned(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    if (!text[0] || text[0] == '-')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

__attribute__((format(printf, 2, 3))) static enum cli_result usage_error(FILE *err, const char *fmt,
                                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pidtree-bcc: ", err);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputs("\ntry 'pidtree-bcc --help'\n", err);
    return CLI_USAGE_ERROR;
}

enum cli_result cli_parse(int argc, char **argv, struct cli_options *opts, FILE *err)
{
    memset(opts, 0, sizeof(*opts));
    opts->output_path = "-";
    opts->health_check_period = 60;
    unsigned long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:f:pwvh", long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts->config_path = optarg;
            break;
        case 'f':
            opts->output_path = optarg;
            break;
        case 'p':
            opts->print_and_quit = true;
            break;
        case 'w':
            opts->watch_config = true;
            break;
        case 'v':
            opts->show_version = true;
            break;
        case 'h':
            opts->show_help = true;
            break;
        case OPT_HEALTH_CHECK_PERIOD:
            if (parse_unsigned(optarg, 86400, &v) < 0)
                return usage_error(err,
                                   "--health-check-period: '%s' is not a number of seconds "
                                   "between 0 (never) and 86400",
                                   optarg);
            opts->health_check_period = (unsigned)v;
            break;
        case OPT_LOST_EVENT_TELEMETRY:
            /* The original's default is -1: anything not above 0 is off. */
            if (parse_unsigned(optarg[0] == '-' ? optarg + 1 : optarg, 1000000000ul, &v) < 0)
                return usage_error(err,
                                   "--lost-event-telemetry: '%s' is not a number of events "
                                   "(0 or less: off)",
                                   optarg);
            opts->lost_event_telemetry = optarg[0] == '-' ? 0 : v;
            break;
        case OPT_EXTRA_PROBE_PATH:
            opts->extra_probe_path = optarg;
            break;
        case OPT_EXTRA_PLUGIN_PATH:
            opts->extra_plugin_path = optarg;
            break;
        case OPT_STRICT:
            opts->strict = true;
            break;
        case OPT_RULES_DIR:
            opts->rules_dir = optarg;
            break;
        case OPT_CTL_SOCKET:
            opts->ctl_socket = optarg;
            break;
        case ':':
            return usage_error(err, "option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(err, "unexpected argument '%s'", argv[optind]);
    return CLI_OK;
}
