/* half.h: IEEE fp16 and bfloat16 to fp32 conversion (exact), and fp32 to fp16 and to bfloat16
 * (rounded to nearest even, as numpy's astype and GGML round), inline for the kernels. Uses the F16C instruction when the compiler targets it. */
#ifndef FTUNE_HALF_H
#define FTUNE_HALF_H

#include <stdint.h>
#include <string.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

static inline float fp16_to_f32(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

/* fp32 to fp16, rounded to nearest even; beyond the fp16 range inf; NaN stays a quiet NaN. */
static inline uint16_t f32_to_fp16(float f) {
#if defined(__F16C__)
    return _cvtss_sh(f, 0);
#else
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x47800000u) return (uint16_t)(sign | 0x7c00); /* 65536 and above (and inf) */
    if (ax < 0x38800000u) { /* an fp16 subnormal or zero: adding 0.5 rounds it at 2^-24 */
        float a;
        memcpy(&a, &ax, 4);
        a += 0.5f;
        uint32_t r;
        memcpy(&r, &a, 4);
        return (uint16_t)(sign | (r - 0x3f000000u));
    }
    ax += 0xc8000fffu + ((ax >> 13) & 1); /* rebias the exponent, round half to even */
    return (uint16_t)(sign | (ax >> 13));
#endif
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* fp32 to bfloat16, rounded to nearest even (as oneDNN and PyTorch round); NaN stays a quiet NaN. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

#endif
