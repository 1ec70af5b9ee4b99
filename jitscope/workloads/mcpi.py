"""``mcpi``: Monte Carlo estimate of pi from n uniform points in the unit square.

One call draws n points (2n uniforms), counts those with x^2 + y^2 <= 1 and returns
4*count/n. The RNG is the backend's choice (recorded in the cell); the seed is an input.
The check is statistical: z = |pi_hat - pi| * sqrt(n) / 1.6422 (1.6422 = 4*sqrt(p(1-p)),
p = pi/4). |z| > 4 means a broken kernel: a reused stream, or a float32 counter that stops
counting at 2^24. Result form: the estimate as a float.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

import jitscope
from jitscope.core.lazy import LazyModule
from jitscope.core.workload import as_float
from jitscope.workloads._kernels import common_kernels, ref, seed_kernels, triton_kernels

if TYPE_CHECKING:
    import numpy as np
else:  # imported at first use: planning a run needs no NumPy (core/lazy.py)
    np = LazyModule("numpy", globals(), "np")

SIGMA_PER_SQRT_N = 4.0 * math.sqrt((math.pi / 4.0) * (1.0 - math.pi / 4.0))  # 1.6422...
Z_LIMIT = 4.0
MCPI_CHUNK = 1 << 20  # numpy's points per chunk: memory stays bounded whatever n is


def standard_error(n: int) -> float:
    """The standard error of an n-sample estimate, 1.6422 / sqrt(n)."""
    return SIGMA_PER_SQRT_N / math.sqrt(n)


def z_check(result: Any, n: int) -> jitscope.Accuracy:
    """|pi_hat - pi| against 4 standard errors."""
    estimate = as_float(result)
    error = abs(estimate - math.pi)
    sigma = standard_error(n)
    z = error / sigma
    ok = bool(math.isfinite(error) and z <= Z_LIMIT)
    return jitscope.Accuracy(error, "abs_error_pi", Z_LIMIT * sigma, ok, f"pi_hat={estimate:.8f} z={z:.2f}")


WORKLOAD = jitscope.workload(
    "mcpi",
    description="Monte Carlo estimate of pi (count points inside the quarter circle)",
    size_label="n samples",
    sizes=(10_000, 100_000, 1_000_000),
    presets={"small": (1_000, 10_000, 100_000), "default": (10_000, 100_000, 1_000_000),
             "large": (100_000, 1_000_000, 10_000_000, 100_000_000)},
    inputs=lambda n, seed: {"n": int(n), "seed": int(seed)},  # the RNG is each kernel's own
    check=z_check,
    expected_error=standard_error,
    flops=lambda n: 5.0 * n,
    memory=lambda n: 16 * n,  # worst case: a backend that materialises both coordinates in float64
    result_form="float estimate of pi",
    record_defaults=False, input_modes=False,
)


@WORKLOAD.reference
def _pi(n: int, seed: int) -> float:
    return math.pi


# ---- its kernels: the one list of what runs mcpi -------------------------------------------
# Each backend module holds the code (it shares that backend's transfer, sync, watches and
# probes); this file says which kernels exist, with their descriptions and limits.
@WORKLOAD.kernel("python", "default", description="loop with random.random()",
                 notes={"rng": "random.Random (Mersenne Twister)", "threads": 1})
def _python_mcpi(n: int, seed: int) -> float:
    """The textbook loop, run by the python adapter."""
    rnd = random.Random(seed).random
    inside = 0
    for _ in range(n):
        x = rnd()
        y = rnd()
        if x * x + y * y <= 1.0:
            inside += 1
    return 4.0 * inside / n


@WORKLOAD.kernel("numpy", "default", probe=True, description="chunked vectorised PCG64",
                 notes={"rng": "numpy default_rng (PCG64)", "layout": f"chunks of {MCPI_CHUNK}"})
def estimate_pi(n: int, seed: int, dtype: Any) -> tuple[float, Any]:
    """Chunked estimate, PCG64 stream, points drawn in the cell's dtype. Returns the estimate
    and a probe: the first x coordinate of the last chunk, an array in the dtype the points
    really had (the estimate, a Python float, would say nothing of it)."""
    rng = np.random.default_rng(seed)
    inside = 0
    remaining = n
    x = np.empty(0, dtype=dtype)
    while remaining > 0:
        m = min(remaining, MCPI_CHUNK)
        x = rng.random(m, dtype=dtype)
        y = rng.random(m, dtype=dtype)
        inside += int(np.count_nonzero(x * x + y * y <= 1.0))
        remaining -= m
    return 4.0 * inside / n, x[:1].copy()


def _declare() -> None:
    k = WORKLOAD.kernel_build
    k("numba", "default", ref("numba_backend", "_mcpi", "default"), "fused loop, numba's Mersenne Twister seeded in-kernel")
    k("numba", "parallel", ref("numba_backend", "_mcpi", "parallel"), "fused prange loop, counter-based splitmix64")
    k("numba", "vectorize", ref("numba_backend", "_mcpi", "vectorize"), "@vectorize ufunc over index chunks")
    seed_kernels(WORKLOAD, numba="SEED: the textbook random.random() loop under @njit",
                 python="SEED: the textbook random.random() loop")
    common_kernels(WORKLOAD, cupy="chunked device RNG, test, count", cython="fused loop, counter-based splitmix64",
                   jax="jit + fori_loop over chunks (threefry)", julia="fused loop, Xoshiro RNG",
                   numba_cuda="numba.cuda: xoroshiro128+ per thread, atomic count",
                   tensorflow="XLA graph loop over chunks (stateless Philox)", torch="chunked rand, test, count")
    triton_kernels(WORKLOAD, "Philox, count per program", interpreter_max=1_000_000)


_declare()
