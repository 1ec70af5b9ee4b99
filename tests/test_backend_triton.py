"""Triton without a GPU: the interpreter variant runs the real kernels at small sizes and
says it is the interpreter; sizes over its cap, nodes, and compiled kernels are skipped with
a reason."""

from __future__ import annotations

import pytest

from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished, WorkerReady
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

pytest.importorskip("triton")
pytest.importorskip("torch")


def spec(workload: str, size: int, dtype: str = "float64", variant: str = "interpreter", device: str = "cpu") -> CellSpec:
    return CellSpec(workload, "triton", variant, device, dtype, size, budget_s=0.02, timeout_s=300)


CELLS = [
    spec("mcpi", 70_000),  # two programs, the second one partial
    spec("mcpi", 20_000, "float32"),
    spec("linreg", 3),
    spec("linreg", 5, "float32"),
    spec("lu", 12),
    spec("lu", 12, "float32"),
]
SKIPS = [spec("mcpi", 5_000_000), spec("nodes", 100), spec("lu", 10, variant="default")]
CUDA = [spec("mcpi", 1000, variant="default", device="cuda")]


@pytest.fixture(scope="module")
def run() -> tuple[dict[int, CellResult], dict[tuple[str, str], dict]]:
    results: dict[int, CellResult] = {}
    infos: dict[tuple[str, str], dict] = {}
    for event in Supervisor(Plan(cells=CELLS + SKIPS + CUDA), load_registry(), lock_path=None).run():
        if isinstance(event, CellFinished):
            results[event.index] = event.result
        elif isinstance(event, WorkerReady):
            infos[(event.backend, event.device)] = event.info
    return results, infos


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[c.key for c in CELLS])
def test_interpreter_cell_accurate_and_labelled(run: tuple, index: int) -> None:
    cell, r = CELLS[index], run[0][index]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    assert r.info["dtype_used"] == cell.dtype
    assert "interpreter" in r.info["compiler"] and "NOT compiled" in r.info["compiler"]


def test_skips_have_reasons(run: tuple) -> None:
    over, nodes, compiled = (run[0][len(CELLS) + i] for i in range(3))
    assert over.status == nodes.status == compiled.status == Status.SKIPPED
    assert "limited to size <= " in over.reason and "interpreter" in over.reason
    assert nodes.reason == "triton:interpreter has no implementation of nodes"
    assert compiled.reason == "triton:default has no cpu implementation of lu"


def test_cuda_is_a_clear_skip_without_a_gpu(run: tuple) -> None:
    info = run[1].get(("triton", "cuda"), {})
    r = run[0][len(CELLS) + len(SKIPS)]
    if "cuda" in info.get("devices", []):
        assert r.status == Status.OK, r.reason
        return
    assert r.status == Status.SKIPPED
    assert r.reason.startswith("no cuda device visible to triton (") and "GPU" in r.reason
