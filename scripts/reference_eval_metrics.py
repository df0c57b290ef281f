"""reference_eval_metrics.py: an independent reference for the statistics in src/eval/metrics.h.

It prints every expected value that tests/unit/test_eval_metrics.c hard-codes, so that a reader
can re-derive them:
  - Wilson score intervals with statsmodels' proportion_confint(method="wilson");
  - exact McNemar p-values as exact rational arithmetic over binomial coefficients (Python
    integers), cross-checked against scipy.stats.binomtest and statsmodels' mcnemar(exact=True);
  - Newcombe's method 10 interval for a paired difference, written out from Newcombe (1998),
    Stat Med 17:2635-50, on top of statsmodels' Wilson intervals, and checked against the
    published Cavo et al. (2012) example in Fagerland, Lydersen & Laake (2014; contingencytables
    R package): B - A = 0.0621 (95% CI 0.0046 to 0.1186);
  - per-label precision / recall / F1 and the confusion matrix with scikit-learn
    (zero_division=0, labels= the expected answers, so that other predictions are misses only);
  - percentiles and means with numpy (percentile's default "linear" method).
scipy, statsmodels and scikit-learn are reference tools only (pip install scipy statsmodels
scikit-learn); ftune itself needs none of them. Deterministic; no arguments.
"""
import math
from fractions import Fraction

import numpy as np

try:
    from scipy.stats import binomtest
except ImportError:  # the exact rational value is the reference; scipy is a cross-check
    binomtest = None
try:
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint
except ImportError:
    mcnemar = proportion_confint = None
try:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
except ImportError:
    confusion_matrix = precision_recall_fscore_support = None

Z = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


