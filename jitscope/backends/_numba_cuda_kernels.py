"""``numba.cuda`` kernels for ``numba_backend``'s ``cuda`` variant (heavy: imports numba.cuda).

Imported only inside a worker, after ``NUMBA_CACHE_DIR`` is set (``cache=True``: a second
worker loads the PTX/cubin from disk). Under ``NUMBA_ENABLE_CUDASIM=1`` the same source runs
in numba's CUDA simulator (every thread a Python thread): that checks the kernels' logic on a
machine without a GPU, and its timings say nothing about a GPU.

Every kernel writes into arrays the backend allocated before the timed calls, so nothing is
allocated on the device inside a call (the driver's used memory after the calls is then the
cell's high-water mark). One kernel per step, in stream order, no host round trip: the host
waits only in ``sync`` (``cuda.synchronize()``).

* linreg: per epoch, ``residual`` (a thread per row: r_i = x_i.w - y_i), then ``gradient``
  (threads over columns x row chunks, partial sums added with atomics into g), then
  ``update`` (a thread per column: w_j -= coef*g_j, g_j = 0).
* mcpi: a fixed grid of threads, one xoroshiro128+ generator each (``numba.cuda.random``),
  grid-stride over the samples, one int64 atomic add per thread.
* lu: per k, ``scale_column`` (a[i,k] /= a[k,k]) then ``rank1_update`` of the trailing
  block (2-D grid, x over columns: coalesced on row-major A); ``slogdet`` on one thread
  (float64 accumulator).
* nodes: structure of arrays (keys int64, bias) initialised and mutated by a grid-stride
  kernel with one generator per thread; ``checksum`` reads the biases back (float64 atomics).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda
from numba.cuda.random import xoroshiro128p_uniform_float32, xoroshiro128p_uniform_float64

LINREG_ROW_CHUNK = 64  # rows each gradient thread sums before its atomic add


# ---- linreg -------------------------------------------------------------------------------
@cuda.jit(cache=True)
def linreg_residual(X, y, w, r):  # type: ignore[no-untyped-def]
    i = cuda.grid(1)
    if i < X.shape[0]:
        acc = -y[i]
        for j in range(X.shape[1]):
            acc += X[i, j] * w[j]
        r[i] = acc


@cuda.jit(cache=True)
def linreg_gradient(X, r, g, chunk):  # type: ignore[no-untyped-def]
    j, c = cuda.grid(2)
    n = X.shape[0]
    if j < X.shape[1]:
        lo = c * chunk
        hi = min(n, lo + chunk)
        if lo < hi:
            acc = X[lo, j] * r[lo]
            for i in range(lo + 1, hi):
                acc += X[i, j] * r[i]
            cuda.atomic.add(g, j, acc)


@cuda.jit(cache=True)
def linreg_update(w, g, coef):  # type: ignore[no-untyped-def]
    j = cuda.grid(1)
    if j < w.shape[0]:
        w[j] -= coef[0] * g[j]
        g[j] = 0


# ---- mcpi ---------------------------------------------------------------------------------
@cuda.jit(cache=True)
def mcpi_f64(states, n, count, probe):  # type: ignore[no-untyped-def]
    tid = cuda.grid(1)
    stride = cuda.gridsize(1)
    inside = 0
    x = 0.0
    for _ in range(tid, n, stride):
        x = xoroshiro128p_uniform_float64(states, tid)
        y = xoroshiro128p_uniform_float64(states, tid)
        if x * x + y * y <= 1.0:
            inside += 1
    cuda.atomic.add(count, 0, inside)
    if tid == 0:
        probe[0] = x


@cuda.jit(cache=True)
def mcpi_f32(states, n, count, probe):  # type: ignore[no-untyped-def]
    tid = cuda.grid(1)
    stride = cuda.gridsize(1)
    inside = 0
    x = np.float32(0.0)
    one = np.float32(1.0)
    for _ in range(tid, n, stride):
        x = xoroshiro128p_uniform_float32(states, tid)
        y = xoroshiro128p_uniform_float32(states, tid)
        if x * x + y * y <= one:
            inside += 1
    cuda.atomic.add(count, 0, inside)
    if tid == 0:
        probe[0] = x


# ---- lu -----------------------------------------------------------------------------------
@cuda.jit(cache=True)
def lu_scale_column(a, k):  # type: ignore[no-untyped-def]
    i = cuda.grid(1) + k + 1
    if i < a.shape[0]:
        a[i, k] = a[i, k] / a[k, k]


@cuda.jit(cache=True)
def lu_rank1_update(a, k):  # type: ignore[no-untyped-def]
    jj, ii = cuda.grid(2)
    i = ii + k + 1
    j = jj + k + 1
    if i < a.shape[0] and j < a.shape[1]:
        a[i, j] -= a[i, k] * a[k, j]


@cuda.jit(cache=True)
def lu_slogdet(a, out):  # type: ignore[no-untyped-def]
    """(sign, sum log|U_kk|) on one thread, in float64."""
    if cuda.grid(1) == 0:
        sign = 1.0
        logdet = 0.0
        for k in range(a.shape[0]):
            u = a[k, k]
            if u < 0:
                sign = -sign
            logdet += math.log(abs(np.float64(u)))
        out[0] = sign
        out[1] = logdet


# ---- nodes --------------------------------------------------------------------------------
@cuda.jit(cache=True)
def nodes_f64(states, keys, bias, p):  # type: ignore[no-untyped-def]
    tid = cuda.grid(1)
    for i in range(tid, keys.shape[0], cuda.gridsize(1)):
        keys[i] = i
        b = 0.5
        if xoroshiro128p_uniform_float64(states, tid) < p:
            b += xoroshiro128p_uniform_float64(states, tid)
        bias[i] = b


@cuda.jit(cache=True)
def nodes_f32(states, keys, bias, p):  # type: ignore[no-untyped-def]
    tid = cuda.grid(1)
    pf = np.float32(p)
    for i in range(tid, keys.shape[0], cuda.gridsize(1)):
        keys[i] = i
        b = np.float32(0.5)
        if xoroshiro128p_uniform_float32(states, tid) < pf:
            b += xoroshiro128p_uniform_float32(states, tid)
        bias[i] = b


@cuda.jit(cache=True)
def nodes_checksum(bias, total):  # type: ignore[no-untyped-def]
    tid = cuda.grid(1)
    acc = 0.0
    for i in range(tid, bias.shape[0], cuda.gridsize(1)):
        acc += np.float64(bias[i])
    cuda.atomic.add(total, 0, acc)


DISPATCHERS: dict[str, tuple[Any, ...]] = {
    "linreg": (linreg_residual, linreg_gradient, linreg_update),
    "mcpi_float64": (mcpi_f64,),
    "mcpi_float32": (mcpi_f32,),
    "lu": (lu_scale_column, lu_rank1_update, lu_slogdet),
    "nodes_float64": (nodes_f64, nodes_checksum),
    "nodes_float32": (nodes_f32, nodes_checksum),
}
