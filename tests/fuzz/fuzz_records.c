/* Fuzzes every decoder of ring buffer records through dispatch_record, as
 * the daemon calls it: the process lifecycle records (fork, exec, exec
 * result, exit) and the records of tcp_connect, net_listen, udp_session,
 * tcp_accept, file_open, bashreadline and exec (its failed execs, and its
 * events from the lifecycle's exec records), and of a probe from
 * --extra-probe-path with a field of every type.
 *
 * An input is a series of records, each a 2-byte little-endian length and
 * that many bytes, so that state built by one record (a pending exec, an
 * open UDP session) meets the next. Each record is copied to a buffer of
 * exactly its size, so a decoder reading past it is caught by ASan. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "extra_probe.h"
#include "output.h"
#include "proctree.h"

/* Probe ids as a rendered module would number them. */
enum {
    ID_TCP = 1,
    ID_LISTEN = 2,
    ID_UDP = 3,
    ID_EXTRA = 4,
    ID_ACCEPT = 5,
    ID_OPEN = 6,
    ID_READLINE = 7,
    ID_EXEC = 8,
    N_IDS = 9
};

static const char *extra_desc =
    "{\"attach\": {\"tracepoint\": [{\"target\": \"syscalls/sys_enter_socket\", \"program\": "
    "\"p\"}]}, \"fields\": [{\"name\": \"a\", \"type\": \"u8\"}, {\"name\": \"b\", \"type\": "
    "\"u16\"}, {\"name\": \"c\", \"type\": \"u32\"}, {\"name\": \"d\", \"type\": \"u64\"}, "
    "{\"name\": \"e\", \"type\": \"s8\"}, {\"name\": \"f\", \"type\": \"s16\"}, {\"name\": \"g\", "
    "\"type\": \"s32\"}, {\"name\": \"h\", \"type\": \"s64\"}, {\"name\": \"i\", \"type\": "
    "\"bool\"}, {\"name\": \"j\", \"type\": \"ipv4\"}, {\"name\": \"k\", \"type\": \"ipv6\"}, "
    "{\"name\": \"l\", \"type\": \"string\", \"size\": 9}]}";

static struct probe_ops extra_ops;
static struct probe_conf confs[N_IDS];
static int null_fd = -1;

/* udp_session reads its counters from a BPF map: /dev/null is a file that
 * every map lookup refuses, as a map without the entry would. */
static int map_fd(void *ctx, const char *name)
{
    return null_fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pt_error err = {0};
    json_t *desc = json_loads(extra_desc, 0, NULL);
    if (!desc || extra_probe_from_json("fuzzprobe", desc, "/nonexistent/fuzzprobe.bpf.c",
                                       "fuzzprobe.yml", &extra_ops, &err) < 0) {
        fprintf(stderr, "fuzz_records: extra probe: %s\n", err.msg);
        abort();
    }
    json_decref(desc);
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        perror("fuzz_records: /dev/null");
        abort();
    }
    /* Each probe's options at their defaults, from its own schema. */
    static struct probe_option_value values[N_IDS][8];
    const struct probe_ops *ops[N_IDS] = {
        NULL,       &probe_tcp_connect, &probe_net_listen, &probe_udp_session,
        &extra_ops, &probe_tcp_accept,  &probe_file_open,  &probe_bashreadline,
        &probe_exec};
    for (int i = 1; i < N_IDS; i++) {
        confs[i].name = (char *)ops[i]->name;
        confs[i].schema = &ops[i]->schema;
        confs[i].opts = values[i];
        confs[i].n_opts = ops[i]->schema.n_options;
        if (ops[i]->schema.n_options > 8 || probe_schema_defaults(&ops[i]->schema, values[i]) < 0)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A cache on a /proc that does not exist: nothing read from the host. */
    struct proc_cache *cache = proc_cache_new("/nonexistent-proc");
    struct output out;
    if (!cache || output_open_fd(&out, null_fd) < 0)
        abort();
    struct dispatch_env env = {
        .cache = cache, .out = &out, .lost_event_telemetry = 3, .map_fd = map_fd};
    struct dispatch *d = dispatch_new(&env);
    if (!d)
        abort();
    const struct probe_ops *ops[N_IDS] = {
        NULL,       &probe_tcp_connect, &probe_net_listen, &probe_udp_session,
        &extra_ops, &probe_tcp_accept,  &probe_file_open,  &probe_bashreadline,
        &probe_exec};
    struct probe_instance pis[N_IDS];
    memset(pis, 0, sizeof(pis));
    for (int i = 1; i < N_IDS; i++) {
        pis[i] = (struct probe_instance){.ops = ops[i], .conf = &confs[i], .id = (uint32_t)i};
        dispatch_add_probe(d, &pis[i], NULL);
    }
    if (probe_udp_session.start(&pis[ID_UDP]) < 0)
        abort();
    while (size >= 2) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        uint8_t *record = malloc(len ? len : 1);
        if (!record)
            break;
        memcpy(record, data, len);
        dispatch_record(d, record, len);
        free(record);
        data += len;
        size -= len;
    }
    probe_udp_session.tick(&pis[ID_UDP], UINT64_MAX);
    probe_udp_session.stop(&pis[ID_UDP]);
    output_flush(&out);
    output_close(&out);
    dispatch_free(d);
    proc_cache_free(cache);
    return 0;
}
