/* progress.c: terminal progress bar or rate-limited log lines (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "../core/clock.h"

#define BAR_WIDTH 24

void progress_start(Progress *p, long total) {
    p->tty = isatty(STDERR_FILENO);
    p->total = total > 0 ? total : 1;
    p->last_logged = -1;
    p->start = clock_now_s();
}

static void format_eta(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

void progress_update(Progress *p, long done, const char *text, bool force) {
    double elapsed = clock_now_s() - p->start, left = done > 0 ? elapsed * (p->total - done) / done : 0;
    char eta[32];
    format_eta(left, eta, sizeof eta);
    if (p->tty) {
        char bar[BAR_WIDTH + 1];
        int filled = (int)((double)done / p->total * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[BAR_WIDTH] = 0;
        fprintf(stderr, "\r\033[K[%s] %ld/%ld %s, %s left", bar, done, p->total, text, eta);
        fflush(stderr);
        return;
    }
    long every = p->total / PROGRESS_LOG_LINES > 0 ? p->total / PROGRESS_LOG_LINES : 1;
    if (!force && done != p->total && p->last_logged >= 0 && done - p->last_logged < every) return;
    p->last_logged = done;
    fprintf(stderr, "%ld/%ld %s, %s left\n", done, p->total, text, eta);
}

void progress_end(Progress *p) {
    if (p->tty) fprintf(stderr, "\n");
}
