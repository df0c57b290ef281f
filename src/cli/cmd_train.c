/* cmd_train.c: `ftune train`: fine-tunes a LoRA adapter on a chat JSONL file and writes it in the
 * PEFT layout, with checkpoints and results.csv, a progress bar on a terminal (plain log lines
 * otherwise), and Ctrl-C stopping at a step boundary with a usable checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/validate.h"
#include "../model/model.h"
#include "../train/dataset.h"
#include "../train/hyperparams.h"
#include "../train/trainer.h"
#include "../tensor/ops.h"
#include "args.h"
#include "cli.h"
#include "interrupt.h"
#include "progress.h"


static const char *const TRAIN_OPTIONS[] = {"model", "train", "validation", "epochs", "batch-size", "lr-multiplier",
                                            "rank", "alpha", "dropout", "target", "seed", "max-length", "out", "resume",
                                            "threads", "eval-every", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune train --model PATH --train FILE [--validation FILE] [--epochs N|auto]\n"
            "                   [--batch-size N|auto] [--lr-multiplier X|auto] [--rank N] [--alpha N] [--dropout P]\n"
            "                   [--target LIST] [--seed N] [--max-length N] [--threads N] [--eval-every N]\n"
            "                   --out DIR [--resume CHECKPOINT_DIR]\n"
            "Trains a LoRA adapter on a chat-format JSONL file (OpenAI's format) and writes it to DIR in the\n"
            "PEFT layout, with checkpoint-<step>/ directories and results.csv. --target: q,k,v,o,gate,up,down\n"
            "or all (the default). Ctrl-C stops at the next step and leaves a checkpoint to --resume from.\n");
}

typedef struct {
    Progress bar;
    int n_epochs;
} TrainView;

static int on_step(const TrainMetrics *m, const char *checkpoint, void *user) {
    TrainView *v = user;
    char text[256];
    int n = snprintf(text, sizeof text, "epoch %d/%d loss %.4f acc %.3f", m->epoch, v->n_epochs, m->train_loss,
                     m->train_accuracy);
    if (m->has_valid)
        n += snprintf(text + n, sizeof text - n, " %svalid %.4f/%.3f", m->full_valid ? "full " : "", m->valid_loss,
                      m->valid_accuracy);
    snprintf(text + n, sizeof text - n, " lr %.2g %.0f tok/s", m->lr, m->tokens_per_s);
    progress_update(&v->bar, m->step, text, checkpoint != NULL || m->has_valid);
    if (checkpoint) {
        progress_end(&v->bar);
        fprintf(stderr, "checkpoint: %s\n", checkpoint);
    }
    return 0;
}

static int load_set(const TextModel *tm, const char *what, const char *path, long max_length, long min_examples,
                    TrainSet *set) {
    DatasetInfo info;
    Err err = {0};
    if (dataset_load(tm, path, max_length, min_examples, set, &info, &err)) {
        fprintf(stderr, "ftune train: %s\n", err.msg);
        return -1;
    }
    fprintf(stderr, "%s: %ld examples, %lld tokens, %lld trained\n", what, info.n_examples, info.tokens,
            info.trained_tokens);
    if (info.n_truncated) {
        fprintf(stderr, "warning: %ld example%s longer than %ld tokens truncated, lines", info.n_truncated,
                info.n_truncated == 1 ? "" : "s", max_length);
        for (long i = 0; i < info.n_truncated && i < DATASET_MAX_REPORTED_LINES; i++)
            fprintf(stderr, "%s %ld", i ? "," : "", info.truncated_lines[i]);
        fprintf(stderr, "%s\n", info.n_truncated > DATASET_MAX_REPORTED_LINES ? ", ..." : "");
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "train", NULL, TRAIN_OPTIONS, usage, &status)) return status;
    if (a.n_positional || !args_get(&a, "model") || !args_get(&a, "train") || !args_get(&a, "out")) {
        usage();
        return EXIT_BAD_INPUT;
    }
    long rank = TRAIN_DEFAULT_RANK, seed = 0, max_length = 0, threads = 0, eval_every = 0;
    double alpha = TRAIN_DEFAULT_ALPHA, dropout = 0;
    if (args_int(&a, "rank", &rank, 1, LORA_MAX_RANK) || args_float(&a, "alpha", &alpha, 1e-6, 1e6) ||
        args_float(&a, "dropout", &dropout, 0, 0.95) ||
        args_int(&a, "seed", &seed, 0, 0x7fffffffffffffffl) || args_int(&a, "max-length", &max_length, 2, 1 << 20) ||
        args_int(&a, "threads", &threads, 0, 1024) || args_int(&a, "eval-every", &eval_every, 0, 1 << 30))
        return EXIT_BAD_INPUT;
    Err err = {0};
    LoraConfig lc = {(int)rank, (float)alpha, (float)dropout, LORA_ALL_TARGETS};
    if (args_get(&a, "target") && lora_parse_targets(args_get(&a, "target"), &lc.targets, &err)) {
        fprintf(stderr, "ftune train: --target: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    ops_set_threads((int)threads);
    Model *m;
    if (model_load(args_get(&a, "model"), &m, &err)) {
        fprintf(stderr, "ftune train: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    if (max_length <= 0) max_length = m->text->context_length > 0 ? m->text->context_length : 2048;
    TrainSet train = {0}, valid = {0};
    Lora *lora = NULL;
    int rc = EXIT_BAD_INPUT;
    if (load_set(m->text, "training file", args_get(&a, "train"), max_length, VALIDATE_MIN_EXAMPLES, &train) ||
        (args_get(&a, "validation") &&
         load_set(m->text, "validation file", args_get(&a, "validation"), max_length, 1, &valid)))
        goto done;
    Hyperparams hp;
    if (hyperparams_resolve(train.n, args_get(&a, "epochs"), args_get(&a, "batch-size"), args_get(&a, "lr-multiplier"),
                            &hp, &err) ||
        lora_new(m, &lc, &lora, &err)) {
        fprintf(stderr, "ftune train: %s\n", err.msg);
        goto done;
    }
    lora_init(lora, (uint64_t)seed);
    TrainConfig cfg;
    trainer_config_init(&cfg, &hp, (uint64_t)seed);
    cfg.eval_every = (int)eval_every;
    cfg.out_dir = args_get(&a, "out");
    cfg.base_model = args_get(&a, "model");
    cfg.stop = &cli_interrupted;
    long total = trainer_total_steps(train.n, hp.batch_size, hp.n_epochs);
    fprintf(stderr,
            "training: %d epochs, batch size %d, learning rate %.3g (multiplier %g), LoRA rank %d alpha %g, %ld steps\n",
            hp.n_epochs, hp.batch_size, hp.learning_rate, hp.lr_multiplier, lc.rank, lc.alpha, total);
    cli_catch_interrupt();
    TrainView view = {.n_epochs = hp.n_epochs};
    progress_start(&view.bar, total);
    TrainProgress progress;
    int trc = trainer_run(m, lora, &train, valid.n ? &valid : NULL, &cfg, args_get(&a, "resume"), on_step, &view,
                          &progress, &err);
    progress_end(&view.bar);
    cli_release_interrupt();
    if (trc) {
        fprintf(stderr, "ftune train: %s\n", err.msg);
        rc = err.code == ERR_ARG || err.code == ERR_FORMAT ? EXIT_BAD_INPUT : 1;
        goto done;
    }
    if (progress.step < total)
        fprintf(stderr, "stopped at step %ld of %ld; resume with --resume %s/checkpoint-%ld\n", progress.step, total,
                cfg.out_dir, progress.step);
    else
        fprintf(stderr, "done: adapter in %s (%ld trained tokens)\n", cfg.out_dir, progress.tokens_seen);
    rc = 0;
done:
    dataset_free(&train);
    dataset_free(&valid);
    lora_free(lora);
    model_free(m);
    return rc;
}