def wilson(k, n, z=Z):
    """Wilson score interval, by its textbook formula (used when statsmodels is missing)."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_ref(k, n):
    if proportion_confint is not None:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        return float(lo), float(hi)
    return wilson(k, n)


def section(title):
    print()
    print("== " + title)


# ---------------------------------------------------------------------------------------------
section("normalisation (none / trim / trim+casefold; ASCII whitespace and ASCII case only)")
ASCII_WS = " \t\n\v\f\r"


def casefold_ascii(s):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


for s in ["  Paris\n", "\t\r\n Yes \v\f", "NEGATIVE", "   ", "", "\u00a0Ärger ÉTÉ Straße\t",
          "a\tb  C"]:
    print(f"{s!r:32} none={s!r} trim={s.strip(ASCII_WS)!r} "
          f"fold={casefold_ascii(s.strip(ASCII_WS))!r}")

# ---------------------------------------------------------------------------------------------
section("accuracy with 95% Wilson score interval (statsmodels proportion_confint, method=wilson)")
for k, n in [(7, 10), (0, 10), (10, 10), (1, 1), (50, 100), (0, 1), (873, 1000)]:
    lo, hi = wilson_ref(k, n)
    lo2, hi2 = wilson(k, n)
    assert abs(lo - lo2) < 1e-12 and abs(hi - hi2) < 1e-12
    print(f"k={k:4} n={n:5} acc={k / n!r:22} lo={lo!r:24} hi={hi!r}")

# ---------------------------------------------------------------------------------------------
section("exact McNemar p = min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2)")


def mcnemar_exact(b, c):
    n, m = b + c, min(b, c)
    if n == 0:
        return Fraction(1)
    term, total = 1, 0  # term = C(n, k), exact
    for k in range(m + 1):
        total += term
        term = term * (n - k) // (k + 1)
    return min(Fraction(1), Fraction(2 * total, 2**n))


for b, c in [(1, 9), (0, 0), (10, 10), (4000, 4200), (0, 20), (3, 0), (5, 6), (49500, 50500)]:
    exact = mcnemar_exact(b, c)
    line = f"b={b:5} c={c:5} exact={float(exact)!r}"
    if binomtest is not None and b + c > 0:
        sp = float(binomtest(min(b, c), b + c, 0.5).pvalue)
        line += f" scipy={sp!r} rel={abs(sp - float(exact)) / float(exact):.1e}"
    if mcnemar is not None and b + c > 0:
        sm = float(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
        line += f" statsmodels={sm!r}"
    print(line)

# ---------------------------------------------------------------------------------------------
section("paired difference acc_B - acc_A, Newcombe (1998) method 10 hybrid score interval")
# a = both right, b = A right / B wrong, c = A wrong / B right, d = both wrong.


def newcombe_paired(a, b, c, d):
    n = a + b + c + d
    pa, pb = (a + b) / n, (a + c) / n
    la, ua = wilson_ref(a + b, n)
    lb, ub = wilson_ref(a + c, n)
    # psi: the phi coefficient of the 2x2 table, with Newcombe's correction of ad - bc.
    if min(a + b, c + d, a + c, b + d) == 0:
        psi = 0.0
    else:
        num = a * d - b * c
        if num > n / 2:
            num = num - n / 2
        elif num >= 0:
            num = 0
        psi = num / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    theta = pb - pa
    lo = theta - math.sqrt((pb - lb) ** 2 - 2 * psi * (pb - lb) * (ua - pa) + (ua - pa) ** 2)
    hi = theta + math.sqrt((ub - pb) ** 2 - 2 * psi * (ub - pb) * (pa - la) + (pa - la) ** 2)
    return theta, max(-1.0, lo), min(1.0, hi), psi


cases = [(59, 6, 16, 80), (5, 1, 3, 1), (40, 1, 9, 50), (8, 2, 0, 0), (3, 2, 2, 3), (20, 30, 10, 40),
         (1, 4, 5, 0), (0, 0, 0, 7)]
for a, b, c, d in cases:
    theta, lo, hi, psi = newcombe_paired(a, b, c, d)
    print(f"a={a:3} b={b:3} c={c:3} d={d:3} diff={theta!r:22} lo={lo!r:24} hi={hi!r:24} psi={psi!r}")
theta, lo, hi, _ = newcombe_paired(59, 6, 16, 80)
assert (round(theta, 4), round(lo, 4), round(hi, 4)) == (0.0621, 0.0046, 0.1186), "published example"
print("Cavo et al. (2012) matches the published 0.0621 (0.0046 to 0.1186)")

# ---------------------------------------------------------------------------------------------
section("labels: per-label P/R/F1 (scikit-learn, zero_division=0), confusion matrix, macro")
OTHER = "\x00other"


def label_report(expected, predicted):
    from collections import Counter
    cnt = Counter(expected)
    labels = sorted(cnt, key=lambda s: (-cnt[s], s))
    mapped = [p if p in cnt else OTHER for p in predicted]
    if confusion_matrix is not None:
        cm = confusion_matrix(expected, mapped, labels=labels + [OTHER])[: len(labels)]
        p, r, f, s = precision_recall_fscore_support(expected, predicted, labels=labels, zero_division=0)
        mp, mr, mf, _ = precision_recall_fscore_support(expected, predicted, labels=labels, average="macro",
                                                        zero_division=0)
    else:  # by hand
        cm = np.zeros((len(labels), len(labels) + 1), dtype=int)
        for e, m in zip(expected, mapped):
            cm[labels.index(e), (labels + [OTHER]).index(m)] += 1
        tp = np.diag(cm[:, : len(labels)]).astype(float)
        col = cm[:, : len(labels)].sum(axis=0)
        s = cm.sum(axis=1)
        p = np.where(col > 0, tp / np.maximum(col, 1), 0.0)
        r = tp / s
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
        mp, mr, mf = p.mean(), r.mean(), f.mean()
    acc = sum(e == q for e, q in zip(expected, predicted)) / len(expected)
    print("labels (descending support, then string):", labels)
    print("confusion rows=expected, cols=predicted (+other):")
    for lab, row in zip(labels, cm):
        print(f"  {lab:10} {list(map(int, row))}")
    for i, lab in enumerate(labels):
        print(f"  {lab:10} P={float(p[i])!r:22} R={float(r[i])!r:22} F1={float(f[i])!r:22} support={int(s[i])}")
    print(f"  macro P={float(mp)!r} R={float(mr)!r} F1={float(mf)!r} accuracy={acc!r}")


label_report(["pos", "pos", "pos", "pos", "neg", "neg", "neg", "neutral", "neutral", "neutral"],
             ["pos", "pos", "neg", "maybe", "neg", "neg", "pos", "neutral", "neg", "unsure"])
label_report(["b", "a", "b", "a"], ["a", "a", "a", "zzz"])

# ---------------------------------------------------------------------------------------------
section("latency: numpy.percentile (method='linear'), mean")
for xs in [[5.0], [1.0, 2.0, 3.0, 4.0], [3.0, 1.0, 2.0, 2.0, 2.0, 10.0], [7.0, 7.0, 7.0],
           [0.12, 0.5, 0.33, 1.7, 0.21, 0.98, 0.44],
           [float(i * i % 37) / 10 for i in range(1, 42)]]:
    a = np.array(xs)
    p50, p95 = np.percentile(a, [50, 95])
    print(f"{xs if len(xs) < 10 else f'[(i*i % 37)/10 for i in 1..41]'}: "
          f"p50={float(p50)!r} p95={float(p95)!r} mean={float(a.mean())!r} "
          f"min={float(a.min())!r} max={float(a.max())!r}")
