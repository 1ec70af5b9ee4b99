"""Did it get faster? The statistics of comparing one cell's samples from two runs.

Pure: no store, no CLI, and nothing heavy at import time (SciPy and NumPy are imported inside
the functions that need them, so importing this module costs nothing).

The method (README "Comparing runs and gating CI"):

* **ratio** = median(B) / median(A), in time per call: above 1 means B is slower.
* **95% interval of the ratio**: a percentile bootstrap of the ratio of medians, A and B
  resampled independently (``scipy.stats.bootstrap``, seeded, so the same files give the same
  interval). The percentile method, not BCa: BCa's jackknife breaks down on the ties a timer's
  resolution produces.
* **p-value**: the two-sided Mann–Whitney U test (``scipy.stats.mannwhitneyu``): no normality
  assumption, which timing samples never meet.
* **significant** only when both agree: p < 0.05 *and* the interval excludes 1.
* **verdict**: ``slower`` / ``faster`` only when significant *and* the median moved by more
  than the threshold (default 5% of A's); everything else is ``no significant change``. A
  threshold because a significant 1% change is usually the machine, not the code: identical
  runs differ by several per cent from process to process (docs/performance.md, "Comparing
  runs"), and a cell measured in one process sees only its own noise.

Samples may come grouped by the worker process that took them (:class:`Samples`). With one
group on a side, the samples are the unit; with two or more groups on both sides, the
process is the unit: a two-level bootstrap (processes, then samples within each) gives the
interval and the p-value, so the spread between processes widens the interval instead of
being mistaken for a change.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

DEFAULT_THRESHOLD = 0.05  # a verdict needs the median to move by more than this share of A's
CONFIDENCE = 0.95
ALPHA = 0.05
RESAMPLES = 2000
SEED = 20_260_101  # fixed: the same two inputs always give the same interval
MIN_SAMPLES = 5  # per side; with fewer, Mann–Whitney cannot reach p < 0.05 reliably


class Verdict(str, Enum):
    FASTER = "faster"
    SLOWER = "slower"
    SAME = "no significant change"
    NO_VERDICT = "no verdict"  # medians only: no raw samples, or too few
    NOT_COMPARABLE = "not comparable"  # set by the caller: versions, host, status, stability


@dataclass(frozen=True)
class Samples:
    """One cell's seconds per call, grouped by the worker process that took them (one group
    per process: ``CellResult.grouped_samples``, several with ``--processes``)."""

    groups: tuple[tuple[float, ...], ...]

    @classmethod
    def single(cls, values: Sequence[float]) -> Samples:
        return cls((tuple(float(v) for v in values),))

    @property
    def values(self) -> list[float]:
        return [v for group in self.groups for v in group]

    @property
    def count(self) -> int:
        return sum(len(g) for g in self.groups)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def grouped(self) -> bool:
        return sum(1 for g in self.groups if g) >= 2


@dataclass(frozen=True)
class Change:
    """The comparison of one pair of cells. ``ci_low``/``ci_high``/``p_value`` are None when
    there were no raw samples to compute them from (then ``verdict`` is NO_VERDICT)."""

    median_a: float
    median_b: float
    ratio: float  # median_b / median_a; > 1: B slower
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool
    verdict: Verdict
    note: str = ""  # why there is no verdict, or "significant but within the threshold"

    @property
    def change_pct(self) -> float:
        """How much longer B takes, in per cent of A (negative: faster)."""
        return (self.ratio - 1.0) * 100.0

    def slower_by_more_than(self, pct: float) -> bool:
        """The CI gate: significantly slower, and by more than ``pct`` per cent."""
        return self.significant and self.change_pct > pct


def verdict_of(ratio: float, significant: bool, threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    if significant and ratio > 1.0 + threshold:
        return Verdict.SLOWER
    if significant and ratio < 1.0 - threshold:
        return Verdict.FASTER
    return Verdict.SAME


def compare_medians(median_a: float, median_b: float, note: str) -> Change:
    """Where raw samples are missing: the ratio of the medians and no verdict, ever (two
    numbers carry no evidence of their own spread)."""
    ratio = median_b / median_a if median_a > 0 else math.inf
    return Change(median_a, median_b, ratio, None, None, None, False, Verdict.NO_VERDICT, note)


def compare_samples(a: Samples, b: Samples, threshold: float = DEFAULT_THRESHOLD, *,
                    resamples: int = RESAMPLES, seed: int = SEED) -> Change:
    """Ratio, its bootstrap interval, the Mann–Whitney p-value and the verdict for B vs A."""
    median_a, median_b = a.median, b.median
    if min(a.count, b.count) < MIN_SAMPLES:
        return compare_medians(median_a, median_b,
                               f"too few samples for a verdict ({a.count} vs {b.count}; {MIN_SAMPLES} needed)")
    if median_a <= 0:
        return compare_medians(median_a, median_b, "A's median is 0: no ratio")
    if a.grouped and b.grouped:
        low, high, p_value = _grouped_bootstrap(a, b, resamples, seed)
    else:
        p_value = _mannwhitney(a.values, b.values)
        low, high = _bootstrap(a.values, b.values, resamples, seed)
    ratio = median_b / median_a
    significant = p_value < ALPHA and not low <= 1.0 <= high
    verdict = verdict_of(ratio, significant, threshold)
    note = ""
    if significant and verdict is Verdict.SAME:
        note = f"significant, but within ±{threshold:.0%}"
    return Change(median_a, median_b, ratio, low, high, p_value, significant, verdict, note)


def _mannwhitney(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import mannwhitneyu

    if len(set(a) | set(b)) == 1:  # every sample equal: no evidence of any difference
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _ratio_of_medians(a: Any, b: Any, axis: int = -1) -> Any:
    import numpy as np

    return np.median(b, axis=axis) / np.median(a, axis=axis)


def _bootstrap(a: Sequence[float], b: Sequence[float], resamples: int, seed: int) -> tuple[float, float]:
    import numpy as np
    from scipy.stats import bootstrap

    result = bootstrap((np.asarray(a), np.asarray(b)), _ratio_of_medians, n_resamples=resamples,
                       vectorized=True, paired=False, batch=200, confidence_level=CONFIDENCE, method="percentile",
                       rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def _grouped_bootstrap(a: Samples, b: Samples, resamples: int, seed: int) -> tuple[float, float, float]:
    """Two levels: draw processes with replacement, then samples within each drawn process;
    the statistic is the ratio of the pooled medians. SciPy's bootstrap has no hierarchical
    mode, so this is NumPy, seeded. Returns the percentile interval and the bootstrap's
    two-sided p-value for "no change" (twice the share of resampled ratios on the far side of
    1, at least 1/resamples): the smallest level at which the percentile interval excludes 1.
    Not Mann–Whitney on the per-process medians: with 3 processes a side (``--processes``'
    default) its smallest possible p is 0.1, so no change could ever be shown."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    for i in range(resamples):
        ratios[i] = np.median(_resample_groups(b, rng)) / np.median(_resample_groups(a, rng))
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    far_side = min(float(np.mean(ratios <= 1.0)), float(np.mean(ratios >= 1.0)))
    p_value = min(1.0, max(2.0 * far_side, 1.0 / resamples))
    return float(low), float(high), p_value


def _resample_groups(samples: Samples, rng: Any) -> Any:
    import numpy as np

    groups = [np.asarray(g) for g in samples.groups if g]
    picked = rng.integers(0, len(groups), size=len(groups))
    return np.concatenate([rng.choice(groups[k], size=len(groups[k]), replace=True) for k in picked])
