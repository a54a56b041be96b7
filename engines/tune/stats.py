"""Statistical tests for canary comparison, in plain numpy/math: Welch's t-test and the two-proportion z-test."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class TestResult:
    statistic: float
    df: float  # degrees of freedom (inf for a z-test)
    p_two_sided: float
    p_less: float  # P-value of the one-sided alternative "first sample's mean < second's"


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t CDF with df degrees of freedom."""
    if math.isinf(df):
        return normal_cdf(t)
    x = df / (df + t * t)
    tail = 0.5 * betainc(df / 2.0, 0.5, x)
    return 1.0 - tail if t > 0 else tail


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def welch(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> TestResult:
    """Welch's unequal-variance t-test of mean(a) vs mean(b); needs 2+ samples each.

    t = (mean_a - mean_b) / sqrt(va/na + vb/nb) with sample variances; Welch-Satterthwaite df.
    Two samples with zero variance give t = ±inf (or 0 if the means are equal).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        raise ValueError("welch: each sample needs at least 2 values")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    se2 = va + vb
    if se2 == 0.0:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p_less = 0.5 if diff == 0 else (1.0 if diff > 0 else 0.0)
        return TestResult(t, math.inf, 1.0 if diff == 0 else 0.0, p_less)
    t = diff / math.sqrt(se2)
    df = (
        se2**2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
        if va > 0 and vb > 0
        else float((x.size if va > 0 else y.size) - 1)
    )
    cdf = t_cdf(t, df)
    return TestResult(float(t), float(df), float(2.0 * min(cdf, 1.0 - cdf)), float(cdf))


def two_proportions(k1: int, n1: int, k2: int, n2: int) -> TestResult:
    """Pooled two-proportion z-test of k1/n1 vs k2/n2; `p_less` is for the alternative p1 < p2."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("two_proportions: both samples need calls")
    p1, p2 = k1 / n1, k2 / n2
    pool = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pool * (1.0 - pool) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return TestResult(0.0, math.inf, 1.0, 0.5)
    z = (p1 - p2) / se
    cdf = normal_cdf(z)
    return TestResult(z, math.inf, 2.0 * min(cdf, 1.0 - cdf), cdf)
