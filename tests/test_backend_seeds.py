"""Seed-faithful variants (python:seed, numpy:seed, numba:seed): the published algorithms run
through the engine, pass the same accuracy checks as the tuned kernels, say honestly what
compiled, and refuse what the published code cannot do (d != 2, float32)."""

from __future__ import annotations

import importlib.util

import pytest
from backend_support import run_cells

from jitscope.core.model import CellResult, CellSpec, Status

pytestmark = pytest.mark.xdist_group("seeds")  # one worker: its module fixture runs once


def spec(workload: str, backend: str, size: int, dtype: str = "float64") -> CellSpec:
    return CellSpec(workload, backend, "seed", "cpu", dtype, size, budget_s=0.03, timeout_s=180)


HOST = [
    spec("linreg", "python", 2),
    spec("linreg", "numpy", 2),
    spec("lu", "python", 16),
    spec("lu", "numpy", 16),
    spec("mcpi", "python", 20_000),
    spec("nodes", "python", 20_000),
]
NUMBA = [spec("lu", "numba", 16), spec("mcpi", "numba", 20_000), spec("nodes", "numba", 20_000)]
HAS_NUMBA = importlib.util.find_spec("numba") is not None
REFUSED = [spec("linreg", "python", 3), spec("linreg", "numpy", 10), spec("lu", "numpy", 16, "float32")]


@pytest.fixture(scope="module")
def results() -> dict[str, CellResult]:
    cells = HOST + REFUSED + (NUMBA if HAS_NUMBA else [])
    return {r.spec.key: r for r in run_cells(cells)[0].values()}


@pytest.mark.parametrize("cell", HOST, ids=lambda c: c.key)
def test_host_seed_runs_accurately_and_compiles_nothing(results: dict[str, CellResult], cell: CellSpec) -> None:
    r = results[cell.key]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    assert r.observed.dtype_used == "float64"  # Python floats / NumPy float64 arrays, read back
    assert (r.observed.compiled, r.observed.cache, r.compile_s) == ("no", "n/a", None)
    assert "seed-faithful" in r.info["seed"]


@pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("cell", NUMBA, ids=lambda c: c.key)
def test_numba_seed_compiles_without_a_disk_cache(results: dict[str, CellResult], cell: CellSpec) -> None:
    """Plain @njit as posted (no cache=True): compiled in the first call, no cache consulted."""
    r = results[cell.key]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    assert r.observed.dtype_used == "float64"
    assert (r.observed.compiled, r.observed.cache) == ("yes", "n/a")
    assert r.compile_s is not None


def test_what_the_published_code_cannot_do_is_refused_with_the_reason(results: dict[str, CellResult]) -> None:
    d3, d10, f32 = (results[c.key] for c in REFUSED)
    assert d3.status == d10.status == f32.status == Status.SKIPPED
    assert "y = w0 + w1*x" in d3.reason and "y = w0 + w1*x" in d10.reason
    assert "float64 only" in f32.reason


def test_seed_linreg_is_the_same_iteration_as_the_tuned_one() -> None:
    """The published list/generator code and the tuned kernels compute one iteration: their
    weights agree to rounding (a seed variant that drifted from the workload would not)."""
    from jitscope.core.backend import CellContext
    from jitscope.core.registry import load_registry

    reg = load_registry()
    workload = reg.workload("linreg")
    params = workload.resolve_params({"epochs": 50})
    cell = spec("linreg", "python", 2)
    ctx = CellContext(cell, workload, params, workload.make_inputs(2, params, cell.seed))
    weights = {}
    for backend, variant in (("python", "seed"), ("numpy", "seed"), ("python", "default")):
        kernel = reg.find("linreg", backend, variant).build(ctx)  # type: ignore[union-attr]
        kernel.transfer()
        weights[(backend, variant)] = [float(v) for v in kernel.fetch(kernel.run())]
    tuned = weights[("python", "default")]
    for key, w in weights.items():
        assert w == pytest.approx(tuned, rel=1e-12), key
