/* quantize.c: fp32 to F32 / F16 / BF16 / Q8_0 / Q5_0 / Q4_0 / Q4_K (see quantize.h). The block types
 * follow GGML's reference quantizers step for step, in the same fp32 operations and order (the
 * build has no floating-point contraction under -std=c11), so the bytes equal theirs:
 *   Q8_0: d = max|x| / 127, q = round(x / d) (half away from zero);
 *   Q4_0: d = (the x of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5));
 *   Q5_0: the same with -16 and min(31, trunc(x / d + 16.5)), the fifth bits packed apart;
 *   Q4_K: per 32 values a scale and a min fitted by weighted least squares over 21 trial scales
 *         (weights |x| + rms of the sub-block), then both quantized to 6 bits against the
 *         super-block's fp16 d and dmin, and the 4-bit values recomputed with them. */
#include "quantize.h"

#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "ops_quant.h"
#include "ops_quant_impl.h"

static void put_fp16(unsigned char *p, float f) {
    uint16_t h = f32_to_fp16(f);
    p[0] = (unsigned char)(h & 0xff);
    p[1] = (unsigned char)(h >> 8);
}

/* GGML's nearest_int: round half to even through the fp32 mantissa (|f| < 2^22). */
static int nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static void quantize_q8_0(const float *x, size_t nblocks, unsigned char *out) {
    for (size_t b = 0; b < nblocks; b++, x += 32, out += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.f, id = d != 0 ? 1.0f / d : 0.0f;
        put_fp16(out, d);
        for (int j = 0; j < 32; j++) out[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
    }
}

/* The first of a block's 32 values with the largest magnitude, sign kept (Q4_0 / Q5_0's d). */
static float largest_magnitude(const float *x) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void quantize_q4_0(const float *x, size_t nblocks, unsigned char *out) {
    for (size_t b = 0; b < nblocks; b++, x += 32, out += 18) {
        float max = largest_magnitude(x);
        float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
        put_fp16(out, d);
        for (int j = 0; j < 16; j++) {
            int q0 = (int8_t)(x[j] * id + 8.5f), q1 = (int8_t)(x[16 + j] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            out[2 + j] = (unsigned char)(q0 | (q1 << 4));
        }
    }
}

/* Block: d (fp16), the fifth bits of the 32 values (u32, value j at bit j), then the low 4 bits
 * as Q4_0 packs them. */
static void quantize_q5_0(const float *x, size_t nblocks, unsigned char *out) {
    for (size_t b = 0; b < nblocks; b++, x += 32, out += 22) {
        float max = largest_magnitude(x);
        float d = max / -16, id = d != 0 ? 1.0f / d : 0.0f;
        put_fp16(out, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (int8_t)(x[j] * id + 16.5f), q1 = (int8_t)(x[16 + j] * id + 16.5f);
            q0 = q0 < 31 ? q0 : 31;
            q1 = q1 < 31 ? q1 : 31;
            out[6 + j] = (unsigned char)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)((q0 & 0x10) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10) >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++) out[2 + k] = (unsigned char)(qh >> (8 * k));
    }
}

/* GGML's make_qkx2_quants for n values and levels 0..nmax: returns the scale, *neg_min the
 * (non-negative) min to subtract, L the levels. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                           uint8_t *Laux) {
    const float rmin = -1.f, rdelta = 0.1f;
    const int nstep = 20;
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                cur_error += w[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* Block layout: d (fp16), dmin (fp16), 12 bytes of packed 6-bit scales and mins, 128 bytes of
 * 4-bit values (each 64 values: the low nibbles the first 32, the high nibbles the next 32). */
static void quantize_q4_k(const float *x, size_t nblocks, unsigned char *out) {
    for (size_t b = 0; b < nblocks; b++, x += 256, out += 144) {
        uint8_t L[256], Laux[32];
        float weights[32], mins[8], scales[8], max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = fit_scale_min(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        unsigned char *s = out + 4;
        memset(s, 0, 12);
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (j < 4) {
                s[j] = ls;
                s[j + 4] = lm;
            } else {
                s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
                s[j - 4] |= (uint8_t)((ls >> 4) << 6);
                s[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        put_fp16(out, max_scale / 63.f);
        put_fp16(out + 2, max_min / 63.f);
        uint8_t sc[8], m[8];
        quant_scale_min_k4(s, sc, m);
        for (int j = 0; j < 8; j++) {
            const float d = quant_rdh(out) * sc[j];
            if (!d) continue;
            const float dm = quant_rdh(out + 2) * m[j];
            for (int ii = 0; ii < 32; ii++) {
                int l = nearest_int((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
            }
        }
        unsigned char *q = out + 16;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (unsigned char)(L[j + l] | (L[j + l + 32] << 4));
    }
}

bool quant_can_quantize(uint32_t type) {
    switch (type) {
    case QUANT_F32: case QUANT_F16: case QUANT_BF16: case QUANT_Q8_0: case QUANT_Q5_0: case QUANT_Q4_0:
    case QUANT_Q4_K:
        return true;
    default: return false;
    }
}

void quant_quantize(uint32_t type, const float *x, size_t n, unsigned char *out) {
    switch (type) {
    case QUANT_F32: memcpy(out, x, n * sizeof(float)); break;
    case QUANT_F16:
        for (size_t i = 0; i < n; i++) put_fp16(out + 2 * i, x[i]);
        break;
    case QUANT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = f32_to_bf16(x[i]);
            out[2 * i] = (unsigned char)(h & 0xff);
            out[2 * i + 1] = (unsigned char)(h >> 8);
        }
        break;
    case QUANT_Q8_0: quantize_q8_0(x, n / 32, out); break;
    case QUANT_Q5_0: quantize_q5_0(x, n / 32, out); break;
    case QUANT_Q4_0: quantize_q4_0(x, n / 32, out); break;
    case QUANT_Q4_K: quantize_q4_k(x, n / 256, out); break;
    default: break;
    }
}
