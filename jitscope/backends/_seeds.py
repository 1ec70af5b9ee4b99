"""Seed-faithful kernels: the algorithms of the published comparisons jitscope's workloads come
from, written the way those posts wrote them (``python:seed``, ``numpy:seed``; the Numba ones
are in ``_numba_seeds``). jitscope's own kernels are tuned; these exist so a published ratio
can be compared with a ratio measured here on the *same* code (``benchmarks/seeds.py``).

None of this is a verbatim copy. Each kernel follows its source's loop structure, data
structures and operations, and differs only where the workload's contract requires it
(inputs come from the workload; the determinant is returned as sign and log|det| because the
plain product the posts accumulate overflows float64 past n = 143 on these matrices):

* ``linreg`` — Renato Candido, "Pure Python vs NumPy vs TensorFlow Performance Comparison",
  Real Python (2018): gradient descent for y = w0 + w1*x (d = 2 only), N = 10,000,
  10,000 epochs; published 18.65 s (pure Python, lists and generators) vs 0.32 s (NumPy).
* ``lu`` — the determinant-by-LU loops of the "C, Julia, Python, Numba, Cython on LU
  factorization" comparison (element-by-element triple loop, ``python:seed``) and of a Numba
  article ("Supersonic Tensor Processing in Python with JIT compilation"): a Python loop over
  rows updating NumPy row slices (``numpy:seed``), the same function under ``@numba.jit``
  (``numba:seed``), published as about 23x faster than the NumPy loop at 10x10.
* ``mcpi`` — the π post itself was not found; ``python:seed`` is the textbook plain-Python
  loop that the Numba documentation and many posts show (``random.random()``,
  ``x**2 + y**2 < 1.0``), ``numba:seed`` the same loop under ``@njit``.
* ``nodes`` — the nodes post was not found; ``python:seed`` is a textbook Python class with
  a ``mutate`` method, ``numba:seed`` its textbook ``@jitclass`` counterpart.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from jitscope.backends._observe import python_floats
from jitscope.core.backend import CellContext, FunctionKernel, Kernel, SkipCell

SEED_NOTE = "seed-faithful: the published code's algorithm as posted (see jitscope/backends/_seeds.py)"


def _python_kernel(run: Any, **kwargs: Any) -> Kernel:
    return FunctionKernel(run, compiler=False, **kwargs)


def _two_parameters(ctx: CellContext) -> None:
    if ctx.size != 2:
        raise SkipCell("the published gradient descent fits y = w0 + w1*x only (d = 2)")


# ---- linreg (Real Python) -----------------------------------------------------------------
def linreg_python(ctx: CellContext) -> Kernel:
    """Lists and generators as in the post: per epoch, ``err`` is a tuple of ``d - y`` (it is
    read twice), both gradient components are generator sums, ``w`` is rebuilt by a list
    comprehension and ``y`` is a lazy generator over x. ``w`` and ``y`` start as ints, as
    posted. The post's step ``w + mu*grad`` with ``err = d - y`` is the workload's epoch."""
    _two_parameters(ctx)
    data: dict[str, Any] = {}
    mu = float(ctx.inputs["mu"])
    epochs = int(ctx.inputs["epochs"])

    def transfer() -> None:
        data["x"] = ctx.inputs["X"][:, 1].tolist()
        data["d"] = ctx.inputs["y"].tolist()

    def run() -> list[float]:
        x, d = data["x"], data["d"]
        f = 2 / len(x)
        y: Any = [0] * len(x)
        w: list[float] = [0, 0]
        grad: list[float] = [0, 0]
        for _ in itertools.repeat(None, epochs):
            err = tuple(i - j for i, j in zip(d, y, strict=False))
            grad[0] = f * sum(err)
            grad[1] = f * sum(i * j for i, j in zip(err, x, strict=False))
            w = [i + mu * j for i, j in zip(w, grad, strict=True)]
            y = (w[0] + w[1] * i for i in x)
        return w

    return _python_kernel(run, transfer=transfer, ran_with=python_floats,
                          notes={"layout": "lists, tuples and generators (as posted)", "seed": SEED_NOTE, "threads": 1})


def linreg_numpy(ctx: CellContext) -> Kernel:
    """NumPy as in the post: 1-D ``x`` and ``d``, ``np.subtract(d, y, out=err)``, the gradient
    as ``np.sum(err)`` and ``err @ x`` written into ``grad[:]``, ``w = w + mu*grad`` and
    ``y = w[0] + w[1]*x`` (a new array per epoch). Float64, as posted."""
    import numpy as np

    _two_parameters(ctx)
    data: dict[str, Any] = {}
    mu = float(ctx.inputs["mu"])
    epochs = int(ctx.inputs["epochs"])

    def transfer() -> None:
        data["x"] = np.ascontiguousarray(ctx.inputs["X"][:, 1])
        data["d"] = np.ascontiguousarray(ctx.inputs["y"])

    def run() -> Any:
        x, d = data["x"], data["d"]
        n = len(x)
        f = 2 / n
        y = np.zeros(n)
        err = np.zeros(n)
        w = np.zeros(2)
        grad = np.empty(2)
        for _ in itertools.repeat(None, epochs):
            np.subtract(d, y, out=err)
            grad[:] = f * np.sum(err), f * (err @ x)
            w = w + mu * grad
            y = w[0] + w[1] * x
        return w

    return _python_kernel(run, transfer=transfer, notes={"layout": "1-D x and d (as posted)", "seed": SEED_NOTE})


# ---- lu (the LU comparison and the Numba article) -----------------------------------------
def _accumulate(sign: float, logdet: float, pivot: float) -> tuple[float, float]:
    """The posts multiply the pivots into ``y``; the product overflows here, so the same
    pivots are accumulated as a sign and a sum of logs."""
    return (-sign if pivot < 0 else sign), logdet + math.log(abs(pivot))


def lu_python(ctx: CellContext) -> Kernel:
    """The comparison's Python ``det_by_lu``: a triple loop indexing one element of a NumPy
    array at a time (``x[i, k] /= x[k, k]``, ``x[i, j] -= x[i, k] * x[k, j]``), on a fresh
    copy of A per call as its driver did."""
    import numpy as np

    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = np.ascontiguousarray(ctx.inputs["A"], dtype=np.float64)

    def run() -> Any:
        x = data["A"].copy()
        n = x.shape[0]
        sign, logdet = 1.0, 0.0
        for k in range(n):
            sign, logdet = _accumulate(sign, logdet, x[k, k])
            for i in range(k + 1, n):
                x[i, k] /= x[k, k]
                for j in range(k + 1, n):
                    x[i, j] -= x[i, k] * x[k, j]
        return (float(sign), float(logdet)), x

    return _python_kernel(run, transfer=transfer, fetch=lambda out: out[0], ran_with=lambda out: out[1],
                          notes={"layout": "element indexing into a NumPy array (as posted)", "seed": SEED_NOTE,
                                 "threads": 1})


def lu_numpy_loop(A: Any) -> tuple[tuple[float, float], Any]:
    """The Numba article's ``numpy_LUdet`` loop, in place on ``A``: for each row i below the
    pivot, ``A[j][i] = A[j][i] / A[i][i]`` and the row-slice update
    ``A[j][i+1:] = A[j][i+1:] - (A[j][i] * A[i][i+1:])`` (a temporary per row). The post's
    ``np.errstate(invalid='ignore')`` wrapper is left out: it changes nothing on these
    matrices, and Numba cannot compile it (so ``numba:seed`` could not share it)."""
    n = A.shape[0]
    sign, logdet = 1.0, 0.0
    for i in range(n):
        sign, logdet = _accumulate(sign, logdet, A[i, i])
        for j in range(i + 1, n):
            A[j][i] = A[j][i] / A[i][i]
            A[j][i + 1 :] = A[j][i + 1 :] - (A[j][i] * A[i][i + 1 :])
    return (float(sign), float(logdet)), A


def lu_numpy(ctx: CellContext) -> Kernel:
    """``numpy:seed``: the Numba article's NumPy loop on a fresh copy of A per call."""
    import numpy as np

    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = np.ascontiguousarray(ctx.inputs["A"], dtype=np.float64)

    return _python_kernel(lambda: lu_numpy_loop(data["A"].copy()), transfer=transfer,
                          fetch=lambda out: out[0], ran_with=lambda out: out[1],
                          notes={"layout": "Python loop over rows, NumPy row-slice updates (as posted)",
                                 "seed": SEED_NOTE})


