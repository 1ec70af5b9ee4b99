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
from typing import Any

from jitscope.core.backend import CellContext, SkipCell
from jitscope.core.dtypes import dtype_of
from jitscope.core.memory import PeakWatch
from jitscope.core.model import CellResult, CellSpec, Observations, Phase, Status
from jitscope.core.registry import Registry
from jitscope.core.stats import summarize
from jitscope.core.timing import measure

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
    info: dict[str, Any] = {}
    backend_info = backend_info or {}
    if "version" in backend_info:
        info["backend_version"] = backend_info["version"]
    # ``threads`` is configuration, never use: the --threads cap (None: the libraries' own
    # choice), replaced below by the runtime's own setting when a backend notes one (torch's
    # or Numba's pool, 1 for pure Python). What the kernel really used is ``cpu_util``.
    info["threads"] = spec.threads
    startup = backend_info.get("startup_s")
    startup_s = float(startup) if isinstance(startup, (int, float)) else None

    impl = registry.find(spec.workload, spec.backend, spec.variant)
    if impl is None:
        return CellResult.skipped(spec, registry.missing_implementation(spec), **info)
    refusal = impl.refusal(spec)
    if refusal:
        return CellResult.skipped(spec, refusal, **info)
    devices = backend_info.get("devices")
    if devices is not None and spec.device not in devices:
        why = backend_info.get("device_reasons", {}).get(spec.device, "")
        reason = f"no {spec.device} device visible to {spec.backend}" + (f" ({why})" if why else "")
        return CellResult.skipped(spec, reason, **info)

    workload = registry.workload(spec.workload)
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
        m = measure(kernel.run, kernel.sync, budget_s=spec.budget_s, progress=report, first_call_watch=watch,
                    before_call=kernel.before_each_call())
        fell_back = watch.fell_back()
        peak_host = host_peak.peak_above_baseline()
        peak_device = kernel.device_peak_bytes() if on_device else None
        report(Phase.CHECKING, 1.0)
        dtype_used = dtype_of(kernel.ran_with(m.last_output))
        fetched = kernel.fetch(m.last_output)
        accuracy = workload.check(fetched, reference, inputs, spec.size, params, spec.dtype)
        stats = summarize(m.samples, m.loops, m.cpu_contention)
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
        flops = workload.flops(spec.size, params)
        moved = workload.bytes_moved(spec.size, params, _ITEMSIZE.get(dtype_used, _ITEMSIZE[spec.dtype]))
        median = stats.median
        reasons = [fell_back] if fell_back else []
        if not accuracy.accurate:
            reasons.append(
                f"inaccurate: {accuracy.metric} {accuracy.error:.3g} > tolerance {accuracy.tolerance:.3g}"
                + (f" ({accuracy.detail})" if accuracy.detail else "")
            )
        status = Status.FAILED if reasons else Status.OK
        reason = "; ".join(reasons)
        return CellResult(
            spec=spec,
            status=status,
            reason=reason,
            first_call_s=m.first_call_s,
            # Only when the library said it compiled: otherwise first call - median is noise.
            compile_s=max(0.0, m.first_call_s - median) if m.compile.compiled == "yes" else None,
            transfer_s=transfer_s,
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
                peak_host_bytes=peak_host,
                peak_device_bytes=peak_device,
                cpu_util=m.cpu_util,
                cpu_contention=m.cpu_contention,
                dtype_used=dtype_used,
            ),
            raw_samples=tuple(m.samples),
        )
    except MemoryError:
        return CellResult(spec=spec, status=Status.FAILED, reason="out of memory", info=info,
                          observed=Observations(startup_s=startup_s))
    except Exception as exc:  # a backend bug is a failed cell, never a dead sweep
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
    finally:
        if kernel is not None:
            with contextlib.suppress(Exception):
                kernel.close()
