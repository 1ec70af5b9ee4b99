"""The smallest own-kernel file: y = 2x + y on four backends (the README's first example).

    jitscope run -w examples/saxpy.py -b numpy,numba,jax,torch,torch:compile -s 1e4,1e6
"""

# kernels.py
import numpy as np

import jitscope

saxpy = jitscope.workload(
    "saxpy",
    inputs=lambda n, rng: {"x": rng.standard_normal(n), "y": rng.standard_normal(n)},
    sizes=(10_000, 1_000_000),
    flops=lambda n: 2 * n,            # optional: GFLOP/s column
    bytes=lambda n: 24 * n,           # optional: GB/s column
)

@saxpy.reference                      # float64 NumPy (or plain Python) truth
def _(x, y):
    return 2.0 * x + y

@saxpy.kernel("numpy")
def _(x, y):
    return 2.0 * x + y

@saxpy.kernel("numba")                # jitscope compiles it with numba.njit (cache on)
def _(x, y):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i] + y[i]
    return out

@saxpy.kernel("jax")                  # jax.jit, inputs put on the device, block_until_ready
def _(x, y):
    return 2.0 * x + y

@saxpy.kernel("torch")                # tensors on the device; eager and torch:compile variants
def _(x, y):
    return 2.0 * x + y
