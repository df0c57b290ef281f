/* hyperparams.h: OpenAI's fine-tuning hyperparameters (n_epochs, batch_size,
 * learning_rate_multiplier: each a number or "auto") resolved to the numbers a run uses, the same
 * way for `ftune train` and the server's jobs.
 *   n_epochs auto: the cookbook rule for N examples: 3, raised to min(25, 100 / N) when N*3 < 100,
 *     lowered to max(1, 25000 / N) when N*3 > 25000 (see ../shared/spec/openai-api-facts.md).
 *   batch_size auto: the largest power of two <= N / 64, between 1 and 32 (OpenAI reports 1 for
 *     small sets and grows with N; updates per epoch stay >= 64 where N allows).
 *   learning_rate_multiplier auto: 1, with learning rate = TRAIN_BASE_LR x multiplier (a usual
 *     LoRA learning rate for rank-8 adapters on small models).
 *   beta (DPO only) auto: DPO_DEFAULT_BETA. */
#ifndef FTUNE_HYPERPARAMS_H
#define FTUNE_HYPERPARAMS_H

#include "../core/err.h"

#define TRAIN_BASE_LR 1e-3f
#define TRAIN_MAX_EPOCHS 50
#define TRAIN_MAX_BATCH 256
#define TRAIN_MAX_LR_MULTIPLIER 10.0

#define DPO_DEFAULT_BETA 0.1 /* OpenAI's documented example and TRL's default */
#define DPO_MAX_BETA 2.0      /* OpenAI's range: 0 < beta <= 2 */

typedef struct {
    int n_epochs;
    int batch_size;
    double lr_multiplier;
    float learning_rate; /* TRAIN_BASE_LR * lr_multiplier */
} Hyperparams;

/* Each value is "auto", NULL (= auto) or a number in its range (n_epochs 1..50, batch_size
 * 1..256, multiplier (0, 10]); ERR_ARG naming the parameter otherwise. */
int hyperparams_resolve(long n_examples, const char *n_epochs, const char *batch_size, const char *lr_multiplier,
                        Hyperparams *out, Err *err);

/* DPO's beta: "auto", NULL (= auto) or a number in (0, DPO_MAX_BETA]; ERR_ARG naming it otherwise. */
int hyperparams_resolve_beta(const char *beta, double *out, Err *err);

#endif
