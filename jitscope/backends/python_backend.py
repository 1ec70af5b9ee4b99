"""Pure Python: the honest baseline (lists, loops, ``random``). Float64 only, since that is
what a Python float is; a float32 cell is skipped rather than mislabelled."""

from __future__ import annotations

import math
import platform
import random
from typing import Any

from jitscope.backends._observe import python_floats
from jitscope.core.backend import Adapter, Backend, CellContext, FunctionKernel, Kernel, UserKernel

RNG_NOTE = "random.Random (Mersenne Twister)"


def _ran_with(out: Any) -> Any:
    """The floats the kernel returned: Python floats say their own width (see
    ``python_floats``); a result that is not made of floats gives no dtype."""
    return python_floats(out if isinstance(out, (list, tuple)) else [out])


def _kernel(run: Any, **kwargs: Any) -> Kernel:
    """Pure Python has no compiler: a first call is known not to compile."""
    return FunctionKernel(run, compiler=False, ran_with=_ran_with, **kwargs)


def _linreg(ctx: CellContext) -> Kernel:
    data: dict[str, Any] = {}
    n_epochs = int(ctx.inputs["epochs"])
    mu = float(ctx.inputs["mu"])

    def transfer() -> None:
        data["X"] = ctx.inputs["X"].tolist()
        data["y"] = ctx.inputs["y"].tolist()

    def run() -> list[float]:
        X: list[list[float]] = data["X"]
        y: list[float] = data["y"]
        n = len(X)
        d = len(X[0])
        w = [0.0] * d
        scale = 2.0 / n
        for _ in range(n_epochs):
            g = [0.0] * d
            for i in range(n):
                row = X[i]
                r = -y[i]
                for j in range(d):
                    r += row[j] * w[j]
                for j in range(d):
                    g[j] += row[j] * r
            for j in range(d):
                w[j] -= mu * scale * g[j]
        return w

    return _kernel(run, transfer=transfer, notes={"layout": "list of rows", "threads": 1})


def _mcpi(ctx: CellContext) -> Kernel:
    n = int(ctx.inputs["n"])
    seed = int(ctx.inputs["seed"])

    def run() -> float:
        rnd = random.Random(seed).random
        inside = 0
        for _ in range(n):
            x = rnd()
            y = rnd()
            if x * x + y * y <= 1.0:
                inside += 1
        return 4.0 * inside / n

    return _kernel(run, notes={"rng": RNG_NOTE, "threads": 1})


def _lu(ctx: CellContext) -> Kernel:
    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = ctx.inputs["A"].tolist()

    def run() -> tuple[float, float]:
        a = [row[:] for row in data["A"]]
        n = len(a)
        for k in range(n - 1):
            pivot_row = a[k]
            pivot = pivot_row[k]
            for i in range(k + 1, n):
                row = a[i]
                factor = row[k] / pivot
                row[k] = factor
                for j in range(k + 1, n):
                    row[j] -= factor * pivot_row[j]
        sign = 1.0
        logdet = 0.0
        for k in range(n):
            u = a[k][k]
            if u < 0:
                sign = -sign
            logdet += math.log(abs(u))
        return sign, logdet

    return _kernel(run, transfer=transfer, notes={"layout": "list of rows", "threads": 1})


class Node:
    """The object the ``nodes`` workload is about: a key and a bias."""

    def __init__(self, key: int, bias: float) -> None:
        self.key = key
        self.bias = bias


def _nodes(ctx: CellContext) -> Kernel:
    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    seed = int(ctx.inputs["seed"])

    def run() -> float:
        rnd = random.Random(seed).random
        nodes = [Node(i, 0.5) for i in range(n)]
        for node in nodes:
            if rnd() < p:
                node.bias += rnd()
        total = 0.0
        for node in nodes:
            total += node.bias
        return total

    return _kernel(run, notes={"rng": RNG_NOTE, "layout": "list of objects", "threads": 1})


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
