"""Your own numba.cuda kernel: y = 2x + y, a ``@cuda.jit`` kernel and the launch you choose.

    jitscope run -w examples/saxpy_cuda.py -b numba:cuda,cupy,torch --device cuda -s 1e4,1e6
    # no GPU: numba's CUDA simulator checks the kernel (its timings mean nothing)
    NUMBA_ENABLE_CUDASIM=1 jitscope run -w examples/saxpy_cuda.py -b numba:cuda --device cuda -s 300

``@saxpy.kernel("numba", "cuda")`` decorates a *launcher*: a host function that launches your
kernel with your grid and returns device arrays. jitscope gives it the inputs already on the
device (cast to the run's dtype), synchronises after each call and copies the result back.
"""

import math

from numba import cuda

import jitscope

saxpy = jitscope.workload(
    "saxpy_cuda",
    inputs=lambda n, rng: {"x": rng.standard_normal(n), "y": rng.standard_normal(n)},
    sizes=(10_000, 1_000_000),
    flops=lambda n: 2 * n,
    bytes=lambda n: 24 * n,
)


@saxpy.reference
def _(x, y):
    return 2.0 * x + y


@cuda.jit
def saxpy_kernel(x, y, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = 2 * x[i] + y[i]


@saxpy.kernel("numba", "cuda")        # the launcher: device arrays in, device arrays out
def _(x, y):
    out = cuda.device_array_like(x)
    threads = 128                     # your launch configuration
    saxpy_kernel[math.ceil(x.shape[0] / threads), threads](x, y, out)
    return out
