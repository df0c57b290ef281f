/* ftune_train.c: ft_train, LoRA fine-tuning from a chat JSONL file (SFT) or a preference file (DPO)
 * through the training modules: train/dataset.h (validate, render, tokenize), train/hyperparams.h
 * ("auto" resolution),
 * model/lora.h (a fresh adapter, PEFT initialisation) or model/peft.h (an adapter to continue) and
 * train/trainer.h (the loop, checkpoints,
 * results.csv, the final adapter). It converts the public parameters, reports and per-step
 * metrics and records the stage it reached; it does not print anything (the caller's callbacks
 * do). */
#include <stdlib.h>
#include <string.h>

#include "../data/validate.h"
#include "../model/peft.h"
#include "../tensor/ops.h"
#include "../train/dataset.h"
#include "../train/hyperparams.h"
#include "../train/trainer.h"
#include "ftune_internal.h"

struct FtParallel {
    DataParallel *dp;
};

int ft_parallel_join(FtParallel **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_parallel_join: NULL argument");
    *out = NULL;
    Err e = {0};
    DataParallel *dp;
    if (dp_join(&dp, &e)) return ft_err_from(err, &e);
    if (!dp) return 0;
    if (!(*out = calloc(1, sizeof **out))) {
        dp_abort(dp, 1);
        dp_leave(dp);
        return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    }
    (*out)->dp = dp;
    return 0;
}

int ft_parallel_rank(const FtParallel *p) { return dp_rank(p ? p->dp : NULL); }
int ft_parallel_size(const FtParallel *p) { return dp_size(p ? p->dp : NULL); }

void ft_parallel_leave(FtParallel *p) {
    if (!p) return;
    dp_leave(p->dp);
    free(p);
}

void ft_parallel_abort(FtParallel *p, int status) { dp_abort(p ? p->dp : NULL, status); }

void ft_parallel_timing(const FtParallel *p, FtParallelTiming *t) {
    DpTiming d;
    dp_timing(p ? p->dp : NULL, &d);
    *t = (FtParallelTiming){d.n_reductions, d.bytes, d.wait_s, d.reduce_s};
}

#define FT_TRAIN_FALLBACK_LENGTH 2048 /* max_length when the model states no context length */

_Static_assert(FT_LORA_MAX_RANK == LORA_MAX_RANK, "the public rank bound is lora_new's");
_Static_assert(FT_TRAIN_REPORTED_LINES == DATASET_MAX_REPORTED_LINES, "the public report lists as many lines");

void ft_train_params_default(FtTrainParams *p) {
    memset(p, 0, sizeof *p);
    p->rank = TRAIN_DEFAULT_RANK;
    p->alpha = TRAIN_DEFAULT_ALPHA;
}

typedef struct {
    FtTrainFn fn;
    void *user;
} StepRelay;

_Static_assert(FT_TRAIN_ABANDON == TRAIN_CB_ABANDON, "on_step's abandon is the trainer's");

static int relay_step(const TrainMetrics *m, const char *checkpoint_dir, void *user) {
    const StepRelay *r = user;
    if (!r->fn) return 0;
    FtTrainMetrics fm = {m->step,      m->total_steps, m->epoch,     m->train_loss,  m->train_accuracy,
                         m->has_valid, m->valid_loss,  m->valid_accuracy, m->full_valid, m->lr,
                         m->grad_norm, m->tokens_seen, m->elapsed_s,  m->tokens_per_s, m->dpo,
                         m->chosen_reward, m->rejected_reward, m->reward_accuracy, m->reward_margin};
    return r->fn(&fm, checkpoint_dir, r->user);
}

static bool is_dpo(const FtTrainParams *p) { return p->method && strcmp(p->method, "dpo") == 0; }

/* -1 with err naming the first bad parameter; *targets gets the parsed target list. */
static int params_check(const FtTrainParams *p, unsigned *targets, FtError *err) {
    if (!p->train_path || !*p->train_path) return ft_err_set(err, FT_ERR_ARG, "no training file");
    if (!p->out_dir || !*p->out_dir) return ft_err_set(err, FT_ERR_ARG, "no output directory");
    if (p->rank < 1 || p->rank > LORA_MAX_RANK)
        return ft_err_set(err, FT_ERR_ARG, "LoRA rank %d is outside 1..%d", p->rank, LORA_MAX_RANK);
    if (!(p->alpha > 0)) return ft_err_set(err, FT_ERR_ARG, "LoRA alpha %g must be positive", p->alpha);
    if (!(p->dropout >= 0 && p->dropout < 1)) return ft_err_set(err, FT_ERR_ARG, "LoRA dropout %g is outside [0, 1)", p->dropout);
    if (p->eval_every < 0) return ft_err_set(err, FT_ERR_ARG, "eval_every %d is negative", p->eval_every);
    if (p->method && strcmp(p->method, "supervised") && strcmp(p->method, "dpo"))
        return ft_err_set(err, FT_ERR_ARG, "method '%s' is not supported (supervised or dpo)", p->method);
    if (p->beta && !is_dpo(p)) return ft_err_set(err, FT_ERR_ARG, "beta applies to the dpo method only");
    Err e = {0};
    double beta;
    if (is_dpo(p) && hyperparams_resolve_beta(p->beta, &beta, &e)) return ft_err_from(err, &e);
    *targets = LORA_ALL_TARGETS;
    if (p->targets && lora_parse_targets(p->targets, targets, &e)) return ft_err_from(err, &e);
    return 0;
}

