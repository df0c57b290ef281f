/* train_step.h: the training forward and backward pass of one sequence through the frozen model
 * with LoRA adapters: next-token cross-entropy on the positions a mask selects, gradients for the
 * LoRA factors only (accumulated into lora->grads). Sequences run one at a time at their own
 * length, so padding never exists. LoRA dropout (PEFT's lora_dropout on the adapter branch's
 * input) is applied in training passes only. Buffers for the longest sequence are sized at creation; the
 * step allocates nothing. Not thread-safe per state; kernels use all configured threads. */
#ifndef FTUNE_TRAIN_STEP_H
#define FTUNE_TRAIN_STEP_H

#include <stdint.h>

#include "../model/model.h"
#include "../model/lora.h"

typedef struct TrainState TrainState;

/* Sizes the activations for sequences of up to max_len tokens. */
int train_state_new(const Model *m, Lora *lora, int max_len, TrainState **out, Err *err);
void train_state_free(TrainState *s); /* NULL is a no-op */

typedef struct {
    double loss_sum; /* sum of -log p(target) over trained positions */
    int n_tokens;    /* trained positions */
    int n_correct;   /* trained positions whose argmax is the target */
} StepStats;

/* Sets the seed of the LoRA dropout masks for the next train_sequence calls (no effect when the
 * adapter's dropout is 0). The trainer derives it from the run's seed, the step and the example,
 * so runs are reproducible. */
void train_state_set_dropout_seed(TrainState *s, uint64_t seed);

/* ids (len); mask (len): mask[t] = 1 trains the prediction of ids[t] from the tokens before it
 * (mask[0] is ignored). Adds grad_scale * d(loss_sum)/d(LoRA) into lora->grads when backward is
 * true (typically grad_scale = 1 / trained tokens in the batch) and adds to *stats. */
int train_sequence(TrainState *s, const int32_t *ids, const uint8_t *mask, int len, float grad_scale, bool backward,
                   StepStats *stats, Err *err);

#endif
