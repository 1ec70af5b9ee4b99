"""Observation helpers shared by the backends (light: no heavy import at module level).

Three things a cell reports are read from what really happened, and each backend supplies
the part only it can see (docs/design.md §2, "observation hooks"):

* which arrays ran (``Kernel.ran_with``): usually the output; for a kernel whose output is a
  count or a float64 accumulator, a *probe* — a slice of the data the kernel itself
  generated or factored, returned next to the result — so the dtype is read from data that
  went through the kernel, never from the request;
* the device allocator's peak (``Kernel.reset_device_peak`` / ``device_peak_bytes``), through a
  small :class:`~jitscope.core.backend.DevicePeak` per library;
* compilation (``Kernel.compile_watch``), through each library's own counters.

:class:`~jitscope.core.backend.FunctionKernel` takes all three as keywords (``ran_with=``,
``device_peak=``, ``watch=``), so a backend states them where it builds the kernel.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


class TorchCudaPeak:
    """The CUDA caching allocator's high-water mark: ``reset_peak_memory_stats`` before the
    cell, ``max_memory_allocated`` after (tensors, not the allocator's cached reserve). Torch
    and Triton both read it: Triton's tensors are torch's."""

    def __init__(self, device: Any) -> None:
        self._device = device

    def reset(self) -> None:
        import torch

        torch.cuda.reset_peak_memory_stats(self._device)

    def peak(self) -> int | None:
        import torch

        return int(torch.cuda.max_memory_allocated(self._device))


class OncePerWorker:
    """A library hook (a compile listener, an event counter) registered at most once per
    worker process: calling it registers on the first call and answers, then and after,
    whether the hook is in place (False: the library lacks the API, so the watch says
    ``unknown`` rather than guessing)."""

    def __init__(self, register: Callable[[], None],
                 missing: tuple[type[BaseException], ...] = (ImportError, AttributeError)) -> None:
        self._register = register
        self._missing = missing
        self._ok: bool | None = None

    def __call__(self) -> bool:
        if self._ok is None:
            try:
                self._register()
                self._ok = True
            except self._missing:
                self._ok = False
        return self._ok


@dataclass(frozen=True)
class SeenDtype:
    """A dtype observed where no array exists to carry it: Python floats, or the element type
    a foreign runtime (the Julia server) reported for the data it computed with.
    ``jitscope.core.dtypes.dtype_of`` reads ``.dtype`` like an array's."""

    dtype: str


def python_floats(values: Iterable[Any]) -> SeenDtype | None:
    """What a pure-Python kernel computed with: Python floats are C doubles, and the width is
    read from the interpreter (``sys.float_info.mant_dig``: 53 bits = float64), not assumed.
    Anything that is not a Python float gives no dtype at all (``None``: unknown)."""
    items = list(values)
    if not items or not all(type(v) is float for v in items):
        return None
    name = {53: "float64", 24: "float32"}.get(sys.float_info.mant_dig)
    return SeenDtype(name) if name else None
