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
  alike, so the samples alone look quiet; the scheduler saw it;
* **processes disagree** (a cell measured in several worker processes, ``--processes``):
  the per-process medians span more than ``BETWEEN_LIMIT`` of the median *and* more than
  ``BETWEEN_OVER_WITHIN`` times the typical within-process 95% CI width. Each process is its
  own draw of memory layout, code placement and machine phase; when those move the median
  far more than a process's own noise does, no single process (nor their mix) is "the" time.

Several processes (docs/design.md §4): the median is over all samples; its 95% interval is a
two-level bootstrap (draw processes with replacement, then samples within each drawn process;
the percentile interval of the pooled median), so the spread between processes widens it; the
drift rule looks inside each process (the halves of the pooled order would mistake the
difference between processes for drift).

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
BETWEEN_LIMIT = 0.10  # per-process medians' span, as a share of the median
BETWEEN_OVER_WITHIN = 3.0  # ... and this many times a process's own CI width
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20_261_207  # fixed: the same samples always give the same interval
MIN_SAMPLES_FOR_A_VERDICT = 3  # below that the samples say nothing about their own spread


@dataclass(frozen=True)
class Instability:
    """The three measures of the stability rule; ``reasons`` names those over their limit."""

    ci_width: float  # (ci_high - ci_low) / median
    drift: float  # |median(second half) - median(first half)| / median(first half)
    contention: float | None = None  # Observations.cpu_contention; None: not observed
    samples: int = 0
    processes: int = 1
    between: float = 0.0  # (max - min of the per-process medians) / median; 0 with one process
    within: float = 0.0  # median over processes of (its 95% CI width / its median)

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
    def processes_disagree(self) -> bool:
        return (self.processes >= 2 and self.between > BETWEEN_LIMIT
                and self.between > BETWEEN_OVER_WITHIN * self.within)

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.not_pinned_down:
            found.append(f"the median's 95% CI spans {self.ci_width:.0%} of it")
        if self.drifted:
            found.append(f"the two halves' medians differ by {self.drift:.0%}")
        if self.contended:
            found.append(f"its threads waited for a core {self.contention:.0%} of the time")
        if self.processes_disagree:
            found.append(f"its {self.processes} processes' medians span {self.between:.0%} of it "
                         f"(within one process the 95% CI spans {self.within:.1%})")
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


def _drift(samples: Sequence[float]) -> float:
    """|median(second half) - median(first half)| / median(first half), in the order taken."""
    values = sorted(samples)
    half = len(samples) // 2
    m1 = quantile(sorted(samples[:half]) or values, 0.5)
    m2 = quantile(sorted(samples[half:]) or values, 0.5)
    return abs(m2 - m1) / m1 if m1 > 0 else 0.0


def _relative_ci_width(samples: Sequence[float]) -> float:
    values = sorted(samples)
    median = quantile(values, 0.5)
    low, high = median_ci(values)
    return (high - low) / median if median > 0 else 0.0


def grouped_instability(groups: Sequence[Sequence[float]], ci: tuple[float, float],
                        contention: float | None = None) -> Instability:
    """The stability rule's measures for samples taken by several processes: the CI width of
    the grouped interval ``ci``, drift within each process (the largest), and the spread of
    the per-process medians against their own noise."""
    pooled = sorted(v for g in groups for v in g)
    median = quantile(pooled, 0.5)
    judged = [g for g in groups if len(g) >= MIN_SAMPLES_FOR_A_VERDICT]
    medians = [quantile(sorted(g), 0.5) for g in groups if g]
    return Instability(
        ci_width=(ci[1] - ci[0]) / median if median > 0 else 0.0,
        drift=max((_drift(g) for g in judged), default=0.0),
        contention=contention,
        samples=len(pooled),
        processes=len(medians),
        between=(max(medians) - min(medians)) / median if median > 0 else 0.0,
        within=quantile(sorted(_relative_ci_width(g) for g in judged), 0.5) if judged else 0.0,
    )


def grouped_median_ci(groups: Sequence[Sequence[float]], confidence: float = 0.95,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% interval of the pooled median of samples taken by several processes: a two-level
    (hierarchical) percentile bootstrap, processes drawn with replacement, then samples within
    each drawn process. Seeded, so the same samples always give the same interval. NumPy is
    imported here only (nothing heavy at import time), vectorised: a cell of 3 x 200 samples
    costs a few milliseconds of the supervisor's time."""
    import numpy as np

    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    sizes = np.array([len(a) for a in arrays])
    table = np.full((len(arrays), int(sizes.max())), np.nan)
    for i, a in enumerate(arrays):
        table[i, : len(a)] = a
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(arrays), size=(resamples, len(arrays)))
    taken = sizes[picks][..., None]  # how many samples each drawn process has
    index = np.floor(rng.random((resamples, len(arrays), table.shape[1])) * taken).astype(np.int64)
    values = np.where(np.arange(table.shape[1]) < taken, table[picks[..., None], index], np.nan)
    ordered = np.sort(values.reshape(resamples, -1), axis=1)  # NaN (padding) sorts last
    count = taken[..., 0].sum(axis=1)
    rows = np.arange(resamples)
    medians = (ordered[rows, (count - 1) // 2] + ordered[rows, count // 2]) / 2
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (NumPy's default method) of already sorted values."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def median_ci(sorted_values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Order-statistic CI for the median: [x_(j), x_(n-j+1)] with coverage >= confidence.

    With fewer than 6 samples no pair of order statistics reaches 95%; the range [min, max]
    is returned, which is the widest honest answer. The binomial(n, 1/2) tail is summed
    once, term by term in exact integers (a pooled cell of several processes has hundreds
    of samples: summing each tail afresh was quadratic).
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("confidence interval of no values")
    alpha = 1.0 - confidence
    total = 2**n
    best = 0  # 0 means no j reaches the coverage
    tail = 0  # sum of comb(n, i) for i < j: P(X <= j-1) * 2**n
    term = 1  # comb(n, j-1)
    for j in range(1, n // 2 + 1):
        tail += term
        term = term * (n - j + 1) // j
        # coverage of [x_(j), x_(n-j+1)] = 1 - 2 P(X <= j-1)
        if 1.0 - 2.0 * (tail / total) >= 1.0 - alpha:
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


def summarize_groups(groups: Sequence[Sequence[float]], loops: int, contention: float | None = None) -> Stats:
    """Stats of samples taken by several worker processes (each group in the order taken):
    the median and spread over all samples, the two-level bootstrap interval, and the
    stability rule with the processes' own measures. One process: :func:`summarize`."""
    taken = [list(g) for g in groups if len(g)]
    if len(taken) < 2:
        return summarize([v for g in taken for v in g], loops, contention)
    flat = summarize([v for g in taken for v in g], loops, contention)
    low, high = grouped_median_ci(taken)
    low, high = min(low, flat.median), max(high, flat.median)  # a percentile interval can miss a tie-heavy median
    reasons = grouped_instability(taken, (low, high), contention).reasons
    return Stats(median=flat.median, iqr=flat.iqr, min=flat.min, mean=flat.mean, stdev=flat.stdev,
                 ci_low=low, ci_high=high, samples=flat.samples, loops=loops,
                 unstable=bool(reasons), unstable_reason="; ".join(reasons))
