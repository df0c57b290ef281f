/* trainer.c: the training loop, batch order, evaluation, checkpoints and resume (see trainer.h).
 * A checkpoint is a directory checkpoint-<step>/ holding the adapter in the PEFT layout,
 * optimizer.safetensors (AdamW moments) and trainer_state.json; it is written under a temporary
 * name and renamed into place, so a crash leaves either the old set or the complete new one. */
#include "trainer.h"

#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/clock.h"
#include "../core/fault.h"
#include "../core/fileio.h"
#include "../core/rng.h"
#include "../model/peft.h"
#include "../model/safetensors.h"
#include "../tensor/ops.h"
#include "dpo.h"
#include "train_step.h"

#define GROUP_BATCHES 32 /* batches per length-sorted group when shuffling */
#define MAX_STATE_JSON (1u << 20)

typedef struct {
    long step;
    double train_loss, train_acc, valid_loss, valid_acc;
    bool has_valid;
} ResultRow;

long trainer_total_steps(int n_examples, int batch_size, int n_epochs) {
    long per_epoch = (n_examples + batch_size - 1) / batch_size;
    return per_epoch * n_epochs;
}

static const TrainSet *g_sort_set; /* qsort has no context argument */
static int by_length(const void *a, const void *b) {
    int la = g_sort_set->ex[*(const int *)a].len, lb = g_sort_set->ex[*(const int *)b].len;
    return la != lb ? la - lb : *(const int *)a - *(const int *)b;
}

