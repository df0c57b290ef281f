/* interrupt.h: Ctrl-C for long commands (train, eval): while caught, SIGINT only sets a flag that
 * the work checks at its next boundary (a training step, an example), so that what was done is
 * kept. One process-wide flag; not for the server (which has its own shutdown). */
#ifndef FTUNE_INTERRUPT_H
#define FTUNE_INTERRUPT_H

/* Set to 1 by SIGINT while cli_catch_interrupt is in effect. */
extern volatile int cli_interrupted;

void cli_catch_interrupt(void);   /* from now on SIGINT sets cli_interrupted */
void cli_release_interrupt(void); /* SIGINT ends the process again */

#endif
