/* loadgen: the benchmark's workloads, bounded in count and time.
 *
 *   loadgen connect ADDR PORT [-t THREADS] [-d SECS] [-n MAX] [-r RATE]
 *   loadgen udp ADDR PORT [-d SECS] [-n MAX] [-k DATAGRAMS]
 *   loadgen listen ADDR PORT [-d SECS] [-n MAX]
 *   loadgen fork ADDR PORT [-d SECS] [-n MAX]
 *
 * connect: TCP connection attempts (to a closed port they are refused at
 * once, which still makes one tcp_connect event each). udp: sockets that
 * send k datagrams to PORT and PORT+1, then close (one udp_session event
 * each). listen: listen() then close on PORT. fork: a child per connection
 * attempt, so no tree comes from one cached process. ADDR must be in
 * 127.0.0.0/8, ::1, or the benchmark's own network namespace.
 *
 * Prints one JSON object: {"workload", "count", "seconds", "rate"}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct options {
    const char *workload;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    unsigned threads;
    double seconds;
    uint64_t max;
    double rate; /* per second over all threads; 0 = as fast as possible */
    unsigned datagrams;
};

static atomic_uint_fast64_t done;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int addr_parse(const char *host, const char *port, struct options *o)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&o->addr;
    int p = atoi(port);
    if (p <= 0 || p > 65534)
        return -1;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        o->addr_len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        o->addr_len = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* The destination with its port moved by `delta`. */
static struct sockaddr_storage addr_with_port_delta(const struct options *o, int delta)
{
    struct sockaddr_storage a = o->addr;
    uint16_t *port = a.ss_family == AF_INET ? &((struct sockaddr_in *)&a)->sin_port
                                            : &((struct sockaddr_in6 *)&a)->sin6_port;
    *port = htons((uint16_t)(ntohs(*port) + delta));
    return a;
}

static void connect_once(const struct options *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    connect(fd, (const struct sockaddr *)&o->addr, o->addr_len);
    close(fd);
}

static void udp_once(const struct options *o)
{
    int fd = socket(o->addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0)
        return;
    struct sockaddr_storage second = addr_with_port_delta(o, 1);
    for (unsigned i = 0; i < o->datagrams; i++) {
        sendto(fd, "x", 1, 0, (const struct sockaddr *)&o->addr, o->addr_len);
        sendto(fd, "y", 1, 0, (const struct sockaddr *)&second, o->addr_len);
    }
    close(fd);
}

static void listen_once(const struct options *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&o->addr, o->addr_len) == 0)
        listen(fd, 1);
    close(fd);
}

static void fork_once(const struct options *o)
{
    pid_t pid = fork();
    if (pid == 0) {
        connect_once(o);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static void one_unit(const struct options *o)
{
    switch (o->workload[0]) {
    case 'c':
        connect_once(o);
        break;
    case 'u':
        udp_once(o);
        break;
    case 'l':
        listen_once(o);
        break;
    case 'f':
        fork_once(o);
        break;
    }
}

/* Each thread takes units until the count or the time runs out; with a
 * rate, units are spread evenly over time. */
static void *worker(void *arg)
{
    const struct options *o = arg;
    double start = now_s(), end = start + o->seconds;
    double per_thread_rate = o->rate / o->threads;
    uint64_t mine = 0;
    for (;;) {
        double t = now_s();
        if (t >= end)
            break;
        if (per_thread_rate > 0) {
            double due = start + (double)mine / per_thread_rate;
            if (due > t) {
                struct timespec ts = {0, (long)((due - t) * 1e9)};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (atomic_fetch_add(&done, 1) >= o->max) {
            atomic_fetch_sub(&done, 1);
            break;
        }
        one_unit(o);
        mine++;
    }
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: loadgen connect|udp|listen|fork ADDR PORT [-t THREADS] [-d SECS] "
                    "[-n MAX] [-r RATE] [-k DATAGRAMS]\n");
    return 2;
}

static int options_parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.threads = 1, .seconds = 5, .max = 10000000, .datagrams = 2};
    if (argc < 4 || !strchr("culf", argv[1][0]) || addr_parse(argv[2], argv[3], o) < 0)
        return -1;
    o->workload = argv[1];
    int c;
    optind = 4;
    while ((c = getopt(argc, argv, "t:d:n:r:k:")) != -1) {
        switch (c) {
        case 't':
            o->threads = (unsigned)atoi(optarg);
            break;
        case 'd':
            o->seconds = atof(optarg);
            break;
        case 'n':
            o->max = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'k':
            o->datagrams = (unsigned)atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    /* Bounded whatever is asked: at most 10 minutes and 64 threads. */
    if (o->threads < 1 || o->threads > 64 || o->seconds <= 0 || o->seconds > 600 ||
        o->datagrams < 1 || o->datagrams > 1000)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    if (options_parse(argc, argv, &o) < 0)
        return usage();
    pthread_t threads[64];
    double start = now_s();
    for (unsigned i = 0; i < o.threads; i++)
        if (pthread_create(&threads[i], NULL, worker, &o) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (unsigned i = 0; i < o.threads; i++)
        pthread_join(threads[i], NULL);
    double seconds = now_s() - start;
    uint64_t n = atomic_load(&done);
    printf("{\"workload\": \"%s\", \"count\": %llu, \"seconds\": %.3f, \"rate\": %.1f}\n",
           o.workload, (unsigned long long)n, seconds, (double)n / seconds);
    return 0;
}
