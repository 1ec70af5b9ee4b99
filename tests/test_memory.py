"""Peak host memory per cell (jitscope.core.memory): read from Linux's high-water mark above a
baseline of what is live, or None where the kernel offers no reset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jitscope.core import memory
from jitscope.core.memory import PeakWatch
from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

MB = 1_000_000
# Linux counts resident pages per CPU and sums them approximately: a reading can be a few
# pages off, hence "at least 98%" where a test allocates an exact amount.
linux_only = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc/self/clear_refs")


def _worker(cells: list[CellSpec]) -> list[CellResult]:
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    results = [e.result for e in events if isinstance(e, CellFinished)]
    for r in results:
        assert r.status == Status.OK, r.reason
    return results


@pytest.mark.slow
@linux_only
def test_numpy_lu_peak_is_at_least_the_matrix_and_the_same_in_any_position() -> None:
    """One worker, four cells. numpy lu works on a copy of the n x n float64 matrix plus each
    step's outer product (as large at the first step): 2 x 8 MB at n=1000, 2 x 18 MB at
    n=1500 (larger than anything freed before it; 2000 would only add work: lu is n^3).
    The second n=1000 cell is the hard one: the first left its 16 MB free in the allocator,
    and a naive reading reused it unseen (7.9 MB, less than the matrix)."""
    sizes = (1000, 1000, 1500, 10)
    cells = [CellSpec("lu", "numpy", "default", "cpu", "float64", n, budget_s=0.05) for n in sizes]
    peaks = [r.observed.peak_host_bytes for r in _worker(cells)]
    assert all(p is not None for p in peaks), peaks
    first, second, big, small = (int(p or 0) for p in peaks)
    assert first >= 1000 * 1000 * 8 and second >= 1000 * 1000 * 8, peaks
    assert second == pytest.approx(first, rel=0.05), peaks
    assert big >= 1500 * 1500 * 8, peaks  # at least the matrix: 18 MB
    # Small, not the 36 MB the n=1500 cell left as the high-water mark: a few MB of the
    # worker's own (timing lists, an allocator arena) may land in a busy machine's window.
    assert small < 4 * MB, peaks


@linux_only
def test_an_allocation_inside_the_window_is_seen() -> None:
    np = pytest.importorskip("numpy")
    watch = PeakWatch()
    watch.start()
    block = np.ones(50 * MB // 8)  # written, so resident
    peak = watch.peak_above_baseline()
    del block
    assert peak is not None and peak >= 0.98 * 50 * MB, peak


@linux_only
def test_memory_freed_before_the_window_is_not_reused_unseen() -> None:
    """An array freed before the cell leaves its pages with the allocator; the watch hands
    them back first, so the cell's own array of the same size is counted."""
    np = pytest.importorskip("numpy")
    for _ in range(2):  # the first is mmapped and raises glibc's threshold; the second stays
        np.ones(20 * MB // 8).sum()  # on the heap, free and resident
    watch = PeakWatch()
    watch.start()
    block = np.ones(20 * MB // 8)
    peak = watch.peak_above_baseline()
    del block
    assert peak is not None and peak >= 0.98 * 20 * MB, peak


def test_without_a_resettable_high_water_mark_the_peak_is_unknown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(memory, "_CLEAR_REFS", str(tmp_path / "missing" / "clear_refs"))
    watch = PeakWatch()
    watch.start()
    assert watch.peak_above_baseline() is None


def test_an_unreadable_status_gives_unknown_not_zero(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    watch = PeakWatch()
    watch.start()
    monkeypatch.setattr(memory, "_STATUS", str(tmp_path / "no-status"))
    assert watch.peak_above_baseline() is None
