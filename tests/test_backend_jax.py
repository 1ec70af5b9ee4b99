"""JAX for real: accuracy, float64 really float64 (x64), float32 honest, the timed call
includes the device work (block_until_ready), and CUDA skipped with a reason on a CPU box."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from backend_support import in_both_dtypes, run_cells
from cli_support import run_json_cells

from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

if importlib.util.find_spec("jax") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("jax is not installed", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("jax")  # one worker: its module fixture runs once

BUDGET = 0.05
FEW, MANY = 20, 320  # linreg epochs for the sync check: 16x the work


def spec(workload: str, size: int, dtype: str = "float64", device: str = "cpu", budget: float = BUDGET, **params: int) -> CellSpec:
    return CellSpec(workload, "jax", "default", device, dtype, size, params=tuple(sorted(params.items())),
                    budget_s=budget, timeout_s=180)


CELLS = in_both_dtypes(spec, linreg=10, mcpi=50_000, lu=24, nodes=20_000)
SYNC_CELLS = [spec("linreg", 32, budget=0.2, epochs=FEW), spec("linreg", 32, budget=0.2, epochs=MANY)]
CUDA_CELLS = [spec("mcpi", 1000, device="cuda")]


@pytest.fixture(scope="module")
def run() -> tuple[dict[str | int, CellResult], dict[tuple[str, str], dict]]:
    cells = CELLS + SYNC_CELLS + CUDA_CELLS
    by_index, infos = run_cells(cells)
    results: dict[str | int, CellResult] = {**by_index, **{r.spec.key: r for r in by_index.values()}}
    return results, infos


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.key)
def test_cell_runs_accurate_and_dtype_honest(run: tuple, cell: CellSpec) -> None:
    r = run[0][cell.key]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    # Read from the device arrays the kernel returned (a sample carried out of the loop for
    # mcpi, the factor's sign for lu), not copied from the request.
    assert r.observed.dtype_used == cell.dtype
    assert "block_until_ready" in r.info["sync"]
    # Each cell's jitted function is new, so its first call traced and compiled it; no
    # persistent compilation cache is configured here.
    assert (r.observed.compiled, r.observed.cache) == ("yes", "n/a")
    assert r.compile_s is not None and r.compile_s > 0


def test_float64_is_really_float64(run: tuple) -> None:
    """A float32 run could not meet linreg's float64 tolerance (1e-8 relative)."""
    r = run[0][CELLS[0].key]
    assert r.info["x64"] is True
    assert r.accuracy is not None and r.accuracy.tolerance <= 1e-8 and r.accuracy.error < 1e-10
    r32 = run[0][CELLS[1].key]
    assert r32.accuracy is not None and r32.accuracy.error > 1e-10  # float32 really rounds


def test_worker_info_reports_x64_and_devices(run: tuple) -> None:
    info = run[1][("jax", "cpu")]
    assert info["x64"] is True and "cpu" in info["devices"] and info["version"]
    # XLA's start-up is paid by the worker (a trivial jit), not by the first cell.
    assert "trivial jit" in info["startup_notes"]["runtime_initialised"]


