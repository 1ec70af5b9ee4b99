"""Derived numbers shown next to results: speed-ups against a baseline or the fastest."""

from __future__ import annotations

from collections.abc import Sequence

from jitscope.core.labels import cell_label, cell_threads
from jitscope.core.model import CellResult, Status


def comparison_key(result: CellResult) -> tuple[str, int, str, int | None, bool]:
    """Cells compared with each other: same workload, size, dtype and thread count (a thread
    sweep compares backends at each count; the threads plot says how each scales). The device is not in the
    key on purpose: a CPU run against a GPU run (overlaid in the app) is a fair question. A
    simulated device is: a simulator's timing (numba's CUDA simulator) says nothing about any
    hardware, so simulated cells are compared only with each other, never a baseline for or
    a speed-up against a real cell."""
    s = result.spec
    return (s.workload, s.size, s.dtype, cell_threads(result), result.observed.simulated)


def speedups(
    results: Sequence[CellResult], baseline: str | None = None, labels: Sequence[str] | None = None
) -> list[float | None]:
    """Per result: reference median / its median, where the reference is ``baseline``'s cell
    at the same workload, size and dtype, or the fastest ok cell there when no baseline is given
    (so the fastest shows 1.00x and the rest below 1). ``baseline`` is matched against
    ``labels`` (one per result; default :func:`jitscope.core.labels.cell_label`, e.g.
    ``numpy``, ``numba:parallel``). None where either side has no ok measurement."""
    names = list(labels) if labels is not None else [cell_label(r.spec) for r in results]
    best: dict[tuple[str, int, str, int | None, bool], float] = {}
    base: dict[tuple[str, int, str, int | None, bool], float] = {}
    for r, name in zip(results, names, strict=True):
        if r.status != Status.OK or not r.median_s:
            continue
        key = comparison_key(r)
        best[key] = min(best.get(key, float("inf")), r.median_s)
        if baseline is not None and name == baseline:
            base[key] = r.median_s
    out: list[float | None] = []
    for r in results:
        ref = (base if baseline is not None else best).get(comparison_key(r))
        out.append(ref / r.median_s if ref and r.status == Status.OK and r.median_s else None)
    return out
