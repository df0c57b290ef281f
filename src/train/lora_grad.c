/* lora_grad.c: the LoRA factors' gradients (see lora_grad.h). */
#include "lora_grad.h"

#include "../tensor/matmul.h"

void lora_grad_b(Lora *l, const LoraPair *p, float scale, const float *dy, const float *u, int ld, float *du,
                 int lddu, float *dbt, int n) {
    int r = p->rank, N = p->out;
    float *dB = lora_grad(l, p->B); // (N, r)
    op_gemm_ld(false, false, n, r, N, scale, dy, N, p->B, r, 0.0f, du, lddu);
    op_gemm_ld(true, false, r, N, n, scale, u, ld, dy, N, 0.0f, dbt, N);
    for (int k = 0; k < N; k++)
        for (int j = 0; j < r; j++) dB[(size_t)k * r + j] += dbt[(size_t)j * N + k];
}

void lora_grad_a_group(Lora *l, const LoraPair *const *p, int g, const float *du, const float *x, float *dx,
                       float *a_buf, float *da_buf, int n) {
    int r = p[0]->rank, K = p[0]->in, ld = g * r;
    size_t per = (size_t)r * K;
    op_gemm(true, false, ld, K, n, 1.0f, du, x, 0.0f, da_buf);
    for (int i = 0; i < g; i++) {
        float *dA = lora_grad(l, p[i]->A);
        const float *src = da_buf + i * per;
        for (size_t j = 0; j < per; j++) dA[j] += src[j];
    }
    lora_stack_a(a_buf, p, g);
    op_gemm(false, false, n, K, ld, 1.0f, du, a_buf, 1.0f, dx);
}
