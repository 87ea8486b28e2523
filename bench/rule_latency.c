/* rule_latency: what a rule costs and how fast it acts, from the side of
 * the process it acts on (bench/rules.sh). Loopback only.
 *
 *   rule_latency signal PORT N   N children, one after the other, each
 *                                reads CLOCK_BOOTTIME, connects to
 *                                127.0.0.1:PORT and waits; an interrupt
 *                                rule on PORT sends SIGINT, whose handler
 *                                reads the clock again. Prints the time from
 *                                before the connect() to the handler, in
 *                                microseconds (the process's exit is not
 *                                counted): {"n","signalled","p50_us",
 *                                "p99_us","max_us"}
 *   rule_latency rate PORT SECS  connect() to 127.0.0.1:PORT (nothing
 *                                listens: refused at once) in a loop for
 *                                SECS; prints {"connects","per_s"}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_once(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return ret;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int signal_pipe = -1;

/* The signal arrived: the clock now, to the parent. */
static void on_sigint(int sig)
{
    uint64_t t1 = now_ns(CLOCK_BOOTTIME);
    (void)sig;
    if (write(signal_pipe, &t1, sizeof(t1)) != sizeof(t1))
        _exit(3);
    _exit(0);
}

/* The child's connect is the event; it waits at most 2 s for its signal. */
static int one_signal(int port, uint64_t *us)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(pipefd[0]);
        signal_pipe = pipefd[1];
        signal(SIGINT, on_sigint);
        uint64_t t0 = now_ns(CLOCK_BOOTTIME);
        if (write(pipefd[1], &t0, sizeof(t0)) != sizeof(t0))
            _exit(2);
        connect_once(port);
        usleep(2000000);
        _exit(1);
    }
    close(pipefd[1]);
    uint64_t t[2] = {0, 0};
    ssize_t n0 = read(pipefd[0], &t[0], sizeof(t[0]));
    ssize_t n1 = read(pipefd[0], &t[1], sizeof(t[1]));
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n0 != sizeof(t[0]) || n1 != sizeof(t[1]) || !WIFEXITED(status) || WEXITSTATUS(status))
        return 0;
    *us = (t[1] - t[0]) / 1000;
    return 1;
}

static int run_signal(int port, int n)
{
    uint64_t *us = calloc((size_t)n, sizeof(*us));
    int got = 0;
    if (!us)
        return 1;
    for (int i = 0; i < n; i++) {
        int r = one_signal(port, &us[got]);
        if (r < 0) {
            perror("rule_latency");
            free(us);
            return 1;
        }
        got += r;
    }
    qsort(us, (size_t)got, sizeof(*us), cmp_u64);
    printf("{\"n\":%d,\"signalled\":%d,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}\n", n, got,
           got ? (unsigned long long)us[got / 2] : 0,
           got ? (unsigned long long)us[(got * 99) / 100] : 0,
           got ? (unsigned long long)us[got - 1] : 0);
    free(us);
    return got == n ? 0 : 1;
}

static int run_rate(int port, double secs)
{
    uint64_t start = now_ns(CLOCK_MONOTONIC), end = start + (uint64_t)(secs * 1e9), t;
    unsigned long long n = 0;
    while ((t = now_ns(CLOCK_MONOTONIC)) < end) {
        for (int i = 0; i < 256; i++)
            connect_once(port);
        n += 256;
    }
    printf("{\"connects\":%llu,\"per_s\":%.1f}\n", n, (double)n / ((double)(t - start) / 1e9));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rule_latency signal PORT N | rate PORT SECONDS\n");
        return 2;
    }
    int port = atoi(argv[2]);
    if (strcmp(argv[1], "signal") == 0)
        return run_signal(port, atoi(argv[3]));
    if (strcmp(argv[1], "rate") == 0)
        return run_rate(port, atof(argv[3]));
    fprintf(stderr, "rule_latency: unknown mode %s\n", argv[1]);
    return 2;
}
