/* loadgen: the benchmark's workloads, bounded in count and time.
 *
 *   loadgen connect ADDR PORT [-t THREADS] [-d SECS] [-n MAX] [-r RATE]
 *   loadgen udp ADDR PORT [-d SECS] [-n MAX] [-k DATAGRAMS]
 *   loadgen listen ADDR PORT [-d SECS] [-n MAX]
 *   loadgen fork ADDR PORT [-d SECS] [-n MAX]
 *   loadgen established ADDR PORT [-t THREADS] [-d SECS] [-n MAX]
 *   loadgen open|pipe|forkexec [-t THREADS] [-d SECS] [-n MAX] [-p PATH]
 *
 * connect: TCP connection attempts (to a closed port they are refused at
 * once, which still makes one tcp_connect event each). udp: sockets that
 * send k datagrams to PORT and PORT+1, then close (one udp_session event
 * each). listen: listen() then close on PORT. fork: a child per connection
 * attempt, so no tree comes from one cached process. established: full
 * connections to a listener loadgen runs itself on ADDR PORT (a thread
 * accepts and closes), closed by the client with RST so no TIME_WAIT piles
 * up. open, pipe and forkexec touch no network: open("/dev/null") + close,
 * a one-byte write and read on a pipe, fork + exec of /bin/true + wait; they
 * measure what a tracer costs work it has no interest in. -p opens PATH
 * instead of /dev/null (a path a file_open probe reports, or excludes), or
 * execs PATH (no arguments) instead of /bin/true. ADDR must be in
 * 127.0.0.0/8, ::1, or the benchmark's own network namespace.
 *
 * Prints one JSON object: {"workload", "count", "seconds", "rate"}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    const char *path; /* open and forkexec: what to open or run */
};

static atomic_uint_fast64_t done;
static int pipe_fds[2] = {-1, -1};

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

static void established_once(const struct options *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    struct linger rst = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
    connect(fd, (const struct sockaddr *)&o->addr, o->addr_len);
    close(fd);
}

static void open_once(const struct options *o)
{
    int fd = open(o->path ? o->path : "/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
}

static void pipe_once(const struct options *o)
{
    (void)o;
    char c = 'x';
    if (write(pipe_fds[1], &c, 1) == 1 && read(pipe_fds[0], &c, 1) != 1)
        abort();
}

static void forkexec_once(const struct options *o)
{
    const char *path = o->path ? o->path : "/bin/true";
    pid_t pid = fork();
    if (pid == 0) {
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

struct workload {
    const char *name;
    void (*once)(const struct options *o);
    bool needs_addr;
};

static const struct workload workloads[] = {
    {"connect", connect_once, true},
    {"udp", udp_once, true},
    {"listen", listen_once, true},
    {"fork", fork_once, true},
    {"established", established_once, true},
    {"open", open_once, false},
    {"pipe", pipe_once, false},
    {"forkexec", forkexec_once, false},
};

static const struct workload *workload_find(const char *name)
{
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (strcmp(workloads[i].name, name) == 0)
            return &workloads[i];
    return NULL;
}

static const struct workload *current;

static void one_unit(const struct options *o)
{
    current->once(o);
}

/* The listener of the established workload: accepts and closes until the
 * listening socket is shut down. */
static void *acceptor(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            close(fd);
        else if (errno != EINTR && errno != ECONNABORTED)
            return NULL;
    }
}

static int listener_open(const struct options *o)
{
    int one = 1, fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&o->addr, o->addr_len) < 0 || listen(fd, 4096) < 0) {
        close(fd);
        return -1;
    }
    return fd;
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
    fprintf(stderr, "usage: loadgen connect|udp|listen|fork|established ADDR PORT [-t THREADS] "
                    "[-d SECS] [-n MAX] [-r RATE] [-k DATAGRAMS]\n"
                    "       loadgen open|pipe|forkexec [-t THREADS] [-d SECS] [-n MAX] [-r RATE] "
                    "[-p PATH]\n");
    return 2;
}

static int options_parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.threads = 1, .seconds = 5, .max = 10000000, .datagrams = 2};
    if (argc < 2 || !(current = workload_find(argv[1])))
        return -1;
    o->workload = argv[1];
    optind = 2;
    if (current->needs_addr) {
        if (argc < 4 || addr_parse(argv[2], argv[3], o) < 0)
            return -1;
        optind = 4;
    }
    int c;
    while ((c = getopt(argc, argv, "t:d:n:r:k:p:")) != -1) {
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
        case 'p':
            o->path = optarg;
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
    pthread_t threads[64], accept_thread;
    int lfd = -1;
    if (current->once == established_once) {
        if ((lfd = listener_open(&o)) < 0 || pthread_create(&accept_thread, NULL, acceptor, &lfd)) {
            perror("loadgen: listener");
            return 1;
        }
    }
    if (current->once == pipe_once && pipe(pipe_fds) < 0) {
        perror("loadgen: pipe");
        return 1;
    }
    double start = now_s();
    for (unsigned i = 0; i < o.threads; i++)
        if (pthread_create(&threads[i], NULL, worker, &o) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (unsigned i = 0; i < o.threads; i++)
        pthread_join(threads[i], NULL);
    double seconds = now_s() - start;
    if (lfd >= 0) {
        shutdown(lfd, SHUT_RDWR);
        pthread_join(accept_thread, NULL);
        close(lfd);
    }
    uint64_t n = atomic_load(&done);
    /* CPU time per unit (user + system, children included), which the
     * kernel programs a tracer runs add to, and which other load on the
     * machine disturbs less than the rate. */
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    double cpu = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
                          children.ru_stime.tv_sec) +
                 (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec +
                          children.ru_utime.tv_usec + children.ru_stime.tv_usec) /
                     1e6;
    printf("{\"workload\": \"%s\", \"count\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
           "\"cpu_us_per_unit\": %.3f}\n",
           o.workload, (unsigned long long)n, seconds, (double)n / seconds,
           n ? cpu * 1e6 / (double)n : 0.0);
    return 0;
}
