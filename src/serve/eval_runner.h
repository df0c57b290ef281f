/* eval_runner.h: the thread that carries out the Evals API's runs, one run at a time, oldest
 * first. For each row of a run's data source (inline rows, or the lines of an uploaded JSONL file,
 * each {"item": {...}, "sample": {...}}) it checks the item against the eval's item schema
 * (required fields and their JSON types), gets the sample (a completions run renders its message
 * template with the item and asks the model through the inference thread, several rows at once so
 * that they share the batched steps; a jsonl run takes the row's sample), applies every testing
 * criterion (grading.h), and stores the output item; after each it rewrites the run's counts
 * (result_counts, per_model_usage, per_testing_criteria_results). Rows whose output item is already
 * stored are skipped, so a run interrupted by a restart resumes where it stopped. A run that cannot
 * start (its file gone or malformed, its model gone) ends `failed` with an error object; a row that
 * cannot be graded (a missing template variable, an item that breaks the schema, a failed
 * generation) is counted as errored. It has its own store connection. */
#ifndef FTUNE_EVAL_RUNNER_H
#define FTUNE_EVAL_RUNNER_H

#include "../core/err.h"
#include "../store/store.h"

#define EVAL_RUNNER_WINDOW 16 /* rows of a completions run generating at once */
#define EVAL_RUNNER_POLL_S 5   /* an idle runner looks for runs other nodes let lapse this often */

typedef struct Server Server;
typedef struct EvalRunner EvalRunner;

/* Starts the thread; it begins with the runs a previous server left queued or in progress. */
int eval_runner_start(Server *srv, EvalRunner **out, Err *err);
/* A run was queued. */
void eval_runner_wake(EvalRunner *r);
/* Cancels run_id of eval_id: a queued run is marked canceled at once (through s, the caller's
 * connection); the running one stops generating and is marked canceled, and this waits until the
 * runner has let go of it (so that the caller may delete it). 0, or -1 with err. */
int eval_runner_cancel(EvalRunner *r, Store *s, const char *run_id, Err *err);
/* Waits until the runner is not running a run of eval_id, cancelling it (before deleting the eval). */
int eval_runner_release_eval(EvalRunner *r, Store *s, const char *eval_id, Err *err);
/* Stops the thread (the run in progress stays in progress, for the next start). NULL is a no-op. */
void eval_runner_stop(EvalRunner *r);

#endif
