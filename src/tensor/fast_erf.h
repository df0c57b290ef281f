/* fast_erf.h: the standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, the factor of exact GELU
 * (x Phi(x)), in fp32 from arithmetic only, so that loops over it vectorise (`omp simd`) where a call
 * to libm's erff does not (libm's erff was a third of a short-text embedding at bf16). With
 * z = |x| / sqrt 2: for z < 1, erf(z) = z P(z^2), P of degree 6; beyond, erfc(z) = e^(-z^2) R(t),
 * t = 1 / (1 + z / 2), R of degree 8 (fast_expf for the exponential: 0 past z = 9.3, where Phi is
 * 0 or 1 in fp32). Both are this project's own weighted least-squares fits against Python's
 * math.erf / math.erfc (scripts/fit_normal_cdf.py): relative errors below 1.5e-7 (erf) and 3e-7
 * (erfc) when evaluated in fp32. Phi comes out within 1.2e-7 of the exact value everywhere
 * (about 2 ulp of values near 1; test_ops.c checks it over [-16, 16]), and below x = -sqrt 2, where
 * Phi is erfc's small tail, within 8e-7 + 1.5e-7 x^2 of it relatively (4e-6 at x = -6; the route
 * through 1 + erff(z) loses every digit there once Phi falls below 6e-8). */
#ifndef FTUNE_FAST_ERF_H
#define FTUNE_FAST_ERF_H

#include "fast_exp.h"

static inline float fast_normal_cdf(float x) {
    float z = (x < 0 ? -x : x) * 0.70710678118654752f, z2 = z * z;
    float p = 7.854167052e-05f; /* erf(z) / z on [0, 1] */
    p = p * z2 - 8.010282181e-04f;
    p = p * z2 + 5.188337527e-03f;
    p = p * z2 - 2.685381658e-02f;
    p = p * z2 + 1.128358543e-01f;
    p = p * z2 - 3.761262596e-01f;
    p = p * z2 + 1.128379107e+00f;
    float t = 1.0f / (1.0f + 0.5f * z), r = 8.089572191e-02f; /* e^(z^2) erfc(z) on [1, 10] */
    r = r * t - 1.850536615e-01f;
    r = r * t + 2.507569268e-02f;
    r = r * t + 1.053329781e-01f;
    r = r * t + 1.580447853e-01f;
    r = r * t + 2.529667318e-01f;
    r = r * t + 2.809908092e-01f;
    r = r * t + 2.821994126e-01f;
    r = r * t - 4.103724223e-06f;
    float half_erfc = z < 1.0f ? 0.5f - 0.5f * (z * p) : 0.5f * (fast_expf(-z2) * r); /* Phi(-|x|) */
    return x < 0 ? half_erfc : 1.0f - half_erfc;
}

#endif
