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
