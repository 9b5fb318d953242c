/*
 * ifs_time.h - the one clock the host measures stages and progress with.
 *
 *     double t0 = ifs_time_now();
 *     ...
 *     double seconds = ifs_time_now() - t0;
 *
 * Monotonic seconds (CLOCK_MONOTONIC) from an arbitrary origin: only
 * differences mean anything. Never fails on Linux; no state, thread-safe.
 */
#ifndef IFS_TIME_H
#define IFS_TIME_H

#include <time.h>

static inline double ifs_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
