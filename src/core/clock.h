/* clock.h: monotonic wall time in seconds, for durations (training speed, latency, progress), the
 * CPU time of the process (benchmarks on a shared machine, where it varies less than wall time),
 * the time of day in milliseconds (leases that several machines compare), and sleeping a fraction
 * of a second (retry waits, polling). For timestamps in seconds use time(2). */
#ifndef FTUNE_CLOCK_H
#define FTUNE_CLOCK_H

/* Seconds on a monotonic clock with an arbitrary origin. Thread-safe. */
double clock_now_s(void);
/* Seconds of CPU time of the whole process, every thread (CLOCK_PROCESS_CPUTIME_ID). */
double clock_cpu_s(void);
/* The time of day, Unix milliseconds (CLOCK_REALTIME). Thread-safe. */
long long clock_wall_ms(void);
/* Sleeps s seconds (fractions too); a signal may end it early. */
void clock_sleep_s(double s);

#endif
