"""Numba for real, through the engine: every variant accurate, the dtype read from the data
each kernel computed with, threads recorded, compilation and the on-disk cache observed
from Numba's own counters (a second worker loads what the first one compiled)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import run_json_cells

from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

if importlib.util.find_spec("numba") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("numba is not installed", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("numba")  # one worker: its module fixture runs once

BUDGET = 0.05


def run_cells(cells: list[CellSpec]) -> list[CellResult]:
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    finished = sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index)
    return [e.result for e in finished]


def spec(workload: str, variant: str, size: int, dtype: str = "float64", **params: int) -> CellSpec:
    return CellSpec(workload, "numba", variant, "cpu", dtype, size, params=tuple(sorted(params.items())),
                    budget_s=BUDGET, timeout_s=180)


CELLS = [
    spec("linreg", "default", 2),  # specialised on d
    spec("linreg", "default", 12),  # generic row kernel
    spec("linreg", "parallel", 2),
    spec("linreg", "parallel", 12),
    spec("linreg", "default", 12, "float32"),
    spec("mcpi", "default", 20_000),
    spec("mcpi", "parallel", 200_000),
    spec("mcpi", "parallel", 200_000, "float32"),
    spec("mcpi", "vectorize", 300_000),  # more than one ufunc chunk
    spec("lu", "default", 24),
    spec("lu", "parallel", 24),
    spec("lu", "default", 24, "float32"),
    spec("nodes", "default", 20_000),
    spec("nodes", "parallel", 20_000, "float32"),
    spec("nodes", "jitclass", 5_000),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("numba-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JITSCOPE_HOME", str(path))
        mp.delenv("NUMBA_CACHE_DIR", raising=False)
        yield path


@pytest.fixture(scope="module")
def results(home: Path) -> dict[str, CellResult]:
    return {r.spec.key: r for r in run_cells(CELLS)}


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.key)
def test_cell_runs_and_is_accurate(results: dict[str, CellResult], cell: CellSpec) -> None:
    r = results[cell.key]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    # Read from the arrays the kernel returned (a probe of its samples for mcpi/nodes), not
    # from the request: a kernel that silently upcast would say float64 here.
    assert r.observed.dtype_used == cell.dtype
    assert r.info["rng"] if cell.workload in ("mcpi", "nodes") else True
    assert r.first_call_s is not None and r.stats is not None and r.stats.median > 0


def test_threads_recorded(results: dict[str, CellResult]) -> None:
    for r in results.values():
        if r.spec.variant == "parallel":
            assert isinstance(r.info["threads"], int) and r.info["threads"] >= 1
            assert r.info["threading_layer"]
        else:
            assert r.info["threads"] == 1


def test_cache_miss_then_hit_across_workers(
    results: dict[str, CellResult], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JITSCOPE_HOME", str(home))  # conftest gives each test its own home
    lu, vectorize, jitclass = CELLS[9], CELLS[8], CELLS[-1]
    # Observed from numba's own counters: compiler passes ran and the disk cache missed.
    for cell in (lu, vectorize):
        first = results[cell.key]
        assert (first.observed.compiled, first.observed.cache) == ("yes", "miss"), cell.key
        assert first.compile_s is not None and first.compile_s > 0
    assert results[lu.key].observed.startup_s is not None and results[lu.key].observed.startup_s > 0
    assert any((home / "cache" / "numba").rglob("*.nbi")), "index files under jitscope's cache dir"
    again = {r.spec.key: r for r in run_cells([lu, vectorize, jitclass])}
    for cell in (lu, vectorize):
        r = again[cell.key]
        assert r.status == Status.OK, r.reason
        # Loaded from the disk cache: no compiler pass ran, so no compile time either.
        assert (r.observed.compiled, r.observed.cache) == ("no", "hit"), cell.key
        assert r.compile_s is None
    # jitclass code cannot be disk-cached: it compiles in every worker, and no cache applies.
    assert (again[jitclass.key].observed.compiled, again[jitclass.key].observed.cache) == ("yes", "n/a")


def test_jitclass_is_not_disk_cached_and_says_so(results: dict[str, CellResult]) -> None:
    r = results[CELLS[-1].key]
    assert (r.observed.compiled, r.observed.cache) == ("yes", "n/a")
    assert "not disk-cacheable" in r.info["compile_detail"]


@pytest.mark.parametrize("sizes", [(10, 256), (256, 10)], ids=["small-first", "large-first"])
def test_only_the_first_size_compiles_in_either_order(
    sizes: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8's done-when: one signature serves both sizes, so whichever cell comes first
    compiles (its own compile time, numba's start-up measured apart) and the other does not."""
    monkeypatch.setenv("JITSCOPE_HOME", str(tmp_path))  # an empty cache
    first, second = run_cells([spec("lu", "default", sizes[0]), spec("lu", "default", sizes[1])])
    assert (first.observed.compiled, first.observed.cache) == ("yes", "miss")
    assert first.compile_s is not None and first.compile_s > 0
    assert (second.observed.compiled, second.observed.cache) == ("no", "n/a")
    assert second.compile_s is None
    assert first.observed.startup_s == second.observed.startup_s  # one worker, one start-up


def test_jit_disabled_by_the_environment_is_not_labelled_compiled_earlier(tmp_path: Path) -> None:
    """NUMBA_DISABLE_JIT=1: @njit returns the Python function; the cell used to say "already
    compiled in this worker"."""
    (cell,) = run_json_cells(tmp_path, "-w", "linreg", "-b", "numba", "-s", "4", env={"NUMBA_DISABLE_JIT": "1"})
    assert cell["status"] == "failed", cell
    assert cell["reason"].startswith("numba's JIT is disabled (NUMBA_DISABLE_JIT"), cell["reason"]
    assert cell["observed"]["compiled"] == "no", cell
    assert "already compiled" not in cell["info"]["compile_detail"], cell