# ---- mcpi (textbook) ----------------------------------------------------------------------
def mcpi_python(ctx: CellContext) -> Kernel:
    """The textbook loop: ``random.random()`` twice, ``x**2 + y**2 < 1.0``, an int counter;
    the module's global generator, seeded per call."""
    n = int(ctx.inputs["n"])
    seed = int(ctx.inputs["seed"])

    def run() -> float:
        random.seed(seed)
        acc = 0
        for _ in range(n):
            x = random.random()
            y = random.random()
            if x**2 + y**2 < 1.0:
                acc += 1
        return 4.0 * acc / n

    return _python_kernel(run, ran_with=lambda out: python_floats([out]),
                          notes={"rng": "random (Mersenne Twister, module state)", "seed": SEED_NOTE, "threads": 1})


# ---- nodes (textbook) ---------------------------------------------------------------------
class SeedNode:
    """A textbook node: a key, a bias, and a method that mutates the bias."""

    def __init__(self, key: int, bias: float) -> None:
        self.key = key
        self.bias = bias

    def mutate(self) -> None:
        self.bias += random.random()


def nodes_python(ctx: CellContext) -> Kernel:
    """Create the nodes with a list comprehension, call ``mutate`` with probability p, and
    sum the biases with a generator: the textbook form (module ``random``, seeded per call)."""
    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    seed = int(ctx.inputs["seed"])

    def run() -> float:
        random.seed(seed)
        nodes = [SeedNode(i, 0.5) for i in range(n)]
        for node in nodes:
            if random.random() < p:
                node.mutate()
        return sum(node.bias for node in nodes)

    return _python_kernel(run, ran_with=lambda out: python_floats([out]),
                          notes={"rng": "random (Mersenne Twister, module state)", "layout": "list of objects",
                                 "seed": SEED_NOTE, "threads": 1})
