"""Pure Python: the honest baseline (lists, loops, ``random``). Float64 only, since that is
what a Python float is; a float32 cell is skipped rather than mislabelled.

The built-in workloads' python kernels are plain functions in their own files, run by this
adapter as a user's are (``python:seed`` keeps a build: ``_seeds.py``)."""

from __future__ import annotations

import platform
from typing import Any

from jitscope.backends._observe import python_floats
from jitscope.core.backend import Adapter, Backend, CellContext, FunctionKernel, Kernel, UserKernel


def _info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "devices": ["cpu"],
    }


_F64 = ("float64",)

def _adapt(ctx: CellContext, user: UserKernel, variant: str) -> Kernel:
    """A user's pure-Python kernel. With ``lists=True`` it gets Python lists (nested for
    2-D), converted in the transfer, not timed as the kernel; else the float64 NumPy arrays."""
    from jitscope.backends._adapt import cast_inputs, to_numpy

    lists = bool(user.option("lists", False))
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, (lambda a: a.tolist()) if lists else (lambda a: a),
                                (lambda a: a.tolist()) if lists else None))

    def run() -> Any:
        return user.fn(**data)

    def ran_with(out: Any) -> Any:
        if isinstance(out, (list, tuple, float)):
            seen = python_floats(out if isinstance(out, (list, tuple)) else [out])
            if seen is not None or lists:
                return seen
        return out  # NumPy arrays or scalars the kernel made from the float64 inputs

    # A list kernel's arguments are rebuilt each call, never compared: no arguments to check.
    kernel = FunctionKernel(run, compiler=False, transfer=transfer, fetch=to_numpy, ran_with=ran_with,
                            notes={"layout": "Python lists" if lists else "float64 NumPy arrays"},
                            arguments=None if lists else data)
    return kernel


BACKEND = Backend(
    name="python",
    description="pure Python loops and lists: the baseline",
    devices=("cpu",),
    info=_info,
    # Python floats are C doubles: a float32 cell would be a float64 run with a wrong label.
    adapter=Adapter(_adapt, variants=("default",), dtypes=_F64, options=("lists",)),
)
