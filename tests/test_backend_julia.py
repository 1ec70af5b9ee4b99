"""Julia: without julia on PATH the cells say so (see test_backend_registry); here the
Python side of the protocol is driven end to end against a stand-in `julia` that speaks the
same line protocol, and against the real julia when one is installed."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from jitscope.backends.julia_backend import JuliaServer
from jitscope.core.model import CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

# A stand-in for `julia <args> _julia_server.jl`: same protocol, NumPy inside.
FAKE = r'''
import sys, time, math
import numpy as np
from jitscope.workloads.mcpi import estimate_pi
from jitscope.workloads.linreg import gradient_descent
from jitscope.workloads.lu import lu_inplace, slogdet_of_factor
assert sys.argv[-1].endswith("_julia_server.jl"), sys.argv
state = {}
print("READY 0.0-fake", flush=True)
for line in sys.stdin:
    p = line.split()
    if not p:
        continue
    if p[0] == "QUIT":
        break
    try:
        if p[0] == "SETUP":
            T = np.float32 if p[2] == "float32" else np.float64
            if p[1] == "linreg":
                n, d = int(p[4]), int(p[5])
                X = np.fromfile(p[3]).reshape(n, d).astype(T)
                y = np.fromfile(p[6]).astype(T)
                coef, epochs = float(p[7]), int(p[8])
                state["run"] = lambda: (lambda w: (w, w.dtype))(gradient_descent(X, y, coef * n / 2.0, epochs))
            elif p[1] == "mcpi":
                n, seed = int(p[3]), int(p[4])
                state["run"] = lambda: (lambda r: (r[0], r[1].dtype))(estimate_pi(n, seed, T))
            elif p[1] == "lu":
                n = int(p[4])
                A = np.fromfile(p[3]).reshape(n, n).astype(T)
                state["run"] = lambda: (lambda a: (slogdet_of_factor(a), a.dtype))(lu_inplace(A.copy()))
            elif p[1] == "nodes":
                n, prob, seed = int(p[3]), float(p[4]), int(p[5])
                def nodes():
                    rng = np.random.default_rng(seed)
                    bias = np.full(n, 0.5, T)
                    m = rng.random(n) < prob
                    bias[m] += rng.random(int(m.sum())).astype(T)
                    return float(bias.sum(dtype=np.float64)), bias.dtype
                state["run"] = nodes
            else:
                raise ValueError("unknown workload " + p[1])
            print("OK", flush=True)
        elif p[0] == "RUN":
            t0 = time.perf_counter_ns()
            res, seen = state["run"]()
            el = time.perf_counter_ns() - t0
            vals = np.atleast_1d(np.asarray(res, dtype=np.float64))
            print("OK", el, np.dtype(seen).name, " ".join(repr(float(v)) for v in vals), flush=True)
        else:
            raise ValueError("unknown command " + p[0])
    except Exception as exc:
        print("ERR", type(exc).__name__, exc, flush=True)
'''


@pytest.fixture
def fake_julia(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake_julia.py"
    script.write_text(FAKE, encoding="utf-8")
    exe = tmp_path / "julia"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    return exe


def _cells() -> list[CellSpec]:
    return [
        CellSpec(w, "julia", "default", "cpu", dtype, size, budget_s=0.03, timeout_s=120)
        for w, size in (("linreg", 4), ("mcpi", 20_000), ("lu", 12), ("nodes", 5_000))
        for dtype in ("float64", "float32")
    ]


def _run(cells: list[CellSpec]) -> list:
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    return [e.result for e in sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index)]


def test_protocol_end_to_end_with_a_stand_in(fake_julia: Path) -> None:
    for cell, r in zip(_cells(), _run(_cells()), strict=True):
        assert r.status == Status.OK, (cell.key, r.reason)
        assert r.accuracy is not None and r.accuracy.accurate
        assert r.observed.dtype_used == cell.dtype
        assert r.observed.dtype_used == cell.dtype  # as the server read it from its data
        assert r.info["julia_internal_median_s"] > 0
        assert "0.0-fake" in r.info["compiler"]


def test_server_errors_become_exceptions(fake_julia: Path) -> None:
    server = JuliaServer(str(fake_julia))
    try:
        with pytest.raises(RuntimeError, match="julia: .*unknown command"):
            server.request("BOGUS")
        assert server.request("SETUP mcpi float64 1000 1") == []
    finally:
        server.close()
    assert server.proc.poll() is not None


@pytest.mark.skipif(shutil.which("julia") is None, reason="julia not found on PATH")
def test_real_julia() -> None:  # pragma: no cover - needs julia
    for cell, r in zip(_cells(), _run(_cells()), strict=True):
        assert r.status == Status.OK, (cell.key, r.reason)
        assert r.accuracy is not None and r.accuracy.accurate
        assert r.observed.dtype_used == cell.dtype
