#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t time_boot_ns(void)
{
    return clock_ns(CLOCK_BOOTTIME);
}

uint64_t time_realtime_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

uint64_t time_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t time_boot_to_realtime_offset(void)
{
    /* Bracket the realtime read between two boottime reads and take the
     * midpoint: the offset is then right to well under a microsecond. */
    uint64_t b1 = time_boot_ns();
    uint64_t r = time_realtime_ns();
    uint64_t b2 = time_boot_ns();
    return (int64_t)r - (int64_t)(b1 + (b2 - b1) / 2);
}

/* Every event has a timestamp, and most share their second with the one
 * before: the date and time up to the second are formatted once per second
 * (per thread), the microseconds by hand. */
void time_format_iso8601(uint64_t realtime_ns, char *buf, size_t len)
{
    static _Thread_local time_t cached_secs = -1;
    static _Thread_local char cached[72]; /* "YYYY-MM-DDTHH:MM:SS", room for any int */
    time_t secs = (time_t)(realtime_ns / 1000000000ull);
    unsigned long usecs = (unsigned long)(realtime_ns % 1000000000ull / 1000ull);
    if (secs != cached_secs) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_secs = secs;
    }
    char frac[9] = {'.', 0, 0, 0, 0, 0, 0, 'Z', 0};
    for (int i = 6; i >= 1; i--, usecs /= 10)
        frac[i] = (char)('0' + usecs % 10);
    size_t head = strlen(cached);
    if (len > head + sizeof(frac) - 1) {
        memcpy(buf, cached, head);
        memcpy(buf + head, frac, sizeof(frac));
    } else {
        snprintf(buf, len, "%s%s", cached, frac);
    }
}
