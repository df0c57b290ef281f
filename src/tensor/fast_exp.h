/* fast_exp.h: exp(x) in fp32 from arithmetic only, so that loops over it vectorise (`omp simd`)
 * where a call to libm's expf does not (4-5x faster in a softmax loop here): Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2 (n rounded with the 1.5 x 2^23 trick), a degree-6 polynomial for e^r
 * (Cephes' expf coefficients) and 2^n put into the exponent bits. Relative error within 4 ulp of
 * the exact value over the whole range (test_ops.c checks it); 0 below -87.3 (where expf only has
 * subnormals left); finite above: x is clamped at 88 (e^88 = 1.65e38). Used by softmax, SiLU and
 * the cross-entropy. */
#ifndef FTUNE_FAST_EXP_H
#define FTUNE_FAST_EXP_H

#include <stdint.h>

static inline float fast_expf(float x) {
    const float lo = -87.3f, hi = 88.0f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
    return x < lo ? 0.0f : y * scale.f;
}

#endif
