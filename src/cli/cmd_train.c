/* cmd_train.c: `ftune train`: fine-tunes a LoRA adapter on a chat JSONL file (or, with --method dpo,
 * a preference file) and writes it in the
 * PEFT layout, with checkpoints and results.csv, a progress bar on a terminal (plain log lines
 * otherwise), and Ctrl-C stopping at a step boundary with a usable checkpoint. A client of the
 * public engine API (ftune.h): the run is one ft_train; this file parses the arguments and prints
 * the data report, the plan, the progress and the outcome. Under `mpirun -n N` every process runs
 * this command and trains its share of each batch (ft_parallel_join); rank 0 alone prints the plan,
 * the progress and the outcome, with the time the gradient reductions took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ftune.h"
#include "args.h"
#include "cli.h"
#include "cli_precision.h"
#include "interrupt.h"
#include "progress.h"

static const char *const TRAIN_OPTIONS[] = {"model", "train", "validation", "epochs", "batch-size", "lr-multiplier",
                                            "rank", "alpha", "dropout", "target", "seed", "max-length", "out", "resume",
                                            "threads", "eval-every", "precision", "method", "beta", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune train --model PATH --train FILE [--validation FILE] [--epochs N|auto]\n"
            "                   [--batch-size N|auto] [--lr-multiplier X|auto] [--rank N] [--alpha N] [--dropout P]\n"
            "                   [--target LIST] [--seed N] [--max-length N] [--threads N] [--eval-every N]\n"
            "                   [" CLI_PRECISION_USAGE "] [--method supervised|dpo] [--beta X|auto]\n"
            "                   --out DIR [--resume CHECKPOINT_DIR]\n"
            "Trains a LoRA adapter on a chat-format JSONL file (OpenAI's format) and writes it to DIR in the\n"
            "PEFT layout, with checkpoint-<step>/ directories and results.csv. --method dpo: the file holds\n"
            "preference pairs (input, preferred_output, non_preferred_output) and the adapter is trained by DPO\n"
            "against the base model, with --beta in (0, 2] (auto: 0.1). --target: q,k,v,o,gate,up,down\n"
            "or all (the default). Ctrl-C stops at the next step and leaves a checkpoint to --resume from.\n"
            "--precision: the base-weight products in fp32 or bf16 (auto: bf16 where the CPU has AMX).\n"
            "Under mpirun -n N (an ftune built with Open MPI) the N processes share every batch and write\n"
            "one adapter (rank 0 writes DIR).\n");
}

typedef struct {
    const FtTrainParams *params;
    Progress bar;
    int n_epochs;
    bool started; /* on_ready ran: the bar is up and Ctrl-C is caught */
} TrainView;

static void print_data(const char *what, const FtDataReport *d, long max_length) {
    fprintf(stderr, "%s: %ld examples, %lld tokens, %lld trained\n", what, d->n_examples, d->tokens,
            d->trained_tokens);
    if (!d->n_truncated) return;
    fprintf(stderr, "warning: %ld example%s longer than %ld tokens truncated, lines", d->n_truncated,
            d->n_truncated == 1 ? "" : "s", max_length);
    for (long i = 0; i < d->n_truncated && i < FT_TRAIN_REPORTED_LINES; i++)
        fprintf(stderr, "%s %ld", i ? "," : "", d->truncated_lines[i]);
    fprintf(stderr, "%s\n", d->n_truncated > FT_TRAIN_REPORTED_LINES ? ", ..." : "");
}

/* The report of each file ft_train loaded (all of them once it trains, those before a failure). */
static void print_loaded(const FtTrainResult *r, const FtTrainParams *p) {
    if (r->stage > FT_TRAIN_LOAD_TRAIN) print_data("training file", &r->train, r->max_length);
    if (p->valid_path && r->stage > FT_TRAIN_LOAD_VALID) print_data("validation file", &r->valid, r->max_length);
}

static int on_ready(const FtTrainResult *plan, void *user) {
    TrainView *v = user;
    print_loaded(plan, v->params);
    fprintf(stderr,
            "training: %d epochs, batch size %d, learning rate %.3g (multiplier %g), LoRA rank %d alpha %g, %ld steps\n",
            plan->n_epochs, plan->batch_size, plan->learning_rate, plan->lr_multiplier, v->params->rank,
            v->params->alpha, plan->total_steps);
    if (plan->beta > 0) fprintf(stderr, "method: dpo, beta %g, reference: the base model\n", plan->beta);
    cli_catch_interrupt();
    v->n_epochs = plan->n_epochs;
    v->started = true;
    progress_start(&v->bar, plan->total_steps);
    return 0;
}

static int on_step(const FtTrainMetrics *m, const char *checkpoint, void *user) {
    TrainView *v = user;
    char text[256];
    int n = snprintf(text, sizeof text, "epoch %d/%d loss %.4f acc %.3f", m->epoch, v->n_epochs, m->train_loss,
                     m->train_accuracy);
    if (m->has_valid)
        n += snprintf(text + n, sizeof text - n, " %svalid %.4f/%.3f", m->full_valid ? "full " : "", m->valid_loss,
                      m->valid_accuracy);
    if (m->dpo)
        n += snprintf(text + n, sizeof text - n, " rewards %+.3f/%+.3f margin %.3f racc %.2f", m->chosen_reward,
                      m->rejected_reward, m->reward_margin, m->reward_accuracy);
    snprintf(text + n, sizeof text - n, " lr %.2g %.0f tok/s", m->lr, m->tokens_per_s);
    progress_update(&v->bar, m->step, text, checkpoint != NULL || m->has_valid);
    if (checkpoint) {
        progress_end(&v->bar);
        fprintf(stderr, "checkpoint: %s\n", checkpoint);
    }
    return 0;
}

