"""A backend whose cells the test holds back, to cut a run at a known place and resume it.

Loaded as a plugin file (-w); every variant implements the ``mcpi`` workload. ``gated``
waits while the file named by ``JITSCOPE_TEST_GATE`` exists (the test removes it to let the
cell finish), so a run can be cut while that cell runs and resumed once the gate is open.
"""

from __future__ import annotations

import os
import time

from jitscope.core.backend import Backend, CellContext, FunctionKernel, Implementation, Kernel

PI = 3.141592653589793


def _fine(ctx: CellContext) -> Kernel:
    return FunctionKernel(lambda: PI)


def _gated(ctx: CellContext) -> Kernel:
    gate = os.environ.get("JITSCOPE_TEST_GATE", "")

    def run() -> float:
        while gate and os.path.exists(gate):
            time.sleep(0.05)
        return PI

    return FunctionKernel(run)


def _fails(ctx: CellContext) -> Kernel:
    def run() -> float:
        raise RuntimeError("this cell always fails")

    return FunctionKernel(run)


_VARIANTS = {"fine": _fine, "gated": _gated, "fails": _fails}

BACKENDS = [
    Backend(
        name="gate",
        description="cells a test can hold back (tests only)",
        implementations=tuple(Implementation("mcpi", "gate", v, f) for v, f in _VARIANTS.items()),
        default_variant="fine",
        info=lambda: {"version": "0", "devices": ["cpu"]},
    ),
]
