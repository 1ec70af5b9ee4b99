"""``nodes``: an object-heavy loop, the kind of code where NumPy cannot help.

One call creates n nodes, node i having key i and bias 0.5; then visits every node and, with
probability p, adds u ~ U[0,1) to its bias; and returns the checksum sum(bias). RNG streams
differ between backends, so the check is statistical: with B ~ Bernoulli(p), the checksum has
mean n(0.5 + p/2) and variance n(p/3 - p^2/4); |z| <= 4 passes. Report ns/node, not flops.
Result form: the checksum as a float.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

import jitscope
from jitscope.core.lazy import LazyModule
from jitscope.core.workload import as_float
from jitscope.workloads._kernels import common_kernels, ref, seed_kernels

if TYPE_CHECKING:
    import numpy as np
else:  # imported at first use: planning a run needs no NumPy (core/lazy.py)
    np = LazyModule("numpy", globals(), "np")

Z_LIMIT = 4.0
INITIAL_BIAS = 0.5


def expected_checksum(n: int, p: float) -> tuple[float, float]:
    """Mean and standard deviation of the checksum."""
    mean = n * (INITIAL_BIAS + p / 2.0)
    var = n * (p / 3.0 - p * p / 4.0)
    return mean, math.sqrt(var)


def check_checksum(result: Any, reference: tuple[float, float], dtype: str) -> jitscope.Accuracy:
    """|z| <= 4 against the checksum's distribution; exact where p is 0 or 1."""
    checksum = as_float(result)
    mean, sd = reference
    if sd == 0.0:  # p in {0, 1}: the checksum is exact
        error = abs(checksum - mean)
        tolerance = 1e-9 * max(1.0, mean) if dtype == "float64" else 1e-5 * max(1.0, mean)
        return jitscope.Accuracy(error, "abs_error_checksum", tolerance, error <= tolerance, f"checksum={checksum:.6f}")
    z = abs(checksum - mean) / sd
    ok = bool(math.isfinite(z) and z <= Z_LIMIT)
    return jitscope.Accuracy(z, "z_score", Z_LIMIT, ok, f"checksum={checksum:.6f} expected={mean:.1f}±{sd:.1f}")


WORKLOAD = jitscope.workload(
    "nodes",
    description="object-heavy loop: create n nodes, mutate biases at random, checksum",
    size_label="n nodes",
    sizes=(1_000, 100_000, 1_000_000),
    presets={"small": (1_000, 10_000), "default": (1_000, 100_000, 1_000_000),
             "large": (1_000, 100_000, 1_000_000, 10_000_000)},
    params={"p": jitscope.param(0.5, help="probability that a node's bias is mutated", minimum=0.0, maximum=1.0)},
    inputs=lambda n, p, seed: {"n": int(n), "p": float(p), "seed": int(seed)},  # the RNG is each kernel's own
    check=check_checksum,
    bytes=lambda n, itemsize: float(n) * (8 + itemsize),  # key + bias per node, structure of arrays
    memory=lambda n: 120 * n,  # a small Python object per node is ~100 bytes
    result_form="float checksum = sum of biases",
    record_defaults=False, input_modes=False,
)


@WORKLOAD.reference
def _expected(n: int, p: float, seed: int) -> tuple[float, float]:
    return expected_checksum(n, p)


# ---- its kernels: the one list of what runs nodes ------------------------------------------
# The code lives in the backend modules; this file says which kernels exist (see mcpi.py).
@WORKLOAD.kernel("numpy", "default", description="structure of arrays, boolean mask",
                 notes={"rng": "numpy default_rng (PCG64)", "layout": "structure of arrays"})
def _numpy_nodes(n: int, p: float, seed: int, dtype: str) -> Any:
    """A plain function, run by the numpy adapter as a user's kernel is; ``dtype`` is the
    cell's (the bias array is made here). bias.sum() is a NumPy scalar of the bias's dtype:
    the output says what ran."""
    dt: Any = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    keys = np.arange(n, dtype=np.int64)
    bias = np.full(n, 0.5, dtype=dt)
    mutate = rng.random(keys.shape[0]) < p
    bias[mutate] += rng.random(int(np.count_nonzero(mutate)), dtype=dt)
    return bias.sum()


class Node:
    """The object the ``nodes`` workload is about: a key and a bias."""

    def __init__(self, key: int, bias: float) -> None:
        self.key = key
        self.bias = bias


@WORKLOAD.kernel("python", "default", description="list of Node objects",
                 notes={"rng": "random.Random (Mersenne Twister)", "layout": "list of objects", "threads": 1})
def _python_nodes(n: int, p: float, seed: int) -> float:
    """A list of objects, run by the python adapter."""
    rnd = random.Random(seed).random
    nodes = [Node(i, 0.5) for i in range(n)]
    for node in nodes:
        if rnd() < p:
            node.bias += rnd()
    total = 0.0
    for node in nodes:
        total += node.bias
    return total



def _declare() -> None:
    k = WORKLOAD.kernel_build
    k("numba", "default", ref("numba_backend", "_nodes", "default"), "structure of arrays, in-kernel RNG")
    k("numba", "parallel", ref("numba_backend", "_nodes", "parallel"), "structure of arrays, prange, counter RNG")
    k("numba", "jitclass", ref("numba_backend", "_nodes", "jitclass"), "list of @jitclass Node objects")
    seed_kernels(WORKLOAD, numba="SEED: textbook @jitclass Node with a mutate method",
                 python="SEED: textbook Node class with a mutate method")
    common_kernels(WORKLOAD, cupy="structure of arrays on the device", cython="structure of arrays in C memory",
                   jax="jit, structure of arrays", julia="Vector of mutable structs",
                   numba_cuda="numba.cuda: structure of arrays, checksum kernel",
                   tensorflow="XLA, structure of arrays", torch="structure of arrays")


_declare()
