/* bpf_objects: a rendered module compiled, loaded, and reduced to fds.
 *
 * libbcc compiles through LLVM, and merely linking it maps and relocates
 * libLLVM and libclang-cpp: tens of MB resident for the process's life. A
 * daemon on every host should not carry that, so the compile and the
 * program loads happen in a separate executable, pidtree-bcc-compile, run
 * once at start-up, which sends the program and map file descriptors back
 * over a unix socket and exits; the daemon keeps only the fds and links
 * nothing but BCC's small libbcc_bpf. The compiler's stderr (clang's
 * diagnostics, the verifier log) is captured for the error message.
 */
#ifndef PIDTREE_BPF_OBJECTS_H
#define PIDTREE_BPF_OBJECTS_H

#include <stddef.h>

#include "probe.h"

struct bpf_prog_spec {
    const char *function;
    enum probe_attach_kind kind;
    const char *target; /* the hook's name, for PROBE_CGROUP */
};

struct bpf_objects;

/* Compiles `text` and loads each program of `progs`. Returns NULL with errno
 * set and a message in `err` (which includes the compiler's or verifier's
 * output, trimmed to fit). */
struct bpf_objects *bpf_objects_load(const char *text, const struct bpf_prog_spec *progs,
                                     size_t n_progs, char *err, size_t errlen);

/* Where pidtree-bcc-compile is; set once before the first load. */
void bpf_objects_set_compiler(const char *path);

/* The fd of a loaded program or a map, or -ENOENT. Owned by the set. */
int bpf_objects_prog_fd(const struct bpf_objects *objs, const char *function);
int bpf_objects_map_fd(const struct bpf_objects *objs, const char *map);

void bpf_objects_free(struct bpf_objects *objs);

#endif
