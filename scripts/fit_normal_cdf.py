#!/usr/bin/env python3
"""fit_normal_cdf.py: derives the two polynomials of src/tensor/fast_erf.h (the normal CDF behind exact
GELU, in fp32 arithmetic that vectorises): erf(z) / z = P(z^2) on [0, 1], P of degree 6, and
e^(z^2) erfc(z) = R(t), t = 1 / (1 + z / 2), on [1, 10], R of degree 8. Each is a least-squares fit of
the relative error, reweighted (Lawson's iteration) towards the minimax, against Python's math.erf
and math.erfc (double precision); it prints the coefficients as fast_erf.h spells them (float32,
lowest degree first) and each fit's largest relative error in double and when evaluated in float32
by Horner's rule, as the header does. Needs numpy. Usage: python3 scripts/fit_normal_cdf.py"""
import math

import numpy as np

F32 = np.float32


def fit(ys, basis, iters=40):
    """Coefficients c with basis @ c close to ys in relative error; and that largest error."""
    w = np.ones_like(ys)
    for _ in range(iters):
        c, *_ = np.linalg.lstsq(basis * (w / ys)[:, None], w, rcond=None)
        r = np.abs(basis @ c - ys) / ys
        w = w * np.sqrt(r / r.max())
        w /= w.max()
    return c, r.max()


def horner32(c, t):
    acc = np.zeros_like(t) + F32(c[-1])
    for k in range(len(c) - 2, -1, -1):
        acc = (acc * t + F32(c[k])).astype(F32)
    return acc


def report(name, c, err64, ys, var32):
    c32 = c.astype(F32)
    err32 = np.max(np.abs(horner32(c32, var32).astype(np.float64) - ys) / ys)
    print("%s: relative error %.3g (double), %.3g (float32 Horner)" % (name, err64, err32))
    print("    " + ", ".join("%.9ef" % v for v in c32))


def main():
    z = np.linspace(0, 1, 8001)
    ys = np.array([math.erf(v) / v if v > 0 else 2 / math.sqrt(math.pi) for v in z])
    c, err = fit(ys, np.vander(z * z, 7, increasing=True))
    z32 = z.astype(F32)
    report("P: erf(z) / z on [0, 1], in z^2", c, err, ys, (z32 * z32).astype(F32))
    z = np.linspace(1, 10, 20001)
    ys = np.array([math.exp(v * v) * math.erfc(v) for v in z])
    c, err = fit(ys, np.vander(1 / (1 + 0.5 * z), 9, increasing=True))
    t32 = (F32(1) / (F32(1) + F32(0.5) * z.astype(F32))).astype(F32)
    report("R: e^(z^2) erfc(z) on [1, 10], in t = 1 / (1 + z / 2)", c, err, ys, t32)


if __name__ == "__main__":
    main()
