"""The extra backends as a whole: registration, lightness at import, availability and the
skip reasons that need no worker (cupy, julia, no C compiler, the Triton interpreter's size
cap, CUDA-only variants on the CPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from jitscope.core.model import CellSpec, Status
from jitscope.core.registry import BUILTIN_BACKENDS, load_registry
from jitscope.runner.events import CellFinished, WorkerStarted
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[1]
# Derived, not listed: every backend beyond the two baselines, and every module any backend
# requires (NumPy aside: the workloads themselves need it), plus numba's LLVM binding.
EXTRA = tuple(sorted(set(BUILTIN_BACKENDS) - {"python", "numpy"}))
HEAVY = tuple(sorted({m for b in load_registry().backends.values() for m in b.requires} - {"numpy"} | {"llvmlite"}))


def test_entry_points_match_builtin_table() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table = data["project"]["entry-points"]["jitscope.backends"]
    missing = sorted(set(BUILTIN_BACKENDS) - set(table))
    assert not missing, f"add to [project.entry-points.\"jitscope.backends\"] in pyproject.toml: {missing}"
    assert table == BUILTIN_BACKENDS
    assert {"numba", "jax", "tensorflow", "torch", "triton", "cython", "scipy", "cupy", "julia"} <= set(EXTRA)


def test_backend_modules_are_light_at_import() -> None:
    """Listing every backend (what the UI does at start) imports none of the heavy libraries."""
    code = (
        "import sys, json\n"
        "from jitscope.core.registry import load_registry\n"
        "reg = load_registry()\n"
        "[b.availability() for b in reg.backends.values()]\n"
        f"print(json.dumps({{'problems': reg.problems, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"problems": [], "heavy": []}


def test_every_extra_backend_is_registered_with_known_workloads() -> None:
    reg = load_registry()
    for name in EXTRA:
        backend = reg.backend(name)
        # Its own kernels and those the workloads' files declare for it (Workload.kernel_build).
        implementations = reg.implementations(backend=name)
        assert implementations, name
        assert backend.default_variant in reg.variants(name), name
        for impl in implementations:
            assert impl.backend == name
            assert impl.workload in reg.workloads
            assert impl.description
    assert set(reg.variants("scipy")) == {"default"}
    assert {i.workload for i in reg.implementations(backend="scipy")} == {"lu"}
    assert {"default", "parallel", "vectorize", "jitclass"} <= set(reg.variants("numba"))
    assert reg.variants("torch") == ("eager", "compile")
    triton = reg.implementations(backend="triton")
    for impl in triton:
        if impl.variant == "interpreter":
            assert impl.devices == ("cpu",) and impl.max_size and "INTERPRETER" in impl.description
        else:
            assert impl.devices == ("cuda",)
    assert "nodes" not in {i.workload for i in triton}


def test_cupy_reason_without_importing() -> None:
    cupy = load_registry().backend("cupy")
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here; its skip reason comes from the worker")
    availability = cupy.availability()
    assert not availability.available
    assert availability.reason.startswith("cupy is not installed")


def test_julia_reason_when_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    availability = load_registry().backend("julia").availability()
    assert not availability.available
    assert availability.reason == "julia not found on PATH"


def test_cython_reason_without_a_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    availability = load_registry().backend("cython").availability()
    assert not availability.available
    assert "no C compiler" in availability.reason


def _run_without_workers(cells: list[CellSpec]) -> list[CellFinished]:
    events = list(Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run())
    assert not [e for e in events if isinstance(e, WorkerStarted)], "these cells must be refused up front"
    return [e for e in events if isinstance(e, CellFinished)]


def _spec(workload: str, backend: str, variant: str, size: int, device: str = "cpu", dtype: str = "float64") -> CellSpec:
    return CellSpec(workload, backend, variant, device, dtype, size, budget_s=0.05)


def test_refusals_need_no_worker() -> None:
    cells = [
        _spec("mcpi", "triton", "interpreter", 10_000_000),  # over the interpreter's cap
        _spec("linreg", "triton", "interpreter", 100),
        _spec("mcpi", "triton", "default", 1000),  # compiled Triton on the CPU
        _spec("nodes", "triton", "interpreter", 1000),  # no Triton formulation
        _spec("linreg", "scipy", "default", 2),  # LAPACK has nothing for GD
        _spec("mcpi", "numba", "default", 1000, device="cuda"),  # numba here is CPU only
        _spec("lu", "cupy", "default", 10, device="cuda"),
    ]
    if importlib.util.find_spec("cupy") is not None:
        cells.pop()
    finished = _run_without_workers(cells)
    reasons = [f.result.reason for f in finished]
    assert all(f.result.status == Status.SKIPPED for f in finished), reasons
    assert "limited to size <= 1000000" in reasons[0] and "interpreter" in reasons[0]
    assert "limited to size <= 16" in reasons[1]
    assert reasons[2] == "triton:default has no cpu implementation of mcpi"
    assert reasons[3] == "triton:interpreter has no implementation of nodes"
    assert reasons[4] == "scipy:default has no implementation of linreg"
    assert reasons[5] == "numba:default has no cuda implementation of mcpi"
    if len(reasons) > 6:
        assert reasons[6].startswith("cupy is not installed")


def test_julia_cells_skip_with_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + str(Path(sys.executable).parent))
    finished = _run_without_workers([_spec(w, "julia", "default", 10) for w in ("linreg", "lu")])
    assert [f.result.status for f in finished] == [Status.SKIPPED] * 2
    assert {f.result.reason for f in finished} == {"julia not found on PATH"}
