"""A third-party backend in one module: what a new backend takes (tests/test_new_backend.py).

``toy`` runs the ``mcpi`` workload with NumPy and users' own kernels through an adapter;
it is registered only by its entry point (``toybackend-0.1.dist-info/entry_points.txt``).
"""

from __future__ import annotations

from typing import Any

from jitscope.core.backend import (
    Adapter,
    Backend,
    CellContext,
    FunctionKernel,
    Implementation,
    Kernel,
    UserKernel,
)


def _mcpi(ctx: CellContext) -> Kernel:
    import numpy as np

    n, seed = int(ctx.inputs["n"]), int(ctx.inputs["seed"])

    def run() -> Any:
        rng = np.random.default_rng(seed)
        x, y = rng.random(n, dtype=ctx.dtype), rng.random(n, dtype=ctx.dtype)
        return 4.0 * np.count_nonzero(x * x + y * y <= 1.0) / n, x[:1]

    return FunctionKernel(run, compiler=False, fetch=lambda out: out[0])


def _adapt(ctx: CellContext, user: UserKernel, variant: str) -> Kernel:
    data = {k: v.astype(ctx.dtype) if hasattr(v, "astype") else v for k, v in ctx.inputs.items()}
    return FunctionKernel(lambda: user.fn(**data), compiler=False)


BACKEND = Backend(
    name="toy",
    description="a toy backend from a test plugin package",
    requires=("numpy",),
    implementations=(Implementation("mcpi", "toy", "default", _mcpi, "NumPy, one chunk"),),
    adapter=Adapter(_adapt),
)
