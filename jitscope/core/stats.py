"""Statistics of timing samples, as one object with named fields (CSV columns for free).

The headline is the median (robust to the odd slow sample a shared machine produces); the
95% confidence interval of the median is distribution-free, from order statistics of the
binomial(n, 1/2) (no normality assumption, which timing data never meets).

The stability rule (README "Stability flag"; tuned with benchmarks/stability.py, numbers in
docs/performance.md). A cell is ``unstable`` when the evidence says its median cannot be
trusted, for any of three reasons:

* **not pinned down**: the 95% CI of the median is wider than ``CI_WIDTH_LIMIT`` of the median
  (with fewer than 6 samples the range of the samples stands in for the CI);
* **drift**: the median of the second half of the samples (in the order taken) differs from
  the first half's by more than ``DRIFT_LIMIT`` (something started or stopped mid-cell);
* **contention**: the cell's threads waited on a run queue for a core more than
  ``CONTENTION_LIMIT`` of the time they were ready to run (``Observations.cpu_contention``,
  read from Linux's schedstat). A competitor present for the whole cell slows every sample
  alike, so the samples alone look quiet; the scheduler saw it.

A wide IQR alone no longer flags a cell: on a shared machine a spread of 10-15% is normal
and, with enough samples, the median is still pinned down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from jitscope.core.model import Stats

CI_WIDTH_LIMIT = 0.10
DRIFT_LIMIT = 0.10
CONTENTION_LIMIT = 0.10
MIN_SAMPLES_FOR_A_VERDICT = 3  # below that the samples say nothing about their own spread


@dataclass(frozen=True)
class Instability:
    """The three measures of the stability rule; ``reasons`` names those over their limit."""

    ci_width: float  # (ci_high - ci_low) / median
    drift: float  # |median(second half) - median(first half)| / median(first half)
    contention: float | None = None  # Observations.cpu_contention; None: not observed
    samples: int = 0

    @property
    def judged(self) -> bool:
        """Enough samples for the samples to speak about their own spread."""
        return self.samples >= MIN_SAMPLES_FOR_A_VERDICT

    @property
    def not_pinned_down(self) -> bool:
        return self.judged and self.ci_width > CI_WIDTH_LIMIT

    @property
    def drifted(self) -> bool:
        return self.judged and self.drift > DRIFT_LIMIT

    @property
    def contended(self) -> bool:
        return self.contention is not None and self.contention > CONTENTION_LIMIT

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.not_pinned_down:
            found.append(f"the median's 95% CI spans {self.ci_width:.0%} of it")
        if self.drifted:
            found.append(f"the two halves' medians differ by {self.drift:.0%}")
        if self.contended:
            found.append(f"its threads waited for a core {self.contention:.0%} of the time")
        return found

    @property
    def unstable(self) -> bool:
        return bool(self.reasons)


def instability(samples: Sequence[float], contention: float | None = None) -> Instability:
    """The measures of the stability rule, from samples in the order taken."""
    values = sorted(samples)
    median = quantile(values, 0.5)
    low, high = median_ci(values)
    half = len(samples) // 2
    first = sorted(samples[:half]) or values
    second = sorted(samples[half:]) or values
    m1, m2 = quantile(first, 0.5), quantile(second, 0.5)
    return Instability(
        ci_width=(high - low) / median if median > 0 else 0.0,
        drift=abs(m2 - m1) / m1 if m1 > 0 else 0.0,
        contention=contention,
        samples=len(samples),
    )


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


def summarize(samples: Sequence[float], loops: int, contention: float | None = None) -> Stats:
    """Stats of per-call times (each sample already divided by its loop count, in the order
    taken); ``contention`` is the run-queue share observed while sampling (None: unknown)."""
    if not samples:
        raise ValueError("no samples to summarise")
    values = sorted(float(s) for s in samples)
    n = len(values)
    median = quantile(values, 0.5)
    iqr = quantile(values, 0.75) - quantile(values, 0.25)
    mean = math.fsum(values) / n
    stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    low, high = median_ci(values)
    reasons = instability(samples, contention).reasons
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
        unstable=bool(reasons),
        unstable_reason="; ".join(reasons),
    )
