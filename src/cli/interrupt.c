/* interrupt.c: the Ctrl-C flag of long commands (see interrupt.h). */
#include "interrupt.h"

#include <signal.h>

volatile int cli_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

void cli_catch_interrupt(void) { signal(SIGINT, on_sigint); }

void cli_release_interrupt(void) { signal(SIGINT, SIG_DFL); }
