"""Running one cell inside a worker: inputs, reference, build, transfer, measure, check.

This is the code path of ``jitscope.runner.child``; tests also call :func:`execute_cell`
in-process to check a backend's kernels without spawning anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jitscope.core.backend import CellContext, Implementation, Kernel, SkipCell
from jitscope.core.dtypes import dtype_of
from jitscope.core.memory import PeakWatch
from jitscope.core.model import Accuracy, CellResult, CellSpec, Observations, Phase, Stats, Status
from jitscope.core.registry import Registry
from jitscope.core.stats import summarize
from jitscope.core.timing import Measurement, measure, near_floor_note
from jitscope.core.workload import Workload

PhaseCallback = Callable[[Phase, float], None]

_ITEMSIZE = {"float64": 8, "float32": 4}
RETIRED_NOTES = frozenset({"dtype_used", "cache"})  # observations now (Observations)


def _short_traceback(exc: BaseException, limit: int = 6) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(lines).strip().splitlines()[-limit:]
    return " | ".join(line.strip() for line in tail)


def execute_cell(
    spec: CellSpec,
    registry: Registry,
    backend_info: dict[str, Any] | None = None,
    on_phase: PhaseCallback | None = None,
) -> CellResult:
    """Measure one cell. Never raises for a problem inside the cell: it becomes the status.
    A cell on a device the worker reported as simulated (``simulated_devices``: numba's CUDA
    simulator) is marked so whatever its status, skipped and failed cells included."""
    result = _execute(spec, registry, backend_info, on_phase)
    if spec.device in (backend_info or {}).get("simulated_devices", ()):
        result.observed = dataclasses.replace(result.observed, simulated=True)
    return result


def _execute(
    spec: CellSpec,
    registry: Registry,
    backend_info: dict[str, Any] | None,
    on_phase: PhaseCallback | None,
) -> CellResult:
    report = on_phase or (lambda phase, fraction: None)
    backend_info = backend_info or {}
    info = _configured_info(spec, backend_info)
    startup = backend_info.get("startup_s")
    startup_s = float(startup) if isinstance(startup, (int, float)) else None

    impl = registry.find(spec.workload, spec.backend, spec.variant)
    reason = registry.missing_implementation(spec) if impl is None else _refusal(spec, impl, backend_info)
    if impl is None or reason:
        return CellResult.skipped(spec, reason, **info)
    return _run_cell(spec, registry.workload(spec.workload), impl, info, (startup_s, backend_info.get("harness_floor")),
                     report)


def _configured_info(spec: CellSpec, backend_info: dict[str, Any]) -> dict[str, Any]:
    """The cell's ``info`` before it runs: the backend's version and the thread setting."""
    info: dict[str, Any] = {}
    if "version" in backend_info:
        info["backend_version"] = backend_info["version"]
    # ``threads`` is configuration, never use: the --threads cap (None: the libraries' own
    # choice), replaced below by the runtime's own setting when a backend notes one (torch's
    # or Numba's pool, 1 for pure Python). What the kernel really used is ``cpu_util``.
    info["threads"] = spec.threads
    return info


def _refusal(spec: CellSpec, impl: Implementation, backend_info: dict[str, Any]) -> str:
    """Why this implementation will not run this cell ("" when it will): its own refusal, or a
    device the worker cannot see."""
    refusal = impl.refusal(spec)
    if refusal:
        return refusal
    devices = backend_info.get("devices")
    if devices is not None and spec.device not in devices:
        why = backend_info.get("device_reasons", {}).get(spec.device, "")
        return f"no {spec.device} device visible to {spec.backend}" + (f" ({why})" if why else "")
    return ""


@dataclass
class _Measured:
    """What running the built kernel gave: the measurement and what was watched around it."""

    m: Measurement
    transfer_s: float
    fell_back: str | None
    peak_host: int | None
    peak_device: int | None
    fresh: bool  # a fresh copy of the inputs before each call (each call timed on its own)


def _run_cell(spec: CellSpec, workload: Workload, impl: Implementation, info: dict[str, Any],
              worker: tuple[float | None, Any], report: PhaseCallback) -> CellResult:
    """Inputs, reference, build, transfer, measure, check; a failure inside is the cell's
    status (with the kernel's own explanation when it has one), and the kernel is always closed.
    ``worker``: its start-up seconds and its harness floor (child._record_floor)."""
    startup_s, worker_floor = worker
    kernel = None
    try:
        params = workload.resolve_params(spec.params_dict)
        inputs = workload.make_inputs(spec.size, params, spec.seed)
        reference = workload.reference(inputs, spec.size, params)
        ctx = CellContext(spec=spec, workload=workload, params=params, inputs=inputs, threads=spec.threads)
        try:
            kernel = impl.build(ctx)
        except SkipCell as skip:
            return CellResult.skipped(spec, str(skip), **info)
        run = _transfer_and_measure(spec, kernel, report)
        report(Phase.CHECKING, 1.0)
        dtype_used = dtype_of(kernel.ran_with(run.m.last_output))
        fetched = kernel.fetch(run.m.last_output)
        accuracy = workload.check(fetched, reference, inputs, spec.size, params, spec.dtype)
        stats = summarize(run.m.samples, run.m.loops, run.m.cpu_contention)
        _note_what_was_seen(info, kernel, run.m, accuracy)
        _note_floor(info, backend_floor(worker_floor, run.fresh), stats.median)
        flops = workload.flops(spec.size, params)
        moved = workload.bytes_moved(spec.size, params, _ITEMSIZE.get(dtype_used, _ITEMSIZE[spec.dtype]))
        return _measured_result(spec, run, stats, accuracy, dtype_used, (flops, moved), info, startup_s)
    except MemoryError:
        return CellResult(spec=spec, status=Status.FAILED, reason="out of memory", info=info,
                          observed=Observations(startup_s=startup_s))
    except Exception as exc:  # a backend bug is a failed cell, never a dead sweep
        return _crashed_result(spec, exc, kernel, info, startup_s)
    finally:
        if kernel is not None:
            with contextlib.suppress(Exception):
                kernel.close()


def _transfer_and_measure(spec: CellSpec, kernel: Kernel, report: PhaseCallback) -> _Measured:
    """Move the inputs (timed on its own), then measure, watching host (and device) memory
    peaks above what inputs, reference and kernel already hold, and compile fallbacks."""
    on_device = spec.device != "cpu"  # on the CPU, host memory covers it all
    host_peak = PeakWatch()
    host_peak.start()  # inputs, reference and kernel exist already: the baseline holds them
    if on_device:
        kernel.reset_device_peak()
    report(Phase.TRANSFER, 0.0)
    t0 = time.perf_counter()
    kernel.transfer()
    transfer_s = time.perf_counter() - t0

    watch = kernel.compile_watch()
    before_call = kernel.before_each_call()
    m = measure(kernel.run, kernel.sync, budget_s=spec.budget_s, progress=report, first_call_watch=watch,
                before_call=before_call)
    fell_back = watch.fell_back()
    peak_host = host_peak.peak_above_baseline()
    peak_device = kernel.device_peak_bytes() if on_device else None
    return _Measured(m, transfer_s, fell_back, peak_host, peak_device, before_call is not None)


def _note_what_was_seen(info: dict[str, Any], kernel: Kernel, m: Measurement, accuracy: Accuracy) -> None:
    # A backend's own notes stay in ``info`` (its record: layout, RNG, sync...), except
    # the retired ones that named an observation: a note saying "float32" or "cache hit"
    # was the backend's belief; ``observed`` holds what was seen.
    info.update({k: v for k, v in kernel.notes.items() if v is not None and k not in RETIRED_NOTES})
    if m.compile.detail:
        info["compile_detail"] = m.compile.detail
    info["warmup_calls"] = m.warmup_calls
    if m.note:
        info["note"] = m.note
    if accuracy.detail:
        info["accuracy_detail"] = accuracy.detail


def backend_floor(worker_floor: Any, fresh: bool) -> float | None:
    """The worker's harness floor for this cell's way of timing (None: not measured)."""
    if not isinstance(worker_floor, dict):
        return None
    value = worker_floor.get("fresh_s" if fresh else "resident_s")
    return float(value) if isinstance(value, (int, float)) else None


def _note_floor(info: dict[str, Any], floor_s: float | None, median_s: float) -> None:
    """Record the floor with the cell, and say so where the median comes near it."""
    if floor_s is None:
        return
    info["harness_floor_s"] = floor_s
    add_note(info, near_floor_note(median_s, floor_s))


def add_note(info: dict[str, Any], text: str) -> None:
    """Append ``text`` to the cell's ``note`` ("; " between notes)."""
    if text:
        info["note"] = "; ".join(str(n) for n in (info.get("note"), text) if n)


def _failure_reasons(fell_back: str | None, accuracy: Accuracy) -> list[str]:
    """Why a cell that ran is failed anyway: a compile fallback, an answer out of tolerance."""
    reasons = [fell_back] if fell_back else []
    if not accuracy.accurate:
        reasons.append(
            f"inaccurate: {accuracy.metric} {accuracy.error:.3g} > tolerance {accuracy.tolerance:.3g}"
            + (f" ({accuracy.detail})" if accuracy.detail else "")
        )
    return reasons


def _measured_result(spec: CellSpec, run: _Measured, stats: Stats, accuracy: Accuracy, dtype_used: str,
                     work: tuple[float | None, float | None], info: dict[str, Any],
                     startup_s: float | None) -> CellResult:
    """The result of a cell that ran to the end: OK, or FAILED with its reasons."""
    m = run.m
    flops, moved = work
    median = stats.median
    reasons = _failure_reasons(run.fell_back, accuracy)
    return CellResult(
        spec=spec,
        status=Status.FAILED if reasons else Status.OK,
        reason="; ".join(reasons),
        first_call_s=m.first_call_s,
        # Only when the library said it compiled: otherwise first call - median is noise.
        compile_s=max(0.0, m.first_call_s - median) if m.compile.compiled == "yes" else None,
        transfer_s=run.transfer_s,
        stats=stats,
        accuracy=accuracy,
        gflops=(flops / median / 1e9) if flops and median > 0 else None,
        gbs=(moved / median / 1e9) if moved and median > 0 else None,
        info=info,
        observed=Observations(
            startup_s=startup_s,
            compiled=m.compile.compiled,
            cache=m.compile.cache,
            graph_breaks=m.compile.graph_breaks,
            peak_host_bytes=run.peak_host,
            peak_device_bytes=run.peak_device,
            cpu_util=m.cpu_util,
            cpu_contention=m.cpu_contention,
            dtype_used=dtype_used,
        ),
        raw_samples=tuple(m.samples),
    )


def _crashed_result(spec: CellSpec, exc: Exception, kernel: Kernel | None, info: dict[str, Any],
                    startup_s: float | None) -> CellResult:
    """A cell whose code raised: the kernel's own explanation when it has one, else the error."""
    explained = None
    if kernel is not None:
        with contextlib.suppress(Exception):
            explained = kernel.explain(exc)
    return CellResult(
        spec=spec,
        status=Status.FAILED,
        reason=(explained or f"{type(exc).__name__}: {exc}").strip()[:500],
        info={**info, "traceback": _short_traceback(exc)},
        observed=Observations(startup_s=startup_s),
    )
