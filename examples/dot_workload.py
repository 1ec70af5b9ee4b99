"""An example jitscope plugin: a dot-product workload with two implementations.

Run it with:  jitscope run -w examples/dot_workload.py -b python,numpy -s 1000,100000

A plugin file defines WORKLOAD (or WORKLOADS), and IMPLEMENTATIONS for any backends it wants
(and optionally BACKENDS of its own). To ship it as a package instead, point an entry point
in the ``jitscope.workloads`` group at the WORKLOAD object.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jitscope.core.backend import CellContext, FunctionKernel, Implementation, Kernel
from jitscope.core.model import Accuracy
from jitscope.core.workload import Inputs, Workload, as_float


class Dot(Workload):
    name = "dot"
    description = "dot product of two random vectors (example plugin)"
    size_label = "vector length n"
    default_sizes = (1_000, 100_000)
    result_form = "float"

    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        rng = np.random.default_rng(seed)
        return {"a": rng.standard_normal(size), "b": rng.standard_normal(size)}

    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        return math.fsum(inputs["a"] * inputs["b"])  # exactly rounded float64 reference

    def check(self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str) -> Accuracy:
        scale = float(np.abs(inputs["a"]) @ np.abs(inputs["b"]))  # condition-aware scale
        error = abs(as_float(result) - reference) / scale
        tolerance = 1e-12 if dtype == "float64" else 1e-5
        return Accuracy(error, "rel_error_scaled", tolerance, error <= tolerance)

    def flops(self, size: int, params: dict[str, Any]) -> float:
        return 2.0 * size


def _python(ctx: CellContext) -> Kernel:
    a, b = ctx.inputs["a"].tolist(), ctx.inputs["b"].tolist()

    def run() -> float:
        total = 0.0
        for x, y in zip(a, b, strict=False):
            total += x * y
        return total

    return FunctionKernel(run, notes={"dtype_used": "float64"})


def _numpy(ctx: CellContext) -> Kernel:
    a = ctx.inputs["a"].astype(ctx.dtype)
    b = ctx.inputs["b"].astype(ctx.dtype)
    return FunctionKernel(lambda: a @ b, notes={"dtype_used": ctx.dtype})


WORKLOAD = Dot()
IMPLEMENTATIONS = [
    Implementation("dot", "python", "default", _python, "zip loop", dtypes=("float64",)),
    Implementation("dot", "numpy", "default", _numpy, "a @ b (BLAS ddot)"),
]
