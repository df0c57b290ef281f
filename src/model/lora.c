/* lora.c: LoRA parameter layout (shapes from the architecture's table, arch.h), initialisation,
 * target names and the forward application. */
#include "lora.h"

#include <math.h>
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

void lora_apply(float *y, const float *x, const LoraPair *p, float scale, float *u, int T) {
    if (!p || !p->A) return;
    int r = p->rank;
    op_gemm(false, true, T, r, p->in, 1.0f, x, p->A, 0.0f, u);
    op_gemm(false, true, T, p->out, r, scale, u, p->B, 1.0f, y);
}