static void shuffle(int *v, int n, Rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng_next(r) % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* The example order of one epoch: shuffled, then sorted by length within groups of
 * GROUP_BATCHES batches (similar lengths share a batch), then the batches shuffled. Depends only
 * on (seed, epoch). */
static int epoch_order(const TrainSet *set, int batch_size, uint64_t seed, int epoch, int *order, Err *err) {
    Rng r;
    rng_seed(&r, seed * 1000003u + (uint64_t)epoch);
    for (int i = 0; i < set->n; i++) order[i] = i;
    shuffle(order, set->n, &r);
    int group = batch_size * GROUP_BATCHES;
    g_sort_set = set;
    for (int g = 0; g < set->n; g += group) qsort(order + g, (size_t)(set->n - g < group ? set->n - g : group), sizeof(int), by_length);
    int n_batches = (set->n + batch_size - 1) / batch_size;
    int *perm = fault_malloc(n_batches * sizeof(int)), *copy = fault_malloc(set->n * sizeof(int));
    if (!perm || !copy) {
        free(perm);
        free(copy);
        return err_set(err, ERR_NOMEM, "out of memory for the order of epoch %d", epoch + 1);
    }
    for (int b = 0; b < n_batches; b++) perm[b] = b;
    /* the last (possibly short) batch stays last so that every other batch is full */
    shuffle(perm, n_batches - 1 > 0 ? n_batches - 1 : 0, &r);
    int k = 0;
    for (int b = 0; b < n_batches; b++)
        for (int i = perm[b] * batch_size; i < set->n && i < (perm[b] + 1) * batch_size; i++) copy[k++] = order[i];
    memcpy(order, copy, set->n * sizeof(int));
    free(perm);
    free(copy);
    return 0;
}

#define TRAIN_MAX_PACK_EXAMPLES 256 /* examples pack_rows sums at most (more only means more passes) */

/* Rows a packed pass needs: the tokens of the batch_size longest examples (the most one batch can
 * hold; DPO: the 2 x batch_size longest replies), at most TRAIN_PACK_ROWS, so small batches of
 * short examples do not pay for activations of TRAIN_PACK_ROWS tokens. */
static int pack_rows(const TrainSet *train, int batch_size) {
    int per_batch = train->rejected ? 2 * batch_size : batch_size;
    int top[TRAIN_MAX_PACK_EXAMPLES] = {0}, k = per_batch < TRAIN_MAX_PACK_EXAMPLES ? per_batch : TRAIN_MAX_PACK_EXAMPLES;
    for (int e = 0; e < (train->rejected ? 2 : 1) * train->n; e++) { /* the k largest lengths, sorted descending */
        int len = e < train->n ? train->ex[e].len : train->rejected[e - train->n].len;
        for (int j = 0; j < k && len > 0; j++)
            if (len > top[j]) {
                int t = top[j];
                top[j] = len;
                len = t;
            }
    }
    long sum = 0;
    for (int j = 0; j < k; j++) sum += top[j];
    return sum < TRAIN_PACK_ROWS ? (int)sum : TRAIN_PACK_ROWS;
}

#define EVAL_PACK 64 /* validation examples handed to one train_batch call */

/* Sums a step's or a validation pass's statistics over the MPI ranks (each ran its share). */
static void sum_stats(DataParallel *dp, StepStats *st) {
    double v[3] = {st->loss_sum, st->n_tokens, st->n_correct};
    dp_sum_doubles(dp, v, 3);
    *st = (StepStats){v[0], (int)v[1], (int)v[2]};
}

/* Loss and token accuracy over examples idx[0..n) of set (no gradients); seqs holds EVAL_PACK.
 * With several MPI ranks each runs every size-th example and the sums are shared. */
static int evaluate(TrainState *ts, DataParallel *dp, TrainSeq *seqs, const TrainSet *set, const int *idx, int n,
                    double *loss, double *acc, Err *err) {
    StepStats st = {0};
    int k = 0;
    for (int i = dp_rank(dp); i < n; i += dp_size(dp)) {
        const TrainExample *e = &set->ex[idx[i]];
        seqs[k++] = (TrainSeq){e->ids, e->mask, e->len, 0};
        if (k == EVAL_PACK || i + dp_size(dp) >= n) {
            if (train_batch(ts, seqs, k, 1.0f, false, &st, err)) return -1;
            k = 0;
        }
    }
    sum_stats(dp, &st);
    *loss = st.n_tokens ? st.loss_sum / st.n_tokens : 0;
    *acc = st.n_tokens ? (double)st.n_correct / st.n_tokens : 0;
    return 0;
}

/* The same for DPO's statistics. */
static void sum_dpo_stats(DataParallel *dp, DpoStats *st) {
    double v[9] = {st->loss_sum, st->chosen_reward_sum, st->rejected_reward_sum, st->n_pairs, st->n_ordered,
                   st->chosen.loss_sum, st->chosen.n_tokens, st->chosen.n_correct, (double)st->trained_tokens};
    dp_sum_doubles(dp, v, 9);
    *st = (DpoStats){v[0], v[1], v[2], (int)v[3], (int)v[4], {v[5], (int)v[6], (int)v[7]}, (long)v[8]};
}

/* The DPO loss over pairs idx[0..n) of set and the token accuracy of their preferred replies (each
 * MPI rank runs every size-th pair). */
static int evaluate_dpo(TrainState *ts, DataParallel *dp, TrainSeq *seqs, const TrainSet *set, const int *idx, int n,
                        const double *ref_logp, float beta, double *loss, double *acc, Err *err) {
    DpoStats st = {0};
    int share[EVAL_PACK], k = 0;
    for (int i = dp_rank(dp); i < n; i += dp_size(dp)) {
        share[k++] = idx[i];
        if (k == EVAL_PACK || i + dp_size(dp) >= n) {
            if (dpo_batch(ts, set, share, k, ref_logp, beta, false, 0, seqs, &st, err)) return -1;
            k = 0;
        }
    }
    sum_dpo_stats(dp, &st);
    *loss = st.n_pairs ? st.loss_sum / st.n_pairs : 0;
    *acc = st.chosen.n_tokens ? (double)st.chosen.n_correct / st.chosen.n_tokens : 0;
    return 0;
}

static int write_results_csv(const char *dir, const ResultRow *rows, long n, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) return -1;
    fprintf(af.fp, "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n");
    for (long i = 0; i < n; i++) {
        fprintf(af.fp, "%ld,%.5f,%.5f,", rows[i].step, rows[i].train_loss, rows[i].train_acc);
        if (rows[i].has_valid) fprintf(af.fp, "%.5f,%.5f\n", rows[i].valid_loss, rows[i].valid_acc);
        else fprintf(af.fp, ",\n");
    }
    return file_atomic_commit(&af, err);
}

