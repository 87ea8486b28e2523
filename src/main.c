/* pidtree-bcc: which process, started by whom, opened this connection. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"

int main(int argc, char **argv)
{
    struct cli_options opts;
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
    enum daemon_exit status = daemon_main(&opts);
    if (status == DAEMON_EXIT_RESTART) {
        /* SIGHUP: start afresh with the config re-read; everything was
         * detached and closed on the way out. */
        fprintf(stderr, "pidtree-bcc: SIGHUP: restarting\n");
        fflush(NULL);
        execv("/proc/self/exe", argv);
        perror("pidtree-bcc: restart failed");
        return 1;
    }
    return (int)status;
}
