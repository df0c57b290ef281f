/* train_step.h: the training forward and backward pass through the frozen model with LoRA
 * adapters, on packed batches: the sequences of a batch go through the shared block (model/layer.h)
 * as one set of rows (matmuls with M = their total tokens, causal attention within each
 * sequence), so padding never exists. Next-token cross-entropy on the positions a mask selects;
 * gradients for the LoRA factors only (accumulated into lora->grads). LoRA dropout (PEFT's
 * lora_dropout on the adapter branch's input) applies in training passes only, with each
 * sequence's own mask seed. Buffers are sized at creation; a step allocates nothing. Not
 * thread-safe per state; kernels use all configured threads. */
#ifndef FTUNE_TRAIN_STEP_H
#define FTUNE_TRAIN_STEP_H

#include <stdint.h>

#include "../model/lora.h"
#include "../model/model.h"

typedef struct TrainState TrainState;

#define TRAIN_PACK_ROWS 1024 /* default tokens per packed forward/backward pass */

/* Sizes the activations for sequences of up to max_len tokens, packed up to max_rows tokens per
 * pass (max_rows < max_len is raised to max_len). */
int train_state_new(const Model *m, Lora *lora, int max_len, int max_rows, TrainState **out, Err *err);
void train_state_free(TrainState *s); /* NULL is a no-op */

typedef struct {
    double loss_sum; /* sum of -log p(target) over trained positions */
    int n_tokens;    /* trained positions */
    int n_correct;   /* trained positions whose argmax is the target */
} StepStats;

/* One sequence of a batch: ids (len); mask (len): mask[t] = 1 trains the prediction of ids[t]
 * from the tokens before it (mask[0] is ignored). dropout_seed: its LoRA dropout masks (the
 * trainer derives it from the run's seed, the step and the example, so runs are reproducible). */
typedef struct {
    const int32_t *ids;
    const uint8_t *mask;
    int len;
    uint64_t dropout_seed;
} TrainSeq;

/* Runs the n sequences, packed into passes of up to max_rows tokens (sequences with no trained
 * token are skipped). Adds grad_scale * d(loss_sum)/d(LoRA) into lora->grads when backward is
 * true (typically grad_scale = 1 / trained tokens in the batch) and adds to *stats. ERR_ARG,
 * before anything runs, for a sequence too short or long or a token out of the vocabulary. */
int train_batch(TrainState *s, const TrainSeq *seqs, int n, float grad_scale, bool backward, StepStats *stats,
                Err *err);

/* As train_batch, per sequence: sequence i's gradient is scaled by grad_scale * weight[i] (weight
 * NULL: 1; a weight may be negative) and, when nll is non-NULL, nll[i] gets its sum of
 * -log p(target) over its trained positions (0 for a sequence with none). A loss that is a
 * function of these sums (DPO's) backpropagates by passing its derivative w.r.t. each sum as the
 * weight. */
int train_batch_weighted(TrainState *s, const TrainSeq *seqs, int n, const float *weight, float grad_scale,
                         bool backward, StepStats *stats, double *nll, Err *err);

/* Makes the passes use lora instead (NULL: the base model alone, the LoRA term off), e.g. a frozen
 * reference adapter for no-grad passes. ERR_ARG when lora's rank, targets or dropout differ from
 * those of the adapter the state was created with (its buffers are sized for those). */
int train_state_set_lora(TrainState *s, Lora *lora, Err *err);

/* One sequence on its own, with the seed set by train_state_set_dropout_seed. */
void train_state_set_dropout_seed(TrainState *s, uint64_t seed);
int train_sequence(TrainState *s, const int32_t *ids, const uint8_t *mask, int len, float grad_scale, bool backward,
                   StepStats *stats, Err *err);

#endif
