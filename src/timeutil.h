/* timeutil: kernel timestamps as the wall-clock times users read. */
#ifndef PIDTREE_TIMEUTIL_H
#define PIDTREE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds of CLOCK_BOOTTIME / CLOCK_REALTIME / CLOCK_MONOTONIC now. */
uint64_t time_boot_ns(void);
uint64_t time_realtime_ns(void);
uint64_t time_monotonic_ns(void);

/* Wall-clock ns at kernel boot time 0, for turning bpf_ktime_get_boot_ns()
 * values into UTC. Refresh it now and then: the wall clock can be stepped. */
int64_t time_boot_to_realtime_offset(void);

/* "2019-11-12T14:24:57.532744Z" (UTC, microseconds). `buf` holds >= 32. */
void time_format_iso8601(uint64_t realtime_ns, char *buf, size_t len);

#endif
