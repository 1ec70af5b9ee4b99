"""Statistics of timing samples, as one object with named fields (CSV columns for free).

The headline is the median (robust to the odd slow sample a shared machine produces); the
95% confidence interval of the median is distribution-free, from order statistics of the
binomial(n, 1/2) (no normality assumption, which timing data never meets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jitscope.core.model import Stats

UNSTABLE_IQR_RATIO = 0.10  # IQR above 10% of the median: flag the cell as unstable


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (NumPy's default method) of already sorted values."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def _binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    if k < 0:
        return 0.0
    total = sum(math.comb(n, i) for i in range(0, min(k, n) + 1))
    return total / 2.0**n


def median_ci(sorted_values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Order-statistic CI for the median: [x_(j), x_(n-j+1)] with coverage >= confidence.

    With fewer than 6 samples no pair of order statistics reaches 95%; the range [min, max]
    is returned, which is the widest honest answer.
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("confidence interval of no values")
    alpha = 1.0 - confidence
    best = 0  # 0 means no j reaches the coverage
    for j in range(1, n // 2 + 1):
        # coverage of [x_(j), x_(n-j+1)] = 1 - 2 P(X <= j-1)
        if 1.0 - 2.0 * _binom_cdf_half(j - 1, n) >= 1.0 - alpha:
            best = j
        else:
            break
    if best == 0:
        return sorted_values[0], sorted_values[-1]
    return sorted_values[best - 1], sorted_values[n - best]


def summarize(samples: Sequence[float], loops: int) -> Stats:
    """Stats of per-call times (each sample already divided by its loop count)."""
    if not samples:
        raise ValueError("no samples to summarise")
    values = sorted(float(s) for s in samples)
    n = len(values)
    median = quantile(values, 0.5)
    iqr = quantile(values, 0.75) - quantile(values, 0.25)
    mean = math.fsum(values) / n
    stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    low, high = median_ci(values)
    unstable = n > 1 and median > 0 and iqr / median > UNSTABLE_IQR_RATIO
    return Stats(
        median=median,
        iqr=iqr,
        min=values[0],
        mean=mean,
        stdev=stdev,
        ci_low=low,
        ci_high=high,
        samples=n,
        loops=loops,
        unstable=unstable,
    )
