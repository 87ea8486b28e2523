/* pidtree-bcc: which process, started by whom, opened this connection. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl_client.h"
#include "daemon.h"

int main(int argc, char **argv)
{
    struct cli_options opts;
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return ctl_client_main(argc - 1, argv + 1);
    if (cli_parse(argc, argv, &opts, stderr) != CLI_OK)
        return 2;
    if (opts.show_help) {
        cli_print_help(stdout);
        return 0;
    }
    if (opts.show_version) {
        printf("pidtree-bcc %s\n", PIDTREE_VERSION);
        return 0;
    }
    return (int)daemon_main(&opts);
}
