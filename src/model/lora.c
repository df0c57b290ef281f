/* lora.c: LoRA parameter layout (shapes from the architecture's table, arch.h), initialisation,
 * target names and the forward application. */
#include "lora.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fault.h"
#include "../core/rng.h"
#include "../tensor/matmul.h"
#include "arch.h"
#include "model.h"

/* Module names do not depend on the architecture (every table names its projections the Llama
 * way; test_arch.c checks it), so the Llama table answers for all. */
const char *lora_target_module(LoraTarget t) {
    const ArchWeight *w = arch_find_lora_weight(arch_describe(ARCH_LLAMA), t);
    return w ? w->lora_module : "?";
}

const char *lora_target_name(LoraTarget t) {
    const char *module = lora_target_module(t), *dot = strrchr(module, '.');
    return dot ? dot + 1 : module;
}

int lora_parse_targets(const char *list, unsigned *targets, Err *err) {
    *targets = 0;
    if (strcmp(list, "all") == 0) {
        *targets = LORA_ALL_TARGETS;
        return 0;
    }
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int t = 0; t < LORA_N_TARGETS && found < 0; t++) {
            const char *name = lora_target_name(t);
            size_t short_len = strlen(name) - 5; /* "q" of "q_proj" */
            if ((n == strlen(name) && strncmp(p, name, n) == 0) || (n == short_len && strncmp(p, name, n) == 0))
                found = t;
        }
        if (found < 0)
            return err_set(err, ERR_ARG, "unknown LoRA target '%.*s' (q, k, v, o, gate, up, down or all)", (int)n, p);
        *targets |= 1u << found;
        p += n;
        if (*p == ',') p++;
    }
    if (!*targets) return err_set(err, ERR_ARG, "no LoRA target given");
    return 0;
}

void lora_free(Lora *l) {
    if (!l) return;
    free(l->pairs);
    free(l->params);
    free(l->grads);
    free(l->adam_m);
    free(l->adam_v);
    free(l->b_rows);
    free(l);
}

int lora_new(const Model *m, const LoraConfig *cfg, Lora **out, Err *err) {
    *out = NULL;
    if (cfg->rank < 1 || cfg->rank > LORA_MAX_RANK)
        return err_set(err, ERR_ARG, "LoRA rank must be between 1 and %d, got %d", LORA_MAX_RANK, cfg->rank);
    if (!(cfg->alpha > 0)) return err_set(err, ERR_ARG, "LoRA alpha must be positive, got %g", cfg->alpha);
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return err_set(err, ERR_ARG, "LoRA dropout must be in [0, 1), got %g", cfg->dropout);
    if (!(cfg->targets & LORA_ALL_TARGETS)) return err_set(err, ERR_ARG, "no LoRA target modules");
    const ModelConfig *c = &m->cfg;
    const ArchDesc *a = arch_describe(c->arch);
    int dims[LORA_N_TARGETS][2] = {{0}}; /* (in, out) of each target's matrix */
    for (int t = 0; t < LORA_N_TARGETS; t++) {
        const ArchWeight *w = arch_find_lora_weight(a, t);
        if (!w && (cfg->targets & (1u << t)))
            return err_set(err, ERR_ARG, "%s models have no %s to adapt", a->name, lora_target_name(t));
        if (w) {
            dims[t][0] = (int)arch_dim_size(w->cols, c);
            dims[t][1] = (int)arch_dim_size(w->rows, c);
        }
    }
    Lora *l = fault_calloc(1, sizeof *l);
    if (!l) return err_set(err, ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    l->scale = cfg->alpha / (float)cfg->rank;
    l->n_layer = c->n_layer;
    l->pairs = fault_calloc((size_t)c->n_layer * LORA_N_TARGETS, sizeof(LoraPair));
    size_t total = 0;
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (cfg->targets & (1u << t)) total += (size_t)cfg->rank * (dims[t][0] + dims[t][1]);
    total *= c->n_layer;
    l->n_params = total;
    l->params = fault_calloc(total, sizeof(float));
    l->grads = fault_calloc(total, sizeof(float));
    l->adam_m = fault_calloc(total, sizeof(float));
    l->adam_v = fault_calloc(total, sizeof(float));
    if (!l->pairs || !l->params || !l->grads || !l->adam_m || !l->adam_v) {
        lora_free(l);
        return err_set(err, ERR_NOMEM, "cannot allocate LoRA adapters (%zu parameters)", total);
    }
    float *p = l->params;
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!(cfg->targets & (1u << t))) continue;
            LoraPair *pr = &l->pairs[layer * LORA_N_TARGETS + t];
            pr->in = dims[t][0];
            pr->out = dims[t][1];
            pr->rank = cfg->rank;
            pr->A = p;
            p += (size_t)cfg->rank * pr->in;
            pr->B = p;
            p += (size_t)pr->out * cfg->rank;
        }
    *out = l;
    return 0;
}

