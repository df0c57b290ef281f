/* dpo.h: Direct Preference Optimization (Rafailov et al. 2023) on pairs of tokenized replies to the
 * same prompt, through the one training pass (train_step.h). For a pair (preferred y_w, rejected
 * y_l) the loss is
 *     -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])
 * where log pi(y) is the sum of the log-probabilities of the reply's trained tokens (those SFT
 * would train) under the model with the trained LoRA adapter, and pi_ref the reference: the base
 * model (LoRA term off) or a frozen adapter. The reference sums are computed once, without
 * gradients, before training. A batch's loss is the mean over its pairs; its gradient reaches the
 * adapter as a per-sequence weight on the summed log-probabilities (train_batch_weighted), so a
 * step is one forward pass for the current sums and one forward and backward pass. Rewards are
 * beta * (log pi - log pi_ref) of each reply, as TRL and OpenAI report them. */
#ifndef FTUNE_DPO_H
#define FTUNE_DPO_H

#include "train_step.h"
#include "trainer.h"

typedef struct {
    double loss_sum;            /* sum over pairs of the DPO loss */
    double chosen_reward_sum;   /* sum over pairs of beta * (log pi(y_w) - log pi_ref(y_w)) */
    double rejected_reward_sum; /* the same for y_l */
    int n_pairs;
    int n_ordered;              /* pairs whose preferred reward exceeds the rejected one */
    StepStats chosen;           /* token loss and accuracy of the preferred replies */
    long trained_tokens;        /* reply tokens of both sides */
} DpoStats;

/* The reference's summed log-probability of every reply of set (pairs: set->ex[i] preferred,
 * set->rejected[i] rejected): ref_logp[2i] and ref_logp[2i + 1]. ref is the frozen reference
 * adapter, NULL for the base model; ts is left using `policy` again. seqs: room for 2 * batch
 * TrainSeq. */
int dpo_reference_logps(TrainState *ts, Lora *policy, Lora *ref, const TrainSet *set, TrainSeq *seqs, int batch,
                        double *ref_logp, Err *err);

/* The DPO loss of pairs idx[0..n) of set (ref_logp as dpo_reference_logps wrote it) added into
 * *st; with backward, d(mean loss over the n pairs)/d(LoRA) added into the adapter's grads.
 * dropout_seed: the sequences' LoRA dropout seeds derive from it. seqs: room for 2n TrainSeq. */
int dpo_batch(TrainState *ts, const TrainSet *set, const int *idx, int n, const double *ref_logp, float beta,
              bool backward, uint64_t dropout_seed, TrainSeq *seqs, DpoStats *st, Err *err);

/* As dpo_batch for this process's share of a batch of n_batch pairs (data-parallel training):
 * pos[i] is pair idx[i]'s position in the batch (its dropout seeds derive from it) and the gradient
 * is that of the mean over all n_batch pairs, so the shares' gradients sum to the batch's. */
int dpo_batch_share(TrainState *ts, const TrainSet *set, const int *idx, const int *pos, int n, int n_batch,
                    const double *ref_logp, float beta, bool backward, uint64_t dropout_seed, TrainSeq *seqs,
                    DpoStats *st, Err *err);

#endif
