from __future__ import annotations

import math
import statistics

import pytest

from jitscope.core.stats import median_ci, quantile, summarize


def test_quantile_matches_numpy_linear_method() -> None:
    import numpy as np

    values = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0])
    for q in (0.0, 0.25, 0.5, 0.75, 1.0, 0.1):
        assert quantile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))


def test_summarize_named_fields() -> None:
    samples = [1.0, 2.0, 3.0, 4.0, 100.0]
    s = summarize(samples, loops=7)
    assert s.median == 3.0
    assert s.min == 1.0
    assert s.mean == pytest.approx(22.0)
    assert s.stdev == pytest.approx(statistics.stdev(samples))
    assert s.iqr == pytest.approx(4.0 - 2.0)
    assert s.samples == 5 and s.loops == 7
    # n=5 cannot reach 95% with order statistics: the CI is the full range
    assert (s.ci_low, s.ci_high) == (1.0, 100.0)
    assert s.unstable  # IQR/median = 0.67


def test_stable_flag_off_for_tight_samples() -> None:
    s = summarize([1.0, 1.01, 0.99, 1.0, 1.02, 0.98], loops=1)
    assert not s.unstable


def test_median_ci_coverage_is_exact_binomial() -> None:
    # For n=20 the classic order-statistic 95% interval is [x_(6), x_(15)].
    values = [float(i) for i in range(1, 21)]
    assert median_ci(values) == (6.0, 15.0)
    # coverage check against the binomial directly
    n, j = 20, 6
    cover = 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2**n
    assert cover >= 0.95
    cover_tighter = 1 - 2 * sum(math.comb(n, i) for i in range(j + 1)) / 2**n
    assert cover_tighter < 0.95


def test_ci_contains_median() -> None:
    values = sorted([0.5 + 0.01 * ((i * 37) % 17) for i in range(50)])
    low, high = median_ci(values)
    assert low <= quantile(values, 0.5) <= high


def test_empty_samples_rejected() -> None:
    with pytest.raises(ValueError):
        summarize([], loops=1)
