/* ctl_client: `pidtree-bcc ctl`, the command line's end of the control
 * socket (src/ctl_server.h).
 *
 *   pidtree-bcc ctl [--ctl-socket PATH] ls
 *   pidtree-bcc ctl [--ctl-socket PATH] add FILE...
 *   pidtree-bcc ctl [--ctl-socket PATH] rm NAME...
 *   pidtree-bcc ctl [--ctl-socket PATH] stats
 *   pidtree-bcc ctl [--ctl-socket PATH] trace [KEY=VALUE...]
 *
 * ls and stats print one JSON object per line (a rule, a probe); add and
 * rm say what they did; trace prints the event lines that pass its
 * filters until interrupted. Errors go to stderr with exit status 1 (2 for
 * bad usage).
 */
#ifndef PIDTREE_CTL_CLIENT_H
#define PIDTREE_CTL_CLIENT_H

/* argv[0] is "ctl". Returns the exit status. */
int ctl_client_main(int argc, char **argv);

#endif