/* Fills p from the arguments; EXIT_BAD_INPUT (after a message) for a value out of range. */
static int params_from_args(const Args *a, FtTrainParams *p) {
    long rank = p->rank, seed = 0, max_length = 0, threads = 0, eval_every = 0;
    double alpha = p->alpha, dropout = 0;
    if (args_int(a, "rank", &rank, 1, FT_LORA_MAX_RANK) || args_float(a, "alpha", &alpha, 1e-6, 1e6) ||
        args_float(a, "dropout", &dropout, 0, 0.95) ||
        args_int(a, "seed", &seed, 0, 0x7fffffffffffffffl) || args_int(a, "max-length", &max_length, 2, 1 << 20) ||
        args_int(a, "threads", &threads, 0, 1024) || args_int(a, "eval-every", &eval_every, 0, 1 << 30))
        return EXIT_BAD_INPUT;
    p->rank = (int)rank;
    p->alpha = (float)alpha;
    p->dropout = (float)dropout;
    p->seed = (uint64_t)seed;
    p->max_length = max_length;
    p->n_threads = (int)threads;
    p->eval_every = (int)eval_every;
    p->targets = args_get(a, "target");
    p->train_path = args_get(a, "train");
    p->valid_path = args_get(a, "validation");
    p->n_epochs = args_get(a, "epochs");
    p->batch_size = args_get(a, "batch-size");
    p->lr_multiplier = args_get(a, "lr-multiplier");
    p->method = args_get(a, "method");
    p->beta = args_get(a, "beta");
    p->out_dir = args_get(a, "out");
    p->resume_dir = args_get(a, "resume");
    p->stop = &cli_interrupted;
    return 0;
}

/* Rank 0's summary of the gradient reductions of a run on several ranks. */
static void print_parallel(const FtParallel *par) {
    FtParallelTiming t;
    ft_parallel_timing(par, &t);
    if (!t.n_reductions) return;
    fprintf(stderr,
            "data parallel: %d ranks, %.2f MB of gradients per step, allreduce %.2f ms/step, "
            "waiting for the slowest rank %.2f ms/step\n",
            ft_parallel_size(par), t.bytes / 1e6, 1e3 * t.reduce_s / t.n_reductions, 1e3 * t.wait_s / t.n_reductions);
}

static int train_with(const Args *a, FtParallel *par);

int cmd_train(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "train", NULL, TRAIN_OPTIONS, usage, &status)) return status;
    if (a.n_positional || !args_get(&a, "model") || !args_get(&a, "train") || !args_get(&a, "out")) {
        usage();
        return EXIT_BAD_INPUT;
    }
    FtParallel *par;
    FtError err = {0};
    if (ft_parallel_join(&par, &err)) {
        fprintf(stderr, "ftune train: %s\n", err.msg);
        return 1;
    }
    status = train_with(&a, par);
    if (status) ft_parallel_abort(par, status); /* the other ranks would wait for this one */
    ft_parallel_leave(par);
    return status;
}

static int train_with(const Args *a, FtParallel *par) {
    FtTrainParams p;
    ft_train_params_default(&p);
    if (params_from_args(a, &p)) return EXIT_BAD_INPUT;
    p.parallel = par;
    bool root = ft_parallel_rank(par) == 0;
    char who[64] = "ftune train";
    if (ft_parallel_size(par) > 1)
        snprintf(who, sizeof who, "ftune train (rank %d of %d)", ft_parallel_rank(par), ft_parallel_size(par));
    TrainView view = {.params = &p};
    p.on_ready = on_ready;
    p.on_step = on_step;
    p.user = &view;
    FtError err = {0};
    int status;
    /* the other values were range-checked above (ranges within the engine's): only the target
     * list, the method and beta can be refused here, before the model is loaded */
    if (ft_train_params_check(&p, &err)) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return EXIT_BAD_INPUT;
    }
    FtPrecision precision;
    if (cli_precision_parse(a, &precision)) return EXIT_BAD_INPUT;
    FtModel *m;
    if (ft_model_load(args_get(a, "model"), &m, &err)) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return EXIT_BAD_INPUT;
    }
    if ((status = cli_precision_apply(m, precision))) {
        ft_model_free(m);
        return status;
    }
    FtTrainResult res;
    int trc = ft_train(m, &p, &res, &err);
    if (view.started) {
        progress_end(&view.bar);
        cli_release_interrupt();
    }
    ft_model_free(m);
    if (trc) {
        if (res.stage < FT_TRAIN_RUN && root) print_loaded(&res, &p);
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return res.stage < FT_TRAIN_RUN || err.code == FT_ERR_ARG || err.code == FT_ERR_FORMAT ? EXIT_BAD_INPUT : 1;
    }
    if (!root) return 0;
    print_parallel(par);
    if (res.step < res.total_steps)
        fprintf(stderr, "stopped at step %ld of %ld; resume with --resume %s/checkpoint-%ld\n", res.step,
                res.total_steps, p.out_dir, res.step);
    else
        fprintf(stderr, "done: adapter in %s (%ld trained tokens)\n", p.out_dir, res.tokens_seen);
    return 0;
}
