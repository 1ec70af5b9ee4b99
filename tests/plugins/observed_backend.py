"""A backend whose kernels say exactly what a test wants observed (compile, dtype, memory,
start-up), for checking that the engine reports observations and nothing else.

Loaded as a plugin file (-w). Workload ``echo``: the inputs are ``n`` ones, one call returns
an array of them; the check compares the sum with ``n``; one call "moves" itemsize x n bytes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from jitscope.core.backend import (
    Backend,
    CellContext,
    CompileObservation,
    CompileWatch,
    Implementation,
    Kernel,
    NothingCompiles,
)
from jitscope.core.model import Accuracy
from jitscope.core.workload import Inputs, Workload

FIRST_CALL_SLEEP_S = 0.05
STARTUP_SLEEP_S = 0.5
DEVICE_PEAK = 123_456_789


class Echo(Workload):
    name = "echo"
    description = "n ones back (tests only)"
    default_sizes = (10,)

    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        return {"x": np.ones(size)}

    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        return float(size)

    def check(self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str) -> Accuracy:
        error = abs(float(np.sum(result)) - reference)
        return Accuracy(error, "abs_error_sum", 0.5, error <= 0.5)

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float:
        return float(itemsize * size)


class Said(CompileWatch):
    """A watch that reports what it was told, and records when it was asked."""

    def __init__(self, kernel: EchoKernel, said: CompileObservation) -> None:
        self.kernel, self.said = kernel, said

    def start(self) -> None:
        self.kernel.log.append("watch.start")

    def stop(self) -> CompileObservation:
        self.kernel.log.append("watch.stop")
        return self.said


class EchoKernel(Kernel):
    """Returns the inputs cast to ``dtype`` (whatever the cell asked for); its first call
    sleeps FIRST_CALL_SLEEP_S, like a compilation would take time."""

    def __init__(self, ctx: CellContext, dtype: str, watch: CompileObservation | None, notes: dict[str, Any]) -> None:
        super().__init__()
        self.x = ctx.inputs["x"].astype(dtype)
        self.said = watch
        self.calls = 0
        self.log: list[str] = []
        self.notes.update(notes)

    def run(self) -> Any:
        self.calls += 1
        if self.calls == 1:
            self.log.append("first call")
            time.sleep(FIRST_CALL_SLEEP_S)
        return self.x.copy()

    def compile_watch(self) -> CompileWatch:
        return Said(self, self.said) if self.said is not None else super().compile_watch()

    def transfer(self) -> None:
        self.log.append("transfer")

    def reset_device_peak(self) -> None:
        self.log.append("reset_device_peak")

    def device_peak_bytes(self) -> int | None:
        self.log.append("device_peak_bytes")
        return DEVICE_PEAK


LAST: list[EchoKernel] = []  # in-process tests read the kernel's log here


def _kernel(dtype: str | None = None, watch: CompileObservation | None = None, **notes: Any) -> Any:
    def build(ctx: CellContext) -> Kernel:
        kernel = EchoKernel(ctx, dtype or ctx.dtype, watch, notes)
        LAST[:] = [kernel]
        return kernel

    return build


class NoCompilerKernel(EchoKernel):
    def compile_watch(self) -> CompileWatch:
        return NothingCompiles()


def _nothing(ctx: CellContext) -> Kernel:
    return NoCompilerKernel(ctx, ctx.dtype, None, {})


_VARIANTS = {
    "compiles": _kernel(watch=CompileObservation("yes", "miss", graph_breaks=2, detail="built one kernel")),
    "cached": _kernel(watch=CompileObservation("no", "hit")),
    "silent": _kernel(),  # the default watch: the library gave no signal
    "nothing": _nothing,
    # asked for float64, ran float32; its notes still claim float64 and a cache hit
    "float32": _kernel(dtype="float32", dtype_used="float64", cache="hit", layout="C"),
}


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    time.sleep(STARTUP_SLEEP_S)  # a runtime that takes a while to initialise
    return {"device": device, "variants": list(variants)}


WORKLOADS = [Echo()]
BACKENDS = [
    Backend(
        name="observer",
        description="says what a test wants observed (tests only)",
        implementations=tuple(Implementation("echo", "observer", v, f, devices=("cpu", "cuda")) for v, f in _VARIANTS.items()),
        default_variant="silent",
        info=lambda: {"version": "1", "devices": ["cpu", "cuda"]},
        devices=("cpu", "cuda"),
        startup=_startup,
    ),
]
