/* pidtree-bcc-compile: compiles a rendered module through libbcc (and so
 * LLVM), loads its programs, and hands the program and map fds to the
 * daemon over a socket, then exits.
 *
 * A separate executable so that the daemon never maps LLVM: linking libbcc
 * relocates libLLVM and libclang-cpp at start-up, tens of MB resident for
 * the daemon's whole life. Invoked by the daemon only:
 *
 *   pidtree-bcc-compile SOCK_FD TEXT_FD KIND:FUNCTION...
 *
 * KIND is t (tracepoint), r (raw tracepoint), k (kprobe, kretprobe,
 * uprobe) or c:HOOK (a cgroup hook). Diagnostics go to
 * stderr, which the daemon captures for its error message.
 */
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cgroup_hook.h"
#include "fdpass.h"
#include "strbuf.h"

#define VERIFIER_LOG_SIZE (1u << 20)

/* "c:HOOK:FUNCTION": the hook, with `function` set past it; NULL when the
 * hook is unknown or the function missing. */
static const struct cgroup_hook *spec_cgroup_hook(const char *spec, const char **function)
{
    const char *colon = strchr(spec + 2, ':');
    char name[64];
    if (!colon || !colon[1] || (size_t)(colon - spec - 2) >= sizeof(name))
        return NULL;
    snprintf(name, sizeof(name), "%.*s", (int)(colon - spec - 2), spec + 2);
    *function = colon + 1;
    return cgroup_hook_find(name);
}

static int program_load(void *mod, const char *function, int type, int attach_type, char *log)
{
    void *insns = bpf_function_start(mod, function);
    if (!insns) {
        fprintf(stderr, "program %s not found in the compiled module\n", function);
        return -ENOENT;
    }
    log[0] = '\0';
    int fd = bcc_func_load(mod, type, function, insns, (int)bpf_function_size(mod, function),
                           bpf_module_license(mod), bpf_module_kern_version(mod), 0, log,
                           VERIFIER_LOG_SIZE, NULL, attach_type);
    if (fd < 0) {
        int err = errno ? errno : EINVAL;
        size_t len = strlen(log);
        /* The verifier's verdict is at the end of its log. */
        const char *tail = len > 3000 ? log + len - 3000 : log;
        fprintf(stderr, "program %s rejected by the kernel: %s\n%s\n", function, strerror(err),
                tail);
        return -err;
    }
    return fd;
}

/* BCC reads and indexes the whole of /proc/kallsyms once per compile
 * (120,000 symbols here: 0.13 s of every start-up) only to learn whether
 * the kernel has bpf_probe_read_kernel, which every kernel with a BPF ring
 * buffer (5.8 and later) has. In a mount namespace of its own, which dies
 * with it, the compiler sees a kallsyms of that one line. A bind mount needs
 * a named file (not a memfd); it is unlinked at once. Best effort: without
 * CAP_SYS_ADMIN (the packaged service) BCC reads the real one. */
static void kallsyms_shorten(void)
{
    static const char line[] = "0000000000000000 T bpf_probe_read_kernel\n";
    char path[] = "/run/pidtree-bcc-kallsyms.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    if (write(fd, line, sizeof(line) - 1) == (ssize_t)(sizeof(line) - 1) &&
        unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
        (void)mount(path, "/proc/kallsyms", NULL, MS_BIND, NULL);
    unlink(path);
    close(fd);
}

static int compile_and_send(int sock, const char *text, char **specs, int n)
{
    kallsyms_shorten();
    void *mod = bpf_module_create_c_from_string(text, 0, NULL, 0, true, NULL);
    if (!mod) {
        fprintf(stderr, "the eBPF module did not compile\n");
        return -EINVAL;
    }
    char *log = malloc(VERIFIER_LOG_SIZE);
    if (!log)
        return -ENOMEM;
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++) {
        const char *function = specs[i] + 2;
        int type = specs[i][0] == 't'   ? BPF_PROG_TYPE_TRACEPOINT
                   : specs[i][0] == 'r' ? BPF_PROG_TYPE_RAW_TRACEPOINT
                                        : BPF_PROG_TYPE_KPROBE;
        int attach_type = -1;
        if (specs[i][0] == 'c') {
            const struct cgroup_hook *hook = spec_cgroup_hook(specs[i], &function);
            type = hook->prog_type;
            attach_type = hook->attach_type;
        }
        int fd = program_load(mod, function, type, attach_type, log);
        ret = fd < 0 ? fd : fdpass_send(sock, FDPASS_PROG, function, fd, 0);
    }
    free(log);
    for (size_t i = 0; i < bpf_num_tables(mod) && ret == 0; i++)
        ret = fdpass_send(sock, FDPASS_MAP, bpf_table_name(mod, i), bpf_table_fd_id(mod, i), 0);
    /* No bpf_module_destroy: the process exits, and the kernel objects live
     * on through the fds the daemon now holds. */
    return ret;
}

static bool spec_valid(const char *s)
{
    const char *function;
    if (s[0] == 'c')
        return s[1] == ':' && spec_cgroup_hook(s, &function);
    return (s[0] == 't' || s[0] == 'r' || s[0] == 'k') && s[1] == ':' && s[2];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "pidtree-bcc-compile is run by pidtree-bcc, not by hand\n");
        return 2;
    }
    int sock = atoi(argv[1]), text_fd = atoi(argv[2]);
    for (int i = 3; i < argc; i++)
        if (!spec_valid(argv[i])) {
            fprintf(stderr, "bad program spec '%s'\n", argv[i]);
            return 2;
        }
    struct strbuf text = STRBUF_INIT;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", text_fd);
    int ret = strbuf_read_file(&text, path);
    if (ret < 0)
        fprintf(stderr, "cannot read the module text: %s\n", strerror(-ret));
    else
        ret = compile_and_send(sock, text.data, argv + 3, argc - 3);
    strbuf_release(&text);
    fdpass_send(sock, FDPASS_DONE, NULL, -1, ret);
    fflush(stderr);
    return ret == 0 ? 0 : 1;
}
