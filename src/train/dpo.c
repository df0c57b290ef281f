/* dpo.c: the DPO loss, its gradient as per-sequence weights, and the reference pass (see dpo.h). */
#include "dpo.h"

#include <math.h>
#include <string.h>

/* log(1 + exp(x)) without overflow */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

static TrainSeq seq_of(const TrainExample *e, uint64_t seed) { return (TrainSeq){e->ids, e->mask, e->len, seed}; }

int dpo_reference_logps(TrainState *ts, Lora *policy, Lora *ref, const TrainSet *set, TrainSeq *seqs, int batch,
                        double *ref_logp, Err *err) {
    if (train_state_set_lora(ts, ref, err)) return -1;
    int rc = 0;
    double nll[2 * batch];
    for (int b = 0; b < set->n && !rc; b += batch) {
        int k = set->n - b < batch ? set->n - b : batch;
        for (int i = 0; i < k; i++) {
            seqs[2 * i] = seq_of(&set->ex[b + i], 0);
            seqs[2 * i + 1] = seq_of(&set->rejected[b + i], 0);
        }
        StepStats st = {0};
        rc = train_batch_weighted(ts, seqs, 2 * k, NULL, 0.0f, false, &st, nll, err);
        for (int i = 0; i < 2 * k && !rc; i++) ref_logp[2 * b + i] = -nll[i];
    }
    Err ignored = {0};
    train_state_set_lora(ts, policy, &ignored); /* the shape the state was made for: cannot fail */
    return rc;
}

int dpo_batch(TrainState *ts, const TrainSet *set, const int *idx, int n, const double *ref_logp, float beta,
              bool backward, uint64_t dropout_seed, TrainSeq *seqs, DpoStats *st, Err *err) {
    return dpo_batch_share(ts, set, idx, NULL, n, n, ref_logp, beta, backward, dropout_seed, seqs, st, err);
}

int dpo_batch_share(TrainState *ts, const TrainSet *set, const int *idx, const int *pos, int n, int n_batch,
                    const double *ref_logp, float beta, bool backward, uint64_t dropout_seed, TrainSeq *seqs,
                    DpoStats *st, Err *err) {
    double nll[2 * n + 1];
    float weight[2 * n + 1];
    /* the current sums: the preferred replies, then the rejected ones (their token statistics apart) */
    for (int i = 0; i < n; i++) {
        uint64_t p = pos ? (uint64_t)pos[i] : (uint64_t)i;
        seqs[i] = seq_of(&set->ex[idx[i]], dropout_seed ^ (2 * p));
        seqs[n + i] = seq_of(&set->rejected[idx[i]], dropout_seed ^ (2 * p + 1));
    }
    StepStats chosen = {0}, rejected = {0};
    if (train_batch_weighted(ts, seqs, n, NULL, 0.0f, false, &chosen, nll, err) ||
        train_batch_weighted(ts, seqs + n, n, NULL, 0.0f, false, &rejected, nll + n, err))
        return -1;
    st->chosen.loss_sum += chosen.loss_sum;
    st->chosen.n_tokens += chosen.n_tokens;
    st->chosen.n_correct += chosen.n_correct;
    st->trained_tokens += chosen.n_tokens + rejected.n_tokens;
    for (int i = 0; i < n; i++) {
        double rw = beta * (-nll[i] - ref_logp[2 * idx[i]]), rl = beta * (-nll[n + i] - ref_logp[2 * idx[i] + 1]);
        double z = rw - rl;
        st->loss_sum += softplus(-z); /* -log sigmoid(z) */
        st->chosen_reward_sum += rw;
        st->rejected_reward_sum += rl;
        st->n_ordered += rw > rl;
        /* d loss / d nll_w = beta * sigmoid(-z), d loss / d nll_l = -beta * sigmoid(-z) */
        double g = beta * sigmoid(-z);
        weight[i] = (float)g;
        weight[n + i] = (float)-g;
    }
    st->n_pairs += n;
    if (!backward) return 0;
    StepStats ignored = {0};
    return train_batch_weighted(ts, seqs, 2 * n, weight, 1.0f / n_batch, true, &ignored, NULL, err);
}
