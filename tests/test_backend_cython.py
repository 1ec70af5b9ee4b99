"""Cython for real: the .pyx is built with the system C compiler inside the first call
(compile column), cached on disk under jitscope's cache folder, loaded by the next worker."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_support import in_both_dtypes

from jitscope.backends.cython_backend import find_compiler
from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

if importlib.util.find_spec("Cython") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("Cython is not installed", allow_module_level=True)
if find_compiler() is None:  # the registry test checks the skip reason for this case
    pytest.skip("no C compiler on this machine", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("cython")  # one worker: its module fixture runs once


def spec(workload: str, size: int, dtype: str = "float64") -> CellSpec:
    return CellSpec(workload, "cython", "default", "cpu", dtype, size, budget_s=0.05, timeout_s=300)


CELLS = in_both_dtypes(spec, linreg=10, mcpi=100_000, lu=24, nodes=20_000)


def run_cells(cells: list[CellSpec]) -> list[CellResult]:
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    finished = sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index)
    return [e.result for e in finished]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cython-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JITSCOPE_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def results(home: Path) -> list[CellResult]:
    return run_cells(CELLS)


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[c.key for c in CELLS])
def test_cell_accurate_and_dtype_honest(results: list[CellResult], index: int) -> None:
    cell, r = CELLS[index], results[index]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    # Read from data the C code computed with (the output, the factor, or the probe array
    # whose dtype selected the fused specialisation and that received a sample).
    assert r.observed.dtype_used == cell.dtype
    assert r.info["threads"] == 1


def test_build_is_in_the_first_call_and_cached(
    results: list[CellResult], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = results[0]
    assert (first.observed.compiled, first.observed.cache) == ("yes", "miss")
    assert first.compile_s is not None and first.compile_s > 0
    assert first.info["build_s"] > 0
    assert first.first_call_s is not None and first.first_call_s >= first.info["build_s"]
    assert Path(first.info["module_path"]).is_relative_to(home / "cache" / "cython")
    assert all((r.observed.compiled, r.observed.cache) == ("no", "n/a") for r in results[1:])
    assert all(r.compile_s is None for r in results[1:])
    monkeypatch.setenv("JITSCOPE_HOME", str(home))  # conftest gives each test its own home
    again = run_cells([CELLS[4]])[0]
    assert again.status == Status.OK, again.reason
    assert (again.observed.compiled, again.observed.cache) == ("no", "hit")
    assert "build_s" not in again.info and again.compile_s is None
