#include "container.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One path component: [s, s + len). */
struct component {
    const char *s;
    size_t len;
};

/* Cgroup names that carry an engine's container id: PREFIX<64 hex>, with
 * ".scope" when systemd manages the cgroup. "libpod-conmon-ID.scope" and
 * "crio-conmon-ID.scope" hold the engine's monitor, not the container: the
 * hex test rejects them. */
static const struct {
    const char *prefix;
    enum container_runtime runtime;
} scoped_prefixes[] = {
    {"docker-", CONTAINER_RUNTIME_DOCKER},
    {"libpod-", CONTAINER_RUNTIME_PODMAN},
    {"cri-containerd-", CONTAINER_RUNTIME_CONTAINERD},
    {"nerdctl-", CONTAINER_RUNTIME_CONTAINERD},
    {"crio-", CONTAINER_RUNTIME_CRIO},
};

static bool is_hex64(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    return true;
}

static bool starts_with(struct component c, const char *prefix)
{
    size_t n = strlen(prefix);
    return c.len >= n && memcmp(c.s, prefix, n) == 0;
}

static bool equals(struct component c, const char *word)
{
    return c.len == strlen(word) && memcmp(c.s, word, c.len) == 0;
}

static int ident_set(struct container_ident *out, enum container_runtime runtime, const char *id,
                     size_t len)
{
    out->runtime = runtime;
    memcpy(out->id, id, len);
    out->id[len] = '\0';
    return 1;
}

/* A container name (LXC, nspawn) as an id: printable, no quoting needed by
 * anyone reading it back. */
static bool is_name(const char *s, size_t len)
{
    if (len == 0 || len > CONTAINER_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-\\", s[i]))
            return false;
    return true;
}

static int match_scoped(struct component c, struct container_ident *out)
{
    for (size_t i = 0; i < sizeof(scoped_prefixes) / sizeof(scoped_prefixes[0]); i++) {
        if (!starts_with(c, scoped_prefixes[i].prefix))
            continue;
        size_t plen = strlen(scoped_prefixes[i].prefix);
        size_t rest = c.len - plen;
        if (rest == 64 + 6 && memcmp(c.s + plen + 64, ".scope", 6) == 0)
            rest = 64;
        if (is_hex64(c.s + plen, rest))
            return ident_set(out, scoped_prefixes[i].runtime, c.s + plen, 64);
    }
    return 0;
}

/* What a component's ancestors say about it. */
struct ancestry {
    struct component parent, grandparent;
    bool kubepods; /* some ancestor is Kubernetes' */
};

/* A bare 64-hex cgroup: Docker's cgroupfs driver (/docker/ID), ECS
 * (/ecs/TASK/ID), Kubernetes' cgroupfs driver (/kubepods/.../podUID/ID). */
static enum container_runtime bare_runtime(const struct ancestry *a)
{
    if (a->kubepods)
        return CONTAINER_RUNTIME_KUBERNETES;
    if (equals(a->parent, "docker") || equals(a->grandparent, "ecs"))
        return CONTAINER_RUNTIME_DOCKER;
    return CONTAINER_RUNTIME_UNKNOWN;
}

static int match_named(struct component c, const struct ancestry *a, struct container_ident *out)
{
    if (starts_with(c, "lxc.payload.") && is_name(c.s + 12, c.len - 12))
        return ident_set(out, CONTAINER_RUNTIME_LXC, c.s + 12, c.len - 12);
    if (equals(a->parent, "lxc") && is_name(c.s, c.len))
        return ident_set(out, CONTAINER_RUNTIME_LXC, c.s, c.len);
    if (starts_with(c, "systemd-nspawn@") && c.len > 15 + 8 &&
        memcmp(c.s + c.len - 8, ".service", 8) == 0 && is_name(c.s + 15, c.len - 15 - 8))
        return ident_set(out, CONTAINER_RUNTIME_NSPAWN, c.s + 15, c.len - 15 - 8);
    return 0;
}

static int match_component(struct component c, const struct ancestry *a,
                           struct container_ident *out)
{
    if (match_scoped(c, out) || match_named(c, a, out))
        return 1;
    if (is_hex64(c.s, c.len))
        return ident_set(out, bare_runtime(a), c.s, 64);
    return 0;
}

/* Components from the root down; the first that names a container is the
 * outermost: the container the host's engine knows. *prefix is the length
 * of the path up to the end of that component. */
static int match_path(const char *path, size_t len, struct container_ident *out, size_t *prefix)
{
    struct ancestry a = {{"", 0}, {"", 0}, false};
    const char *end = path + len;
    out->runtime = CONTAINER_RUNTIME_NONE;
    out->id[0] = '\0';
    for (const char *p = path; p < end;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        struct component c = {p, (size_t)(stop - p)};
        p = stop + 1;
        if (c.len == 0)
            continue;
        *prefix = (size_t)(stop - path);
        if (match_component(c, &a, out))
            return 1;
        a.kubepods = a.kubepods || starts_with(c, "kubepods");
        a.grandparent = a.parent;
        a.parent = c;
    }
    *prefix = len;
    return 0;
}

int container_from_cgroup_path(const char *path, size_t len, struct container_ident *out)
{
    size_t prefix;
    return match_path(path, len, out, &prefix);
}

size_t container_cgroup_prefix(const char *path, size_t len)
{
    struct container_ident ci;
    size_t prefix;
    match_path(path, len, &ci, &prefix);
    return prefix;
}

/* The line's path: after the second ':' ("ID:CONTROLLERS:PATH"). */
static bool line_path(const char *line, size_t len, const char **path, size_t *plen)
{
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(line + len - c1 - 1)) : NULL;
    if (!c2)
        return false;
    *path = c2 + 1;
    *plen = (size_t)(line + len - *path);
    return true;
}

