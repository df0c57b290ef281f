/* adamw.h: the optimizer and learning-rate schedule of LoRA training: gradient clipping by global
 * norm, AdamW with decoupled weight decay exactly as torch.optim.AdamW computes it, and a linear
 * warm-up followed by linear decay to zero. Operates on the Lora's parameter, gradient and moment
 * buffers; allocates nothing. */
#ifndef FTUNE_ADAMW_H
#define FTUNE_ADAMW_H

#include "../model/lora.h"

typedef struct {
    float lr;           /* peak learning rate */
    float beta1, beta2;
    float eps;
    float weight_decay;
    float clip_norm;    /* <= 0: no clipping */
} AdamWConfig;

/* torch.nn.utils.clip_grad_norm_: returns the global L2 norm of the gradients before clipping and
 * scales them down to clip_norm when larger. */
double adamw_clip_grads(Lora *l, float clip_norm);

/* One AdamW update (step counts from 1) with learning rate lr, then zeroes the gradients. */
void adamw_step(Lora *l, const AdamWConfig *cfg, float lr, long step);

/* Linear warm-up over `warmup` steps to peak, then linear decay to zero at `total` steps.
 * step counts from 0. */
float lr_schedule(float peak, long step, long warmup, long total);

#endif
