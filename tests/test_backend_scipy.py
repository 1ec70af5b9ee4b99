"""SciPy: LU through LAPACK getrf, recorded as partial pivoting; lu only."""

from __future__ import annotations

import importlib.util

import pytest

from jitscope.core.model import CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

if importlib.util.find_spec("scipy") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("scipy is not installed", allow_module_level=True)


def test_lu_via_lapack_accurate_in_both_dtypes() -> None:
    cells = [
        CellSpec("lu", "scipy", "default", "cpu", dtype, n, budget_s=0.05)
        for dtype in ("float64", "float32")
        for n in (10, 100)
    ] + [CellSpec("mcpi", "scipy", "default", "cpu", "float64", 1000, budget_s=0.05)]
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    finished = sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index)
    results = [e.result for e in finished]
    for cell, r in zip(cells[:4], results[:4], strict=True):
        assert r.status == Status.OK, r.reason
        assert r.accuracy is not None and r.accuracy.accurate
        assert r.observed.dtype_used == cell.dtype  # read from the factor LAPACK returned
        assert (r.observed.compiled, r.observed.cache) == ("no", "n/a")  # LAPACK is precompiled
        assert "PARTIAL PIVOTING" in r.info["algorithm"]
    assert results[4].status == Status.SKIPPED
    assert results[4].reason == "scipy:default has no implementation of mcpi"