static bool is_v2_line(const char *line, size_t len)
{
    return len >= 3 && memcmp(line, "0::", 3) == 0;
}

/* The next line of `*cursor` (without its newline) in *line and *len;
 * false at the end of the text. */
static bool next_line(const char **cursor, const char **line, size_t *len)
{
    if (!**cursor)
        return false;
    const char *nl = strchr(*cursor, '\n');
    *line = *cursor;
    *len = nl ? (size_t)(nl - *cursor) : strlen(*cursor);
    *cursor = nl ? nl + 1 : *cursor + *len;
    return true;
}

/* The v2 line's path when `v2_pass`, else the v1 lines' in order. */
static int scan_lines(const char *text, bool v2_pass, struct container_ident *out)
{
    const char *line, *path;
    size_t len, plen;
    while (next_line(&text, &line, &len))
        if (is_v2_line(line, len) == v2_pass && line_path(line, len, &path, &plen) &&
            container_from_cgroup_path(path, plen, out))
            return 1;
    return 0;
}

int container_from_cgroup(const char *text, struct container_ident *out)
{
    out->runtime = CONTAINER_RUNTIME_NONE;
    out->id[0] = '\0';
    return scan_lines(text, true, out) || scan_lines(text, false, out) ? 1 : 0;
}

int container_cgroup_v2_path(const char *text, char *buf, size_t size)
{
    const char *line;
    size_t len;
    while (next_line(&text, &line, &len)) {
        if (!is_v2_line(line, len))
            continue;
        if (len - 3 >= size)
            return -ENAMETOOLONG;
        memcpy(buf, line + 3, len - 3);
        buf[len - 3] = '\0';
        return 0;
    }
    return -ENOENT;
}

int container_mounts_cgroup2(const char *mounts, char *buf, size_t size)
{
    const char *line;
    size_t len;
    while (next_line(&mounts, &line, &len)) {
        /* "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,... 0 0" */
        char dev[64], dir[512], type[32];
        char copy[1024];
        if (len >= sizeof(copy))
            continue;
        memcpy(copy, line, len);
        copy[len] = '\0';
        if (sscanf(copy, "%63s %511s %31s", dev, dir, type) != 3 || strcmp(type, "cgroup2") != 0)
            continue;
        if (strlen(dir) >= size)
            return -ENAMETOOLONG;
        strcpy(buf, dir);
        return 0;
    }
    return -ENOENT;
}

/* The file at PROC/PID/NAME into `buf` (NUL-terminated). */
static int read_small(const char *proc_root, uint32_t pid, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%" PRIu32 "/%s", proc_root, pid, name) >=
        (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    return 0;
}

int container_cgroup_id(const char *proc_root, const char *cgroup2_root, uint32_t pid, uint64_t *id)
{
    char text[8192], v2[PATH_MAX], path[PATH_MAX * 2];
    int ret = read_small(proc_root, pid, "cgroup", text, sizeof(text));
    if (ret == 0)
        ret = container_cgroup_v2_path(text, v2, sizeof(v2));
    if (ret < 0)
        return ret;
    size_t prefix = container_cgroup_prefix(v2, strlen(v2));
    if (snprintf(path, sizeof(path), "%s%.*s", cgroup2_root, (int)prefix, v2) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    /* A cgroup's id is its directory's inode number on cgroup2 (kernfs). */
    *id = (uint64_t)st.st_ino;
    return 0;
}

const char *container_runtime_name(enum container_runtime runtime)
{
    switch (runtime) {
    case CONTAINER_RUNTIME_DOCKER:
        return "docker";
    case CONTAINER_RUNTIME_PODMAN:
        return "podman";
    case CONTAINER_RUNTIME_CONTAINERD:
        return "containerd";
    case CONTAINER_RUNTIME_CRIO:
        return "cri-o";
    case CONTAINER_RUNTIME_KUBERNETES:
        return "kubernetes";
    case CONTAINER_RUNTIME_LXC:
        return "lxc";
    case CONTAINER_RUNTIME_NSPAWN:
        return "systemd-nspawn";
    case CONTAINER_RUNTIME_UNKNOWN:
        return "unknown";
    case CONTAINER_RUNTIME_NONE:
        break;
    }
    return NULL;
}
