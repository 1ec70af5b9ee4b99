"""Observations a cell reports are measured, not assumed (issue 8): memory, CPU use, dtype,
compile, raw samples — through the real execute path."""

from __future__ import annotations

from jitscope.core.model import CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.execute import execute_cell

MB = 1024 * 1024


def _run(workload: str, backend: str, size: int, dtype: str = "float64", budget: float = 0.02):
    spec = CellSpec(workload, backend, "default", "cpu", dtype, size, budget_s=budget)
    result = execute_cell(spec, load_registry())
    assert result.status == Status.OK, result.reason
    return result


def test_peak_host_memory_of_numpy_lu_scales_with_the_matrix() -> None:
    big = _run("lu", "numpy", 2000)  # the kernel works on a copy of a 2000x2000 float64 matrix
    small = _run("lu", "numpy", 10)
    assert big.observed.peak_host_bytes is not None and small.observed.peak_host_bytes is not None
    assert big.observed.peak_host_bytes >= 2000 * 2000 * 8  # at least the matrix: 32 MB
    assert small.observed.peak_host_bytes < 4 * MB


def test_numpy_never_claims_a_compilation() -> None:
    r = _run("mcpi", "numpy", 100_000)
    assert (r.observed.compiled, r.observed.cache) == ("no", "n/a")
    assert r.compile_s is None  # not first_call - median: nothing compiled


def test_cpu_util_is_cpu_time_over_wall_time_while_sampling() -> None:
    r = _run("mcpi", "python", 20_000, budget=0.1)  # one pure-Python thread
    assert r.observed.cpu_util is not None and 0.5 < r.observed.cpu_util < 1.3


def test_dtype_is_read_from_the_arrays_that_ran() -> None:
    r = _run("linreg", "numpy", 4, dtype="float32")  # the weights come back as the float32 array
    assert r.observed.dtype_used == "float32"


def test_raw_samples_are_kept_in_order_and_match_the_statistics() -> None:
    r = _run("mcpi", "numpy", 10_000, budget=0.05)
    assert r.stats is not None and len(r.raw_samples) == r.stats.samples
    assert min(r.raw_samples) == r.stats.min


def test_cpu_util_shows_whether_numba_parallel_used_the_cores() -> None:
    """The thread cap is configuration; cpu_util is what happened (issue 8's done-when)."""
    import os

    import pytest

    pytest.importorskip("numba")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    from jitscope.runner.events import CellFinished
    from jitscope.runner.plan import Plan
    from jitscope.runner.supervisor import Supervisor

    utils = {}
    for threads in (1, 2):
        spec = CellSpec("mcpi", "numba", "parallel", "cpu", "float64", 10_000_000, budget_s=0.3, threads=threads)
        events = Supervisor(Plan(cells=[spec]), load_registry(), lock_path=None).run()
        result = next(e.result for e in events if isinstance(e, CellFinished))
        assert result.status == Status.OK, result.reason
        utils[threads] = result.observed.cpu_util
    assert utils[1] is not None and utils[2] is not None
    assert utils[1] < 1.3, utils
    assert utils[2] > 1.5, utils
