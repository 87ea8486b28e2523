/* line_latency: reads the daemon's JSON lines (from a FIFO, as they are
 * written) and measures each line's latency: arrival on CLOCK_REALTIME
 * minus the event's `timestamp` (the kernel's time of the event).
 *
 *   line_latency [MATCH] < FIFO   ->   {"lines", "p50_ms", "p99_ms", "max_ms"}
 *
 * Only lines containing MATCH count (default: tcp_connect lines, which the
 * benchmark paces); the soak passes the victim's address, so the figure is
 * the latency of one user's events while another floods.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SAMPLES 4000000

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* "2026-11-22T14:53:40.694158Z" -> seconds since the epoch; -1 if absent. */
static double line_timestamp(const char *line)
{
    const char *p = strstr(line, "\"timestamp\":");
    struct tm tm = {0};
    unsigned usec = 0;
    if (!p || !(p = strchr(p + 12, '"')) ||
        sscanf(p + 1, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + usec / 1e6;
}

int main(int argc, char **argv)
{
    const char *match = argc > 1 ? argv[1] : "\"probe\":\"tcp_connect\"";
    double *samples = malloc(MAX_SAMPLES * sizeof(*samples));
    size_t n = 0, cap = 0;
    char *line = NULL;
    if (!samples)
        return 1;
    while (getline(&line, &cap, stdin) > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!strstr(line, match) || n == MAX_SAMPLES)
            continue;
        double ts = line_timestamp(line);
        if (ts > 0)
            samples[n++] = (double)now.tv_sec + now.tv_nsec / 1e9 - ts;
    }
    free(line);
    qsort(samples, n, sizeof(*samples), compare_double);
    double p50 = n ? samples[n / 2] : 0, p99 = n ? samples[(size_t)((double)n * 0.99)] : 0;
    double max = n ? samples[n - 1] : 0;
    printf("{\"lines\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n", n, p50 * 1e3,
           p99 * 1e3, max * 1e3);
    free(samples);
    return 0;
}
