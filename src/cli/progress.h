/* progress.h: a progress line for long work: on a terminal a bar redrawn in place
 * ("[=====>     ] 45/900 ..."), otherwise plain log lines at a bounded rate, so logs stay short.
 * Writes to stderr. Not thread-safe. */
#ifndef FTUNE_PROGRESS_H
#define FTUNE_PROGRESS_H

#include <stdbool.h>

#define PROGRESS_LOG_LINES 50 /* plain lines per run when not on a terminal (plus forced ones) */

typedef struct {
    bool tty;
    long total;
    long last_logged;
    double start;
} Progress;

void progress_start(Progress *p, long total);
/* Shows done/total and the caller's text (e.g. "epoch 1/3 loss 0.123 tok/s 950"), with the time
 * left estimated from the rate so far. force: always log this one (when not on a terminal). */
void progress_update(Progress *p, long done, const char *text, bool force);
/* Ends the bar line (on a terminal) before other output. */
void progress_end(Progress *p);

#endif