/* Rows of an earlier run's results.csv up to step `upto` (for a resumed run); returns the count. */
static long read_results_csv(const char *dir, long upto, ResultRow *rows, long cap) {
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    long n = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        ResultRow r = {0};
        int got = sscanf(line, "%ld,%lf,%lf,%lf,%lf", &r.step, &r.train_loss, &r.train_acc, &r.valid_loss, &r.valid_acc);
        if (got < 3 || r.step > upto) continue; /* the header, or steps redone after the checkpoint */
        r.has_valid = got == 5;
        rows[n++] = r;
    }
    fclose(f);
    return n;
}

static int write_json(const char *path, json_t *j, Err *err) {
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* checkpoint-<step>/: adapter, optimizer moments, progress. Written as <name>.tmp, then renamed. */
static int save_checkpoint(const Lora *l, const TrainConfig *cfg, const TrainProgress *p, char *out_path, size_t cap,
                           Err *err) {
    char tmp[4200], path[4096], file[4300];
    snprintf(path, sizeof path, "%s/checkpoint-%ld", cfg->out_dir, p->step);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (peft_save(l, tmp, cfg->base_model, err)) return -1;
    StWriteTensor moments[2] = {{"adam_m", l->adam_m, 1, {l->n_params}}, {"adam_v", l->adam_v, 1, {l->n_params}}};
    snprintf(file, sizeof file, "%s/optimizer.safetensors", tmp);
    if (st_write(file, moments, 2, NULL, err)) return -1;
    json_t *st = json_pack("{s:I, s:i, s:I, s:I, s:i, s:i, s:f, s:f}", "step", (json_int_t)p->step, "epoch", p->epoch,
                           "tokens_seen", (json_int_t)p->tokens_seen, "seed", (json_int_t)cfg->seed, "batch_size",
                           cfg->batch_size, "n_epochs", cfg->n_epochs, "learning_rate", (double)cfg->adam.lr,
                           "warmup_fraction", (double)cfg->warmup_fraction);
    snprintf(file, sizeof file, "%s/trainer_state.json", tmp);
    int rc = write_json(file, st, err);
    json_decref(st);
    if (rc) return -1;
    char old[4300];
    snprintf(old, sizeof old, "%s.old", path);
    if (rename(path, old) == 0) /* an earlier checkpoint of the same step (resumed run) */
        file_remove_tree(old, NULL); /* leaving it is harmless */
    if (fault_fire(FAULT_RENAME, "save_checkpoint") || rename(tmp, path) != 0)
        return err_set(err, ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    snprintf(out_path, cap, "%s", path);
    return 0;
}

static int load_checkpoint(const Model *m, Lora *lora, const char *dir, TrainProgress *p, Err *err) {
    Lora *saved;
    if (peft_load(m, dir, &saved, err)) return -1;
    int rc = 0;
    if (saved->n_params != lora->n_params || saved->cfg.rank != lora->cfg.rank || saved->cfg.targets != lora->cfg.targets)
        rc = err_set(err, ERR_ARG, "%s: the checkpoint's adapter (rank %d) does not match this run's (rank %d)", dir,
                     saved->cfg.rank, lora->cfg.rank);
    else memcpy(lora->params, saved->params, lora->n_params * sizeof(float));
    lora_free(saved);
    if (rc) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    SafeTensors *st;
    if (st_open(path, &st, err)) return -1;
    const StTensor *mt = st_find(st, "adam_m"), *vt = st_find(st, "adam_v");
    if (!mt || !vt || mt->n_elements != lora->n_params || vt->n_elements != lora->n_params)
        rc = err_set(err, ERR_FORMAT, "%s: adam_m / adam_v missing or of the wrong size", path);
    else rc = st_tensor_to_f32(mt, lora->adam_m, err) || st_tensor_to_f32(vt, lora->adam_v, err) ? -1 : 0;
    st_close(st);
    if (rc) return -1;
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!s) return err_set(err, ERR_FORMAT, "%s: line %d: %s", path, je.line, je.text);
    p->step = (long)json_integer_value(json_object_get(s, "step"));
    p->epoch = (int)json_integer_value(json_object_get(s, "epoch"));
    p->tokens_seen = (long)json_integer_value(json_object_get(s, "tokens_seen"));
    json_decref(s);
    memset(lora->grads, 0, lora->n_params * sizeof(float));
    return 0;
}

int trainer_run(const Model *m, Lora *lora, const TrainSet *train, const TrainSet *valid, const TrainConfig *cfg,
                const char *resume_dir, TrainCallback cb, void *user, TrainProgress *progress, Err *err) {
    memset(progress, 0, sizeof *progress);
    if (train->n <= 0) return err_set(err, ERR_ARG, "no training examples");
    DataParallel *dp = cfg->dp;
    int rank = dp_rank(dp), n_ranks = dp_size(dp);
    bool writer = rank == 0; /* the one rank that writes out_dir and reports */
    omp_set_num_threads(ops_threads(cfg->n_threads));
    if (cfg->batch_size < 1 || cfg->n_epochs < 1) return err_set(err, ERR_ARG, "batch size and epochs must be >= 1");
    bool dpo = cfg->dpo_beta > 0;
    if (dpo && (!train->rejected || (valid && valid->n > 0 && !valid->rejected)))
        return err_set(err, ERR_ARG, "DPO needs preference pairs");
    int max_len = 2;
    for (int k = 0; k < (dpo ? 2 : 1); k++) {
        const TrainExample *tr = k ? train->rejected : train->ex, *va = valid && valid->n ? (k ? valid->rejected : valid->ex) : NULL;
        for (int i = 0; i < train->n; i++) max_len = tr[i].len > max_len ? tr[i].len : max_len;
        for (int i = 0; va && i < valid->n; i++) max_len = va[i].len > max_len ? va[i].len : max_len;
    }
    if (writer && cfg->out_dir && mkdir(cfg->out_dir, 0755) != 0 && errno != EEXIST)
        return err_set(err, ERR_IO, "%s: cannot create: %s", cfg->out_dir, strerror(errno));
    if (resume_dir && load_checkpoint(m, lora, resume_dir, progress, err)) return -1;

    TrainState *ts;
    /* each rank runs at most ceil(batch_size / n_ranks) examples of a batch */
    if (train_state_new(m, lora, max_len, pack_rows(train, (cfg->batch_size + n_ranks - 1) / n_ranks), &ts, err))
        return -1;
    /* DPO: both replies of each pair */
    TrainSeq *seqs = fault_malloc(2 * (size_t)(cfg->batch_size > EVAL_PACK ? cfg->batch_size : EVAL_PACK) * sizeof(TrainSeq));
    long per_epoch = (train->n + cfg->batch_size - 1) / cfg->batch_size;
    long total = per_epoch * cfg->n_epochs;
    long warmup = (long)(cfg->warmup_fraction * total + 0.5);
    int *order = fault_malloc(train->n * sizeof(int)), *valid_idx = NULL;
    ResultRow *rows = fault_calloc(total + 1, sizeof(ResultRow));
    /* DPO: the reference's log-probabilities of both replies of every pair, computed once */
    double *ref_train = dpo ? fault_malloc(2 * (size_t)train->n * sizeof(double)) : NULL,
           *ref_valid = dpo && valid && valid->n ? fault_malloc(2 * (size_t)valid->n * sizeof(double)) : NULL;
    long n_rows = 0;
    int n_valid_interval = 0;
    if (!seqs || !order || !rows || (dpo && !ref_train) || (dpo && valid && valid->n && !ref_valid)) {
        free(seqs), free(order), free(rows), free(ref_train), free(ref_valid);
        train_state_free(ts);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (valid && valid->n > 0) {
        if (!(valid_idx = fault_malloc(valid->n * sizeof(int)))) {
            free(seqs), free(order), free(rows);
            train_state_free(ts);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < valid->n; i++) valid_idx[i] = i;
        Rng r;
        rng_seed(&r, cfg->seed ^ 0x5eedull);
        shuffle(valid_idx, valid->n, &r);
        n_valid_interval = cfg->eval_examples > 0 && cfg->eval_examples < valid->n ? cfg->eval_examples : valid->n;
    }
    if (resume_dir && cfg->out_dir) n_rows = read_results_csv(cfg->out_dir, progress->step, rows, total);
    int rc = 0;
    bool abandon = false; /* the callback said TRAIN_CB_ABANDON */
    if (dpo) rc = dpo_reference_logps(ts, lora, cfg->dpo_reference, train, seqs, EVAL_PACK, ref_train, err);
    if (!rc && ref_valid) rc = dpo_reference_logps(ts, lora, cfg->dpo_reference, valid, seqs, EVAL_PACK, ref_valid, err);
    double t0 = clock_now_s();
    long tokens_processed = 0;
    while (!rc && progress->step < total) {
        int epoch = (int)(progress->step / per_epoch);
        long in_epoch = progress->step % per_epoch;
        if ((rc = epoch_order(train, cfg->batch_size, cfg->seed, epoch, order, err))) break;
        /* one optimizer step: the batch's gradient is the mean over its trained tokens */
        int first = (int)(in_epoch * cfg->batch_size), last = first + cfg->batch_size;
        if (last > train->n) last = train->n;
        int batch_tokens = 0;
        for (int i = first; i < last; i++) batch_tokens += train->ex[order[i]].n_trained;
        uint64_t seed = (cfg->seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)progress->step << 24);
        StepStats st = {0};
        DpoStats ds = {0};
        /* this rank's share: every n_ranks-th example of the batch (lengths are similar within a
         * batch), its gradient scaled by the whole batch's trained tokens (DPO: pairs) so that the sum
         * over ranks is the batch's mean gradient; dropout seeds follow the example, not the rank */
        int share[cfg->batch_size], share_pos[cfg->batch_size], k = 0;
        for (int i = first; i < last; i++) {
            if ((i - first) % n_ranks == rank) share[k] = order[i], share_pos[k++] = i - first;
            tokens_processed += train->ex[order[i]].len + (dpo ? train->rejected[order[i]].len : 0);
        }
        if (dpo) {
            rc = dpo_batch_share(ts, train, share, share_pos, k, last - first, ref_train, cfg->dpo_beta, true,
                                 seed ^ (uint64_t)first, seqs, &ds, err);
        } else {
            for (int j = 0; j < k; j++) {
                const TrainExample *e = &train->ex[share[j]];
                seqs[j] = (TrainSeq){e->ids, e->mask, e->len, seed ^ (uint64_t)(first + share_pos[j])};
            }
            rc = train_batch(ts, seqs, k, batch_tokens ? 1.0f / batch_tokens : 0.0f, true, &st, err);
        }
        if (rc) break;
        dp_sum_floats(dp, lora->grads, lora->n_params); /* (n_params): one buffer, one allreduce */
        if (dpo) sum_dpo_stats(dp, &ds);
        else sum_stats(dp, &st);
        TrainMetrics mt = {0};
        mt.grad_norm = adamw_clip_grads(lora, cfg->adam.clip_norm);
        mt.lr = lr_schedule(cfg->adam.lr, progress->step, warmup, total);
        adamw_step(lora, &cfg->adam, mt.lr, progress->step + 1);
        if (dp_check_every_step(dp) && (rc = dp_check_same(dp, lora->params, lora->n_params, "the adapter", err))) break;
        progress->step++;
        progress->tokens_seen += dpo ? ds.trained_tokens : st.n_tokens;
        mt.step = progress->step;
        mt.total_steps = total;
        mt.epoch = epoch + 1;
        if (dpo) {
            mt.dpo = true;
            mt.train_loss = ds.loss_sum / ds.n_pairs;
            mt.train_accuracy = ds.chosen.n_tokens ? (double)ds.chosen.n_correct / ds.chosen.n_tokens : 0;
            mt.chosen_reward = ds.chosen_reward_sum / ds.n_pairs;
            mt.rejected_reward = ds.rejected_reward_sum / ds.n_pairs;
            mt.reward_accuracy = (double)ds.n_ordered / ds.n_pairs;
            mt.reward_margin = mt.chosen_reward - mt.rejected_reward;
        } else {
            mt.train_loss = st.n_tokens ? st.loss_sum / st.n_tokens : 0;
            mt.train_accuracy = st.n_tokens ? (double)st.n_correct / st.n_tokens : 0;
        }
        bool epoch_end = progress->step % per_epoch == 0;
        if (valid_idx && (epoch_end || (cfg->eval_every > 0 && progress->step % cfg->eval_every == 0))) {
            int n_eval = epoch_end ? valid->n : n_valid_interval;
            rc = dpo ? evaluate_dpo(ts, dp, seqs, valid, valid_idx, n_eval, ref_valid, cfg->dpo_beta, &mt.valid_loss,
                                    &mt.valid_accuracy, err)
                     : evaluate(ts, dp, seqs, valid, valid_idx, n_eval, &mt.valid_loss, &mt.valid_accuracy, err);
            mt.has_valid = true;
            mt.full_valid = epoch_end;
        }
        if (rc) break;
        mt.tokens_seen = progress->tokens_seen;
        mt.elapsed_s = clock_now_s() - t0;
        mt.tokens_per_s = mt.elapsed_s > 0 ? tokens_processed / mt.elapsed_s : 0;
        rows[n_rows++] = (ResultRow){mt.step, mt.train_loss, mt.train_accuracy, mt.valid_loss, mt.valid_accuracy,
                                     mt.has_valid};
        if (epoch_end) progress->epoch = epoch + 1;
        bool stop = (cfg->stop && __atomic_load_n(cfg->stop, __ATOMIC_RELAXED)) || (progress->step == total);
        char ckpt[4096] = "";
        if (writer && cfg->out_dir && (epoch_end || stop)) {
            if (save_checkpoint(lora, cfg, progress, ckpt, sizeof ckpt, err) ||
                write_results_csv(cfg->out_dir, rows, n_rows, err)) {
                rc = -1;
                break;
            }
        }
        int said = writer && cb ? cb(&mt, ckpt[0] ? ckpt : NULL, user) : 0;
        if (said) stop = true;
        if (said == TRAIN_CB_ABANDON) abandon = true;
        stop = dp_any(dp, stop); /* a stop (Ctrl-C, the callback) on any rank stops them all here */
        if (stop && progress->step < total) {
            if (writer && cfg->out_dir && !ckpt[0] && !abandon &&
                (save_checkpoint(lora, cfg, progress, ckpt, sizeof ckpt, err) ||
                 write_results_csv(cfg->out_dir, rows, n_rows, err)))
                rc = -1;
            break;
        }
    }
    if (!rc) rc = dp_check_same(dp, lora->params, lora->n_params, "the trained adapter", err);
    if (!rc && writer && cfg->out_dir && !abandon) rc = peft_save(lora, cfg->out_dir, cfg->base_model, err);
    free(order);
    free(seqs);
    free(valid_idx);
    free(rows);
    free(ref_train);
    free(ref_valid);
    train_state_free(ts);
    return rc;
}

void trainer_config_init(TrainConfig *cfg, const Hyperparams *hp, uint64_t seed) {
    memset(cfg, 0, sizeof *cfg);
    cfg->n_epochs = hp->n_epochs;
    cfg->batch_size = hp->batch_size;
    cfg->warmup_fraction = TRAIN_WARMUP_FRACTION;
    cfg->adam = (AdamWConfig){hp->learning_rate, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f};
    cfg->seed = seed;
    cfg->eval_examples = TRAIN_EVAL_EXAMPLES;
}