void lora_init(Lora *l, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    memset(l->params, 0, l->n_params * sizeof(float));
    memset(l->grads, 0, l->n_params * sizeof(float));
    memset(l->adam_m, 0, l->n_params * sizeof(float));
    memset(l->adam_v, 0, l->n_params * sizeof(float));
    for (int i = 0; i < l->n_layer * LORA_N_TARGETS; i++) {
        LoraPair *p = &l->pairs[i];
        if (!p->A) continue;
        float bound = 1.0f / sqrtf((float)p->in);
        for (size_t j = 0; j < (size_t)l->cfg.rank * p->in; j++) p->A[j] = (rng_uniform(&rng) * 2 - 1) * bound;
    }
}

void lora_apply_b(float *y, const float *u, int ldu, const LoraPair *p, float scale, int T) {
    op_gemm_ld(false, true, T, p->out, p->rank, scale, u, ldu, p->B, p->rank, 1.0f, y, p->out);
}

void lora_apply(float *y, const float *x, const LoraPair *p, float scale, float *u, int ldu, int T) {
    if (!p || !p->A) return;
    op_gemm_ld(false, true, T, p->rank, p->in, 1.0f, x, p->in, p->A, p->in, 0.0f, u, ldu);
    lora_apply_b(y, u, ldu, p, scale, T);
}

/* The projections that share an input, in target order. */
static const LoraTarget groups[][LORA_GROUP_MAX + 1] = {
    {LORA_Q, LORA_K, LORA_V, LORA_N_TARGETS},
    {LORA_O, LORA_N_TARGETS},
    {LORA_GATE, LORA_UP, LORA_N_TARGETS},
    {LORA_DOWN, LORA_N_TARGETS},
};

int lora_group(const LoraConfig *cfg, LoraTarget t, LoraTarget members[LORA_GROUP_MAX]) {
    for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
        const LoraTarget *grp = groups[gi];
        bool in = false;
        for (int i = 0; grp[i] != LORA_N_TARGETS; i++) in |= grp[i] == t;
        if (!in) continue;
        int g = 0;
        for (int i = 0; grp[i] != LORA_N_TARGETS; i++)
            if (cfg->targets & (1u << grp[i])) members[g++] = grp[i];
        return g;
    }
    return 0;
}

void lora_copy_columns(float *dst, int ldd, const float *src, int lds, int T, int r) {
    for (int t = 0; t < T; t++) memcpy(dst + (size_t)t * ldd, src + (size_t)t * lds, (size_t)r * sizeof(float));
}

void lora_stack_a(float *A, const LoraPair *const *p, int g) {
    for (int i = 0; i < g; i++) {
        size_t cnt = (size_t)p[i]->rank * p[i]->in;
        memcpy(A + i * cnt, p[i]->A, cnt * sizeof(float));
    }
}

void lora_apply_a(float *u, const float *x, const LoraPair *const *p, int g, float *a_buf, int T) {
    int K = p[0]->in, ld = g * p[0]->rank;
    const float *A = p[0]->A;
    if (g > 1) lora_stack_a(a_buf, p, g), A = a_buf;
    op_gemm_ld(false, true, T, ld, K, 1.0f, x, K, A, K, 0.0f, u, ld);
}

int lora_merge_rows(float *w, const LoraPair *p, float scale, int r0, int nr, Err *err) {
    int r = p->rank, K = p->in;
    double *acc = fault_malloc((size_t)omp_get_max_threads() * K * sizeof(double));
    if (!acc) return err_set(err, ERR_NOMEM, "out of memory merging an adapter");
#pragma omp parallel for schedule(static)
    for (int i = 0; i < nr; i++) {
        double *sum = acc + (size_t)omp_get_thread_num() * K; /* (B A)'s row r0 + i */
        const float *b = p->B + (size_t)(r0 + i) * r;
        for (int j = 0; j < K; j++) sum[j] = 0.0;
        for (int k = 0; k < r; k++) /* across j: each value's own sum still runs in rank order */
            for (int j = 0; j < K; j++) sum[j] += (double)b[k] * p->A[(size_t)k * K + j];
        float *row = w + (size_t)i * K;
        for (int j = 0; j < K; j++) row[j] = (float)((double)row[j] + (double)scale * sum[j]);
    }
    free(acc);
    return 0;
}
