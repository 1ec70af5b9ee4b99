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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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
