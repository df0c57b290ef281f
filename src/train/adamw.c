/* adamw.c: gradient clipping, AdamW, learning-rate schedule (see adamw.h). */
#include "adamw.h"

#include <math.h>
#include <string.h>

#define CLIP_CHUNKS 64 /* partial sums of the gradient norm, added in order */

double adamw_clip_grads(Lora *l, float clip_norm) {
    /* a fixed split into chunks summed in a fixed order: the same norm whatever the thread count
     * and timing (an OpenMP reduction combines in finishing order), so that MPI ranks holding the
     * same gradients clip them the same, bit for bit */
    double part[CLIP_CHUNKS] = {0}, ss = 0;
    size_t per = (l->n_params + CLIP_CHUNKS - 1) / CLIP_CHUNKS;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < CLIP_CHUNKS; c++) {
        size_t end = (c + 1) * per < l->n_params ? (c + 1) * per : l->n_params;
        double sum = 0;
        for (size_t i = c * per; i < end; i++) sum += (double)l->grads[i] * l->grads[i];
        part[c] = sum;
    }
    for (int c = 0; c < CLIP_CHUNKS; c++) ss += part[c];
    double norm = sqrt(ss);
    if (clip_norm > 0) {
        double coef = clip_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < l->n_params; i++) l->grads[i] *= c;
        }
    }
    return norm;
}

void adamw_step(Lora *l, const AdamWConfig *cfg, float lr, long step) {
    float b1 = cfg->beta1, b2 = cfg->beta2;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2), decay = 1.0f - lr * cfg->weight_decay;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < l->n_params; i++) {
        float g = l->grads[i];
        float m = l->adam_m[i] = b1 * l->adam_m[i] + (1.0f - b1) * g;
        float v = l->adam_v[i] = b2 * l->adam_v[i] + (1.0f - b2) * g * g;
        float p = l->params[i] * decay;
        l->params[i] = p - step_size * m / (sqrtf(v) / bc2_sqrt + cfg->eps);
    }
    memset(l->grads, 0, l->n_params * sizeof(float));
}

float lr_schedule(float peak, long step, long warmup, long total) {
    if (step < warmup) return peak * (float)(step + 1) / (float)warmup;
    if (total <= warmup) return peak;
    double left = (double)(total - step) / (double)(total - warmup);
    return left > 0 ? (float)(peak * left) : 0.0f;
}