def test_persistent_compilation_cache_misses_then_hits(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With JAX's persistent cache on, the first worker's first call misses it (XLA compiles)
    and a second worker's hits it: read from JAX's own cache events."""
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax-cache"))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    cell = spec("lu", 12, "float32")
    first = run_cells([cell])[0][0]  # one worker...
    second = run_cells([cell])[0][0]  # ...then a fresh one, same cache directory
    assert (first.observed.compiled, first.observed.cache) == ("yes", "miss")
    assert (second.observed.compiled, second.observed.cache) == ("yes", "hit")
    assert "XLA compiled 0" in second.info["compile_detail"]


class _FakeDevice:
    def __init__(self, peaks: list[int | None]) -> None:
        self._peaks = peaks

    def memory_stats(self) -> dict | None:
        peak = self._peaks.pop(0)
        return None if peak is None else {"peak_bytes_in_use": peak, "bytes_in_use": 1}


@pytest.mark.parametrize(
    "before,after,expected",
    [(100, 250, 250), (300, 300, None), (None, None, None)],
    ids=["rose-during-the-cell", "stayed-under-an-earlier-peak", "no-allocator-stats"],
)
def test_device_peak_is_reported_only_when_jax_saw_it_rise(before, after, expected) -> None:
    """JAX cannot reset its peak: the cell gets it only when it rose during the cell."""
    from jitscope.backends.jax_backend import JaxDevicePeak

    peak = JaxDevicePeak(_FakeDevice([before, after]))
    peak.reset()
    assert peak.peak() == expected


def test_timing_includes_the_device_work(run: tuple) -> None:
    """Same kernel, 16x the epochs: an unsynchronised timer would see two dispatch times of
    about the same size; block_until_ready makes the median grow with the work."""
    few, many = run[0][len(CELLS)], run[0][len(CELLS) + 1]
    assert dict(few.spec.params)["epochs"] == FEW and dict(many.spec.params)["epochs"] == MANY
    assert few.status == many.status == Status.OK
    assert few.stats is not None and many.stats is not None
    assert many.stats.median / few.stats.median > 4.0


def test_cuda_is_a_clear_skip_without_a_gpu(run: tuple) -> None:
    info = run[1].get(("jax", "cuda"), {})
    r = run[0][CUDA_CELLS[0].key]
    if "cuda" in info.get("devices", []):
        assert r.status == Status.OK, r.reason
        return
    assert r.status == Status.SKIPPED
    assert r.reason.startswith("no cuda device visible to jax") and "GPU" in r.reason


def test_unsynced_timing_would_lie() -> None:
    """In-process, one call of the jax kernel timed with its sync and without: JAX dispatches
    asynchronously, so without block_until_ready the clock stops long before the work ends
    (the reason the engine syncs every timed region)."""
    import time

    from jitscope.core.backend import CellContext

    reg = load_registry()
    cell = spec("linreg", 32, "float32", epochs=MANY)
    workload = reg.workload("linreg")
    params = workload.resolve_params(cell.params_dict)
    ctx = CellContext(cell, workload, params, workload.make_inputs(cell.size, params, cell.seed))
    kernel = reg.find("linreg", "jax", "default").build(ctx)  # type: ignore[union-attr]
    kernel.transfer()
    kernel.sync(kernel.run())  # compile
    synced, unsynced = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        out = kernel.run()
        unsynced.append(time.perf_counter() - t0)
        kernel.sync(out)
        synced.append(time.perf_counter() - t0)
    assert min(unsynced) < min(synced) / 5


def test_float64_without_x64_is_refused_not_downgraded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user who turned x64 off gets a skipped float64 cell with the reason, never a float32
    result labelled float64; float32 still runs."""
    monkeypatch.setenv("JAX_ENABLE_X64", "0")  # Backend.env only sets a default
    cells = [spec("mcpi", 1000), spec("mcpi", 1000, "float32")]
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    f64, f32 = (e.result for e in sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index))
    assert f64.status == Status.SKIPPED
    assert "x64" in f64.reason and "float32" in f64.reason
    assert f32.status == Status.OK, f32.reason
    assert f32.observed.dtype_used == "float32"


def test_jit_disabled_by_the_environment_is_not_a_compiled_timing(tmp_path: Path) -> None:
    """JAX_DISABLE_JIT=1: jax.jit runs op by op (each primitive compiled on its own), which
    the compile events alone would report as "compiled yes"."""
    (cell,) = run_json_cells(tmp_path, "-w", "linreg", "-b", "jax", "-s", "4", env={"JAX_DISABLE_JIT": "1"})
    assert cell["status"] == "failed", cell
    assert cell["reason"].startswith("jax.jit is disabled (jax_disable_jit"), cell["reason"]
    assert cell["observed"]["compiled"] == "no" and cell["stats"]["median"] > 0, cell
