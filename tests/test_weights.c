/* test_weights.c: see test_weights.h. */
#include "test_weights.h"

#include <math.h>
#include <string.h>

#include "tensor/ops_quant.h"

void test_random_weights(Rng *r, uint32_t type, unsigned char *data, size_t bytes) {
    for (size_t i = 0; i < bytes; i++) data[i] = (unsigned char)rng_next(r);
    if (type == QUANT_F32) {
        for (size_t i = 0; i < bytes / 4; i++) {
            float v = rng_uniform(r) * 2 - 1;
            memcpy(data + 4 * i, &v, 4);
        }
        return;
    }
    /* fp16 / bf16 elements, and the fp16 d / m / dmin fields of the block types */
    if (type == QUANT_BF16) {
        for (size_t i = 0; i < bytes; i += 2) data[i + 1] = (unsigned char)((data[i + 1] & 0x83) | 0x3c);
        return;
    }
    int fields[2] = {0, -1};
    if (type == QUANT_Q4_1 || type == QUANT_Q5_1 || type == QUANT_Q4_K || type == QUANT_Q5_K) fields[1] = 2;
    if (type == QUANT_Q6_K) fields[0] = 208;
    size_t step = type == QUANT_F16 ? 2 : quant_block_bytes(type);
    for (size_t off = 0; off < bytes; off += step)
        for (int f = 0; f < 2; f++)
            if (fields[f] >= 0) {
                unsigned char *h = data + off + fields[f] + 1; /* sign, exponent 9..16, mantissa */
                *h = (unsigned char)((*h & 0x83) | (9 + (*h >> 2) % 8) << 2);
            }
}

double test_matmul_worst_ratio(const float *got, const float *ref, const float *x, const float *Wd, int n, int N, int K,
                               bool backward, double a, double b, double per_term) {
    const double u = 1.0 / (1 << 24);
    int out = backward ? K : N, inner = backward ? N : K;
    double worst = 0;
    for (int t = 0; t < n; t++)
        for (int j = 0; j < out; j++) {
            double mag = 0;
            for (int k = 0; k < inner; k++)
                mag += fabs(x[(size_t)t * inner + k]) * fabs(backward ? Wd[(size_t)k * K + j] : Wd[(size_t)j * K + k]);
            size_t i = (size_t)t * out + j;
            double bound = ((a * inner + b) * u + per_term) * mag + u * fabs(ref[i]) + 1e-30;
            worst = fmax(worst, fabs(got[i] - ref[i]) / bound);
        }
    return worst;
}