int ft_train_params_check(const FtTrainParams *p, FtError *err) {
    unsigned targets;
    if (!p) return ft_err_set(err, FT_ERR_ARG, "ft_train_params_check: NULL argument");
    return params_check(p, &targets, err);
}

/* Loads one chat file into set and its public report. */
static int load_set(const Model *m, const char *path, bool dpo, long max_length, long min_examples, TrainSet *set,
                    FtDataReport *out, Err *e) {
    DatasetInfo info;
    if (dataset_load(m->text, path, dpo, max_length, min_examples, set, &info, e)) return -1;
    *out = (FtDataReport){info.n_examples, info.tokens, info.trained_tokens, info.n_truncated, {0}};
    memcpy(out->truncated_lines, info.truncated_lines, sizeof out->truncated_lines);
    return 0;
}

int ft_train(const FtModel *fm, const FtTrainParams *p, FtTrainResult *res, FtError *err) {
    FtTrainResult local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    res->stage = FT_TRAIN_CHECK;
    if (!fm || !p) return ft_err_set(err, FT_ERR_ARG, "ft_train: NULL argument");
    LoraConfig lc = {p->rank, p->alpha, p->dropout, LORA_ALL_TARGETS};
    if (params_check(p, &lc.targets, err)) return -1;
    const Model *m = fm->model;
    long max_length = p->max_length;
    if (max_length <= 0) max_length = m->text->context_length > 0 ? m->text->context_length : FT_TRAIN_FALLBACK_LENGTH;
    res->max_length = max_length;

    Err e = {0};
    TrainSet train = {0}, valid = {0};
    Lora *lora = NULL, *reference = NULL;
    Hyperparams hp;
    bool dpo = is_dpo(p);
    int rc = -1;
    res->stage = FT_TRAIN_LOAD_TRAIN;
    if (load_set(m, p->train_path, dpo, max_length, VALIDATE_MIN_EXAMPLES, &train, &res->train, &e)) goto done;
    res->stage = FT_TRAIN_LOAD_VALID;
    if (p->valid_path && load_set(m, p->valid_path, dpo, max_length, 1, &valid, &res->valid, &e)) goto done;
    res->stage = FT_TRAIN_RESOLVE;
    if (hyperparams_resolve(train.n, p->n_epochs, p->batch_size, p->lr_multiplier, &hp, &e)) goto done;
    if (dpo && hyperparams_resolve_beta(p->beta, &res->beta, &e)) goto done;
    res->n_epochs = hp.n_epochs;
    res->batch_size = hp.batch_size;
    res->lr_multiplier = hp.lr_multiplier;
    res->learning_rate = hp.learning_rate;
    res->total_steps = trainer_total_steps(train.n, hp.batch_size, hp.n_epochs);
    res->stage = FT_TRAIN_PREPARE;
    if (p->init_adapter) { /* continued training: the adapter's own shape, weights as saved */
        if (peft_load(m, p->init_adapter, &lora, &e)) goto done;
        if (lora->scale != lora->cfg.alpha / (float)lora->cfg.rank) {
            err_set(&e, ERR_UNSUPPORTED, "%s: an rsLoRA adapter cannot be trained further (its scale is not alpha/r)",
                    p->init_adapter);
            goto done;
        }
    } else {
        if (lora_new(m, &lc, &lora, &e)) goto done;
        lora_init(lora, p->seed);
    }
    /* DPO's reference: the starting adapter (or the one named), frozen, as a second copy */
    const char *ref_dir = p->reference_adapter ? p->reference_adapter : p->init_adapter;
    if (dpo && ref_dir && peft_load(m, ref_dir, &reference, &e)) goto done;
    res->stage = FT_TRAIN_RUN;
    rc = 0;
    DataParallel *dp = p->parallel ? p->parallel->dp : NULL;
    /* rank 0 reports; whether to train at all is every rank's decision */
    if (dp_any(dp, dp_rank(dp) == 0 && p->on_ready && p->on_ready(res, p->user))) goto done;
    TrainConfig cfg;
    trainer_config_init(&cfg, &hp, p->seed);
    cfg.eval_every = p->eval_every;
    cfg.out_dir = p->out_dir;
    cfg.base_model = p->base_model ? p->base_model : m->path;
    cfg.stop = p->stop;
    cfg.n_threads = p->n_threads;
    cfg.dpo_beta = (float)res->beta;
    cfg.dpo_reference = reference; /* NULL for a new adapter: the base model */
    cfg.dp = dp;
    StepRelay relay = {p->on_step, p->user};
    TrainProgress progress = {0};
    rc = trainer_run(m, lora, &train, valid.n ? &valid : NULL, &cfg, p->resume_dir, relay_step, &relay, &progress, &e);
    res->step = progress.step;
    res->epoch = progress.epoch;
    res->tokens_seen = progress.tokens_seen;
done:
    dataset_free(&train);
    dataset_free(&valid);
    lora_free(lora);
    lora_free(reference);
    if (rc) return ft_err_from(err, &e);
    return 0;
}
