"""``nodes``: an object-heavy loop, the kind of code where NumPy cannot help.

One call creates n nodes, node i having key i and bias 0.5; then visits every node and, with
probability p, adds u ~ U[0,1) to its bias; and returns the checksum sum(bias). RNG streams
differ between backends, so the check is statistical: with B ~ Bernoulli(p), the checksum has
mean n(0.5 + p/2) and variance n(p/3 - p^2/4); |z| <= 4 passes. Report ns/node, not flops.
Result form: the checksum as a float.
"""

from __future__ import annotations

import math
from typing import Any

from jitscope.core.model import Accuracy
from jitscope.core.workload import Inputs, Param, Workload, as_float
from jitscope.workloads._kernels import CPU_CUDA, CUDA, F64, TORCH_VARIANTS, ref

Z_LIMIT = 4.0
INITIAL_BIAS = 0.5


def expected_checksum(n: int, p: float) -> tuple[float, float]:
    """Mean and standard deviation of the checksum."""
    mean = n * (INITIAL_BIAS + p / 2.0)
    var = n * (p / 3.0 - p * p / 4.0)
    return mean, math.sqrt(var)


class Nodes(Workload):
    name = "nodes"
    description = "object-heavy loop: create n nodes, mutate biases at random, checksum"
    size_label = "n nodes"
    default_sizes = (1_000, 100_000, 1_000_000)
    presets = {
        "small": (1_000, 10_000),
        "default": (1_000, 100_000, 1_000_000),
        "large": (1_000, 100_000, 1_000_000, 10_000_000),
    }
    params = (Param("p", 0.5, "probability that a node's bias is mutated", float, 0.0, 1.0),)
    result_form = "float checksum = sum of biases"

    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        return {"n": int(size), "p": float(params["p"]), "seed": int(seed)}

    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        return expected_checksum(size, float(params["p"]))

    def check(
        self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str
    ) -> Accuracy:
        checksum = as_float(result)
        mean, sd = reference
        if sd == 0.0:  # p in {0, 1}: the checksum is exact
            error = abs(checksum - mean)
            tolerance = 1e-9 * max(1.0, mean) if dtype == "float64" else 1e-5 * max(1.0, mean)
            return Accuracy(error, "abs_error_checksum", tolerance, error <= tolerance, f"checksum={checksum:.6f}")
        z = abs(checksum - mean) / sd
        ok = bool(math.isfinite(z) and z <= Z_LIMIT)
        return Accuracy(z, "z_score", Z_LIMIT, ok, f"checksum={checksum:.6f} expected={mean:.1f}±{sd:.1f}")

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float:
        # key + bias per node in structure-of-arrays form.
        return float(size) * (8 + itemsize)

    def memory_estimate(self, size: int, params: dict[str, Any]) -> int:
        return 120 * size  # a small Python object per node is ~100 bytes


WORKLOAD = Nodes()


# ---- its kernels: the one list of what runs nodes ------------------------------------------
# The code lives in the backend modules; this file says which kernels exist (see mcpi.py).
def _declare() -> None:
    k = WORKLOAD.kernel_build
    k("cupy", "default", ref("cupy_backend", "_nodes"), "structure of arrays on the device", devices=CUDA)
    k("cython", "default", ref("cython_backend", "_nodes"), "structure of arrays in C memory")
    k("jax", "default", ref("jax_backend", "_nodes"), "jit, structure of arrays", devices=CPU_CUDA)
    k("julia", "default", ref("julia_backend", "_build"), "Vector of mutable structs")
    k("numba", "default", ref("numba_backend", "_nodes", "default"), "structure of arrays, in-kernel RNG")
    k("numba", "parallel", ref("numba_backend", "_nodes", "parallel"), "structure of arrays, prange, counter RNG")
    k("numba", "jitclass", ref("numba_backend", "_nodes", "jitclass"), "list of @jitclass Node objects")
    k("numba", "seed", ref("numba_backend", "_seed", "nodes"), "SEED: textbook @jitclass Node with a mutate method",
      dtypes=F64)
    k("numba", "cuda", ref("numba_backend", "_cuda", "nodes"), "numba.cuda: structure of arrays, checksum kernel",
      devices=CUDA)
    k("numpy", "default", ref("numpy_backend", "_nodes"), "structure of arrays, boolean mask")
    k("python", "default", ref("python_backend", "_nodes"), "list of Node objects", dtypes=F64)
    k("python", "seed", ref("_seeds", "nodes_python"), "SEED: textbook Node class with a mutate method", dtypes=F64)
    k("tensorflow", "default", ref("tensorflow_backend", "_nodes"), "XLA, structure of arrays", devices=CPU_CUDA)
    for variant, what in TORCH_VARIANTS:
        k("torch", variant, ref("torch_backend", "_nodes", variant), f"{what}: structure of arrays", devices=CPU_CUDA)


_declare()
