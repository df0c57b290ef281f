/* trainer.h: the LoRA training loop over tokenized examples: epochs, length-grouped shuffled
 * batches (seeded), gradient accumulation over a batch, clipping, AdamW with warm-up and linear
 * decay, validation at intervals and at each epoch's end, OpenAI-style metrics through a callback,
 * and a checkpoint (adapter + optimizer state) at the end of every epoch, resumable. Same seed and
 * threads give the same loss curve bit for bit. Under MPI (cfg->dp) the ranks split every batch and
 * sum their gradients (data_parallel.h). Reading JSONL and rendering templates is dataset.h's job;
 * this file sees only token ids and loss masks. */
#ifndef FTUNE_TRAINER_H
#define FTUNE_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "../model/lora.h"
#include "../model/model.h"
#include "adamw.h"
#include "data_parallel.h"
#include "hyperparams.h"

typedef struct {
    int32_t *ids;    // (len)
    uint8_t *mask;   // (len) 1 = this token is a trained target
    int len;
    int n_trained;
    long line;       /* line of the JSONL file it came from */
} TrainExample;

typedef struct {
    TrainExample *ex;       /* (n); for DPO the preferred replies */
    TrainExample *rejected; /* (n) DPO: rejected[i] is the rejected reply to ex[i]'s prompt; NULL for SFT */
    int n;
} TrainSet;

typedef struct {
    int n_epochs;
    int batch_size;        /* examples per optimizer step */
    float warmup_fraction; /* of all steps */
    AdamWConfig adam;      /* adam.lr is the peak learning rate */
    uint64_t seed;
    int eval_every;        /* steps between validation passes; 0: only at epoch ends */
    int eval_examples;     /* examples in an interval validation pass (the full set at epoch ends) */
    const char *out_dir;   /* checkpoints and results.csv; NULL: none written */
    const char *base_model;/* recorded in the adapters */
    const volatile int *stop; /* set to non-zero (e.g. by SIGINT) to stop at the next step boundary;
                               * read atomically (another thread may set it) */
    int n_threads;         /* the run's thread budget (<= 0: every core), set on the calling thread */
    float dpo_beta;        /* > 0: DPO (dpo.h) with this beta on the pairs of train and valid; 0: SFT */
    Lora *dpo_reference;   /* DPO's reference: a frozen adapter of the same shape, or NULL for the base model */
    DataParallel *dp;      /* the MPI ranks sharing every batch (data_parallel.h), or NULL: this process
                            * alone. Each rank runs every size-th example of a batch, the gradients and
                            * statistics are summed over the ranks, every rank takes the same AdamW step;
                            * rank 0 alone writes out_dir and calls the callback */
} TrainConfig;

typedef struct {
    long step, total_steps;
    int epoch;             /* 1-based */
    double train_loss;     /* this step's batch */
    double train_accuracy; /* mean token accuracy of this step's batch (DPO: of its preferred replies) */
    bool has_valid;        /* valid_* are set on this step (DPO: loss and accuracy as for train) */
    double valid_loss, valid_accuracy;
    bool dpo;              /* the DPO fields below are set: means over the step's pairs */
    double chosen_reward, rejected_reward; /* beta * (log pi - log pi_ref) of the preferred / rejected replies */
    double reward_accuracy;  /* fraction of pairs whose preferred reward exceeds the rejected one */
    double reward_margin;    /* chosen_reward - rejected_reward */
    bool full_valid;       /* the valid_* values cover the whole validation set (epoch end) */
    float lr;
    double grad_norm;
    long tokens_seen;      /* trained tokens so far */
    double elapsed_s;
    double tokens_per_s;   /* all tokens processed per second */
} TrainMetrics;

typedef struct {
    long step;             /* optimizer steps done */
    int epoch;             /* epochs completed */
    long tokens_seen;
} TrainProgress;

/* Called after every step; a checkpoint_dir is non-NULL on the step that wrote one. Returning
 * non-zero stops training at this boundary (as the stop flag does); TRAIN_CB_ABANDON stops it
 * without writing anything more to out_dir (no stop checkpoint, results or adapter: the directory
 * is no longer this run's). */
#define TRAIN_CB_ABANDON 2
typedef int (*TrainCallback)(const TrainMetrics *m, const char *checkpoint_dir, void *user);

/* Trains lora on train (valid may be NULL or empty); with cfg->dpo_beta > 0 on their pairs by DPO. When resume_dir is given the adapter,
 * optimizer state and progress come from that checkpoint. On return *progress says how far it
 * got; stopping early is not an error. */
int trainer_run(const Model *m, Lora *lora, const TrainSet *train, const TrainSet *valid, const TrainConfig *cfg,
                const char *resume_dir, TrainCallback cb, void *user, TrainProgress *progress, Err *err);

#define TRAIN_WARMUP_FRACTION 0.05f /* of all steps */
#define TRAIN_EVAL_EXAMPLES 32      /* examples in an interval validation pass */
#define TRAIN_DEFAULT_RANK 8        /* LoRA rank and alpha when the user gives none */
#define TRAIN_DEFAULT_ALPHA 16.0f

/* The one place for a run's defaults: cfg from resolved hyperparameters and a seed, with the
 * warm-up fraction, AdamW (betas 0.9/0.999, eps 1e-8, no weight decay, clipping at 1) and the
 * interval validation size above; out_dir, base_model, eval_every and stop are left for the caller. */
void trainer_config_init(TrainConfig *cfg, const Hyperparams *hp, uint64_t seed);

/* The number of optimizer steps training will take. */
long trainer_total_steps(int n_examples, int batch_size, int n_epochs);

#endif
