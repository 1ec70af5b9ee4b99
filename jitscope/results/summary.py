"""Derived numbers shown next to results: speed-ups against a baseline or the fastest."""

from __future__ import annotations

from collections.abc import Sequence

from jitscope.core.model import CellResult, Status
from jitscope.plots import series_label


def comparison_key(result: CellResult) -> tuple[str, int, str, str]:
    s = result.spec
    return (s.workload, s.size, s.dtype, s.device)


def speedups(results: Sequence[CellResult], baseline: str | None = None) -> list[float | None]:
    """Per result: reference median / its median, where the reference is ``baseline``'s cell
    (a label like ``numpy`` or ``numba:parallel``) at the same workload, size, dtype and device,
    or the fastest ok cell there when no baseline is given (so the fastest shows 1.00x and the
    rest below 1). None where either side has no ok measurement."""
    best: dict[tuple[str, int, str, str], float] = {}
    base: dict[tuple[str, int, str, str], float] = {}
    for r in results:
        if r.status != Status.OK or not r.median_s:
            continue
        key = comparison_key(r)
        best[key] = min(best.get(key, float("inf")), r.median_s)
        if baseline is not None and (series_label(r) == baseline or r.spec.backend == baseline and r.spec.variant == "default"):
            base[key] = r.median_s
    out: list[float | None] = []
    for r in results:
        ref = (base if baseline is not None else best).get(comparison_key(r))
        out.append(ref / r.median_s if ref and r.status == Status.OK and r.median_s else None)
    return out
