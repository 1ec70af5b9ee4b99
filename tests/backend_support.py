"""Running a list of cells through the real supervisor (worker processes), for backend tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jitscope.core.model import CellResult, CellSpec
from jitscope.core.registry import load_registry
from jitscope.runner.events import CellFinished, WorkerReady
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

Results = dict[int, CellResult]
Infos = dict[tuple[str, str], dict[str, Any]]
DTYPES = ("float64", "float32")


def in_both_dtypes(spec: Callable[[str, int, str], CellSpec], **sizes: int) -> list[CellSpec]:
    """``spec(workload, size, dtype)`` for each workload at its size, float64 then float32:
    the cells a backend's test checks for accuracy and the dtype that ran."""
    return [spec(workload, size, dtype) for workload, size in sizes.items() for dtype in DTYPES]


def run_cells(cells: list[CellSpec]) -> tuple[Results, Infos]:
    """Results by plan index, and each worker's hello info by (backend, device)."""
    results: Results = {}
    infos: Infos = {}
    for event in Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run():
        if isinstance(event, CellFinished):
            results[event.index] = event.result
        elif isinstance(event, WorkerReady):
            infos[(event.backend, event.device)] = event.info
    return results, infos
