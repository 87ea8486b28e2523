/* container: which container a process is in, from its cgroup.
 *
 * Every container engine puts a container's processes in a cgroup of its
 * own, named after the container: /docker/ID (Docker, cgroupfs),
 * /system.slice/docker-ID.scope (Docker, systemd), /libpod_parent/libpod-ID
 * or .../libpod-ID.scope (podman), .../cri-containerd-ID.scope (containerd
 * under Kubernetes), .../crio-ID.scope (CRI-O), /kubepods/.../podUID/ID
 * (Kubernetes, cgroupfs). /proc/PID/cgroup names that cgroup, so the
 * container's id and its runtime are known without asking any engine, for
 * a process that exited, and on hosts where no engine answers.
 *
 * The parsers are pure, so the unit tests feed them cgroup files seen on
 * real hosts; container_cgroup_id() reads /proc and the cgroup mount.
 */
#ifndef PIDTREE_CONTAINER_H
#define PIDTREE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

/* A container id: 64 hex digits for every OCI engine; a name (LXC,
 * systemd-nspawn) of at most as many characters. */
#define CONTAINER_ID_MAX 64

enum container_runtime {
    CONTAINER_RUNTIME_NONE = 0, /* not in a container */
    CONTAINER_RUNTIME_DOCKER,
    CONTAINER_RUNTIME_PODMAN,
    CONTAINER_RUNTIME_CONTAINERD,
    CONTAINER_RUNTIME_CRIO,
    CONTAINER_RUNTIME_KUBERNETES, /* kubepods, cgroupfs driver: runtime not named */
    CONTAINER_RUNTIME_LXC,
    CONTAINER_RUNTIME_NSPAWN,
    CONTAINER_RUNTIME_UNKNOWN, /* a 64-hex cgroup under a parent no rule names */
};

struct container_ident {
    enum container_runtime runtime;
    char id[CONTAINER_ID_MAX + 1];
};

/* The container of the process whose /proc/PID/cgroup text is `text`
 * (NUL-terminated). The cgroup v2 line ("0::/...") decides when it names a
 * container; else the v1 lines, in order. Of nested containers (Docker in
 * Docker), the outermost is taken: the one the host's engine manages.
 * Returns 1 and fills *out for a container, 0 when the process is not in
 * one (out->runtime is CONTAINER_RUNTIME_NONE). */
int container_from_cgroup(const char *text, struct container_ident *out);

/* The same for one cgroup path ("/docker/ID/..."). */
int container_from_cgroup_path(const char *path, size_t len, struct container_ident *out);

/* Copies the cgroup v2 path ("0::PATH") of `text` into `buf`. Returns 0, or
 * -ENOENT when there is no v2 line, -ENAMETOOLONG when it does not fit. */
int container_cgroup_v2_path(const char *text, char *buf, size_t size);

/* The length of `path` up to the end of the component that names the
 * container ("/machine.slice/libpod-ID.scope" of
 * "/machine.slice/libpod-ID.scope/container"); all of it when none does. */
size_t container_cgroup_prefix(const char *path, size_t len);

/* The mount point of the cgroup v2 hierarchy in /proc/self/mounts text:
 * /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts. Returns 0,
 * -ENOENT when there is none (cgroup v1 only), -ENAMETOOLONG. */
int container_mounts_cgroup2(const char *mounts, char *buf, size_t size);

/* The id the kernel gives (bpf_get_current_cgroup_id) the cgroup that
 * names the container process `pid` is in, as seen under `proc_root`, on
 * the cgroup v2 hierarchy mounted at `cgroup2_root`: the inode number of
 * its directory. Returns 0 or a negative errno (the process is gone,
 * no v2 hierarchy). */
int container_cgroup_id(const char *proc_root, const char *cgroup2_root, uint32_t pid,
                        uint64_t *id);

/* "docker", "podman", "containerd", "cri-o", "kubernetes", "lxc",
 * "systemd-nspawn", "unknown"; NULL for CONTAINER_RUNTIME_NONE. */
const char *container_runtime_name(enum container_runtime runtime);

#endif
