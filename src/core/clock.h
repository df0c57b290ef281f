/* clock.h: monotonic wall time in seconds, for durations (training speed, latency, progress), and
 * sleeping a fraction of a second (retry waits, polling).
 * Not the time of day (use time(2) for timestamps). */
#ifndef FTUNE_CLOCK_H
#define FTUNE_CLOCK_H

/* Seconds on a monotonic clock with an arbitrary origin. Thread-safe. */
double clock_now_s(void);
/* Sleeps s seconds (fractions too); a signal may end it early. */
void clock_sleep_s(double s);

#endif
