/* Fuzzes the parsers of text the kernel writes but a process can shape:
 * /proc/PID/stat (the comm is chosen by the process, with spaces and
 * parentheses), /proc/PID/status, /proc/PID/cmdline (any bytes), the
 * lines of /proc/net/{tcp,udp}{,6}, and /proc/PID/cgroup (a user with a
 * delegated cgroup subtree names its cgroups). The first byte picks the
 * parser. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "container.h"
#include "netstat.h"
#include "proctree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 6;
    data++;
    size--;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    uint32_t u32;
    uint64_t u64;
    char comm[64];
    struct netstat_entry e;
    switch (which) {
    case 0:
        proc_parse_stat(text, &u32, &u64, comm, sizeof(comm));
        break;
    case 1:
        proc_parse_status_uid(text, &u32);
        break;
    case 4: {
        int levels;
        proc_parse_status_nspid(text, &u32, &levels);
        break;
    }
    case 5: {
        struct container_ident ci;
        char path[256];
        container_from_cgroup(text, &ci);
        container_cgroup_v2_path(text, path, sizeof(path));
        break;
    }
    case 2: {
        /* The raw bytes, NULs included, as read from cmdline. */
        char *line = proc_args_join((const char *)data, size);
        free(line);
        break;
    }
    case 3:
        netstat_parse_line(text, size % 2 ? AF_INET6 : AF_INET,
                           size % 3 ? IPPROTO_TCP : IPPROTO_UDP, &e);
        break;
    default:
        break;
    }
    free(text);
    return 0;
}
