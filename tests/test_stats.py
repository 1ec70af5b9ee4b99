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
    assert s.unstable  # the "CI" (the whole range with 5 samples) spans 33x the median
    assert "95% CI" in s.unstable_reason


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


# ---- the stability rule: evidence, not IQR alone ------------------------------------------------
def test_a_wide_but_steady_spread_is_stable() -> None:
    """IQR at 12% of the median (what a quiet shared 2-core VM shows for numpy linreg, and
    what the old IQR>10% rule flagged), yet 100 samples pin the median down and nothing
    drifts: stable."""
    import random

    from jitscope.core.stats import summarize

    rng = random.Random(1)
    samples = [1e-3 * rng.uniform(0.88, 1.12) for _ in range(100)]
    stats = summarize(samples, 1, contention=0.01)
    assert stats.iqr / stats.median > 0.10
    assert not stats.unstable and stats.unstable_reason == ""


def test_drifting_timings_are_unstable() -> None:
    from jitscope.core.stats import instability, summarize

    samples = [1e-3] * 20 + [1.3e-3] * 20  # a competing process started halfway
    assert instability(samples).drift > 0.25
    stats = summarize(samples, 1)
    assert stats.unstable and "halves" in stats.unstable_reason


def test_scattered_timings_are_unstable() -> None:
    import random

    from jitscope.core.stats import summarize

    rng = random.Random(2)
    samples = [1e-3 * rng.uniform(0.5, 2.0) for _ in range(30)]
    assert summarize(samples, 1).unstable


def test_a_single_sample_gives_no_verdict() -> None:
    from jitscope.core.stats import summarize

    assert not summarize([5.0], 1).unstable


def test_a_uniform_slowdown_is_caught_by_contention_not_by_the_samples() -> None:
    """Two busy processes on the two cores for the whole cell: every sample is 1.5x slower,
    so the samples are as tight as a quiet cell's; the scheduler's run-queue wait says it."""
    from jitscope.core.stats import summarize

    samples = [1.5e-3 * (1 + 0.001 * (i % 7)) for i in range(60)]
    assert not summarize(samples, 1).unstable  # contention unknown: the samples look quiet
    assert not summarize(samples, 1, contention=0.02).unstable  # a daemon woke up: quiet
    stats = summarize(samples, 1, contention=1 / 3)
    assert stats.unstable
    assert stats.unstable_reason == "its threads waited for a core 33% of the time"


def test_a_single_long_call_is_flagged_only_by_contention() -> None:
    from jitscope.core.stats import summarize

    assert not summarize([5.0], 1, contention=0.05).unstable
    assert summarize([5.0], 1, contention=0.4).unstable


def test_every_reason_is_named_when_several_apply() -> None:
    from jitscope.core.stats import summarize

    samples = [1e-3] * 3 + [3e-3] * 3  # wide and drifting
    reasons = summarize(samples, 1, contention=0.5).unstable_reason.split("; ")
    assert len(reasons) == 3


def test_a_median_known_to_within_5_percent_is_pinned_down() -> None:
    """The CI limit: a median known to about ±4% is trusted, one known to ±6% is not; with
    fewer than 3 samples the samples give no verdict on their own spread."""
    from jitscope.core.stats import Instability

    assert not Instability(ci_width=0.08, drift=0.0, samples=20).unstable
    assert Instability(ci_width=0.12, drift=0.0, samples=20).unstable
    assert not Instability(ci_width=0.5, drift=0.5, samples=2).unstable
