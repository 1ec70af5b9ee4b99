"""Numba kernels for ``numba_backend`` (heavy: imports numba at module level).

Only ``numba_backend`` imports this module, from inside a worker, after it has pointed
``NUMBA_CACHE_DIR`` at jitscope's per-user cache. Every ``@njit`` here uses ``cache=True`` so a
second worker loads machine code from disk instead of compiling (the notes say which happened).

RNGs: the serial kernels use Numba's own ``np.random`` (Mersenne Twister, one state per
thread), *seeded inside the jitted code*: ``np.random.seed`` called from Python seeds NumPy's
global state, not Numba's. The parallel kernels use a counter-based generator instead
(splitmix64 of ``seed`` and the sample index), so every sample has its own stream whatever
thread draws it, and the answer does not depend on the thread count.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np
from numba import njit, prange
from numba.experimental import jitclass

U64 = np.uint64
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
INV_2_31 = 2.0**-31
INV_2_24 = 2.0**-24
SMALL_D = 4  # linreg: up to this many features, the kernel is specialised on d


# ---- counter-based RNG ------------------------------------------------------------------
@njit(inline="always", cache=True)
def splitmix64(z: Any) -> Any:
    """The splitmix64 output function (Steele, Lea & Flood 2014) of a uint64."""
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


@njit(inline="always", cache=True)
def stream_key(seed: Any) -> Any:
    return splitmix64(U64(seed) * GOLDEN + U64(1))


# Two uniforms from one 64-bit output. Going through int32 matters: AVX2 can convert int32 to
# floating point in vector registers, but not uint64/int64, which kept the loop scalar.
@njit(inline="always", cache=True)
def pair_f64(z: Any) -> Any:
    """Two 31-bit uniforms in [0, 1) as float64."""
    x = np.float64(np.int32(z >> U64(33))) * INV_2_31
    y = np.float64(np.int32((z >> U64(1)) & U64(0x7FFFFFFF))) * INV_2_31
    return x, y


@njit(inline="always", cache=True)
def pair_f32(z: Any) -> Any:
    """Two 24-bit uniforms in [0, 1) as float32."""
    x = np.float32(np.int32(z >> U64(40))) * np.float32(INV_2_24)
    y = np.float32(np.int32((z >> U64(8)) & U64(0xFFFFFF))) * np.float32(INV_2_24)
    return x, y


@njit(cache=True)
def probe_f64(key, i):  # type: ignore[no-untyped-def]
    """Sample i's x coordinate, by the same inline code the float64 loops run (a prange
    reduction or a ufunc has no sample left over to return)."""
    x, _ = pair_f64(splitmix64(key + U64(i) * GOLDEN))
    return np.full(1, x)


@njit(cache=True)
def probe_f32(key, i):  # type: ignore[no-untyped-def]
    """As ``probe_f64`` for the float32 loops."""
    x, _ = pair_f32(splitmix64(key + U64(i) * GOLDEN))
    return np.full(1, x)


# ---- linreg -------------------------------------------------------------------------------
@njit(cache=True, fastmath=True)
def linreg_rows(X, y, coef, epochs):  # type: ignore[no-untyped-def]
    """One fused pass over row-major X per epoch: r_i = x_i.w - y_i, g += r_i x_i."""
    n, d = X.shape
    w = np.zeros(d, X.dtype)
    g = np.zeros(d, X.dtype)
    for _ in range(epochs):
        g[:] = 0
        for i in range(n):
            xi = X[i]
            r = -y[i]
            for j in range(d):
                r += xi[j] * w[j]
            for j in range(d):
                g[j] += xi[j] * r
        for j in range(d):
            w[j] -= coef * g[j]
    return w


@njit(cache=True, fastmath=True, parallel=True)
def linreg_rows_parallel(X, y, coef, epochs, nch):  # type: ignore[no-untyped-def]
    """Rows split in ``nch`` chunks (one per thread); each chunk has its own gradient row,
    padded to a cache line so two threads never write the same line (false sharing)."""
    n, d = X.shape
    per = (n + nch - 1) // nch
    dp = (d + 7) // 8 * 8
    w = np.zeros(d, X.dtype)
    G = np.zeros((nch, dp), X.dtype)
    for _ in range(epochs):
        for c in prange(nch):
            g = G[c]
            g[:] = 0
            lo = min(n, c * per)
            hi = min(n, lo + per)
            Xc = X[lo:hi]  # slices: loops start at 0, so no negative-index checks
            yc = y[lo:hi]
            for i in range(hi - lo):
                xi = Xc[i]
                r = -yc[i]
                for j in range(d):
                    r += xi[j] * w[j]
                for j in range(d):
                    g[j] += xi[j] * r
        for j in range(d):
            s = G[0, j]
            for c in range(1, nch):
                s += G[c, j]
            w[j] -= coef * s
    return w


@functools.cache
def linreg_small(D: int, parallel: bool) -> Any:
    """A kernel specialised on d (a compile-time constant): the loops over d unroll, w and g
    live in registers, and the loop over rows vectorises on column-major X (X^T).

    The cache key of a closure includes its constants, so each d is cached separately.
    """
    return _linreg_small_parallel(D) if parallel else _linreg_small_serial(D)


def _linreg_small_serial(D: int) -> Any:
    """One thread, ``d == D``. (Split from :func:`linreg_small` for the reader only: Numba
    compiles the same closure, D a constant, as before.)"""

    @njit(cache=True, fastmath=True)
    def linreg_small_d(Xt, y, coef, epochs):  # type: ignore[no-untyped-def]
        n = Xt.shape[1]
        w = np.zeros(D, Xt.dtype)
        g = np.zeros(D, Xt.dtype)
        for _ in range(epochs):
            for j in range(D):
                g[j] = 0
            for i in range(n):
                r = -y[i]
                for j in range(D):
                    r += Xt[j, i] * w[j]
                for j in range(D):
                    g[j] += Xt[j, i] * r
            for j in range(D):
                w[j] -= coef * g[j]
        return w

    return linreg_small_d


def _linreg_small_parallel(D: int) -> Any:
    """Rows in ``nch`` chunks (``prange``), one padded gradient row per chunk, ``d == D``."""

    @njit(cache=True, fastmath=True, parallel=True)
    def linreg_small_d_parallel(Xt, y, coef, epochs, nch):  # type: ignore[no-untyped-def]
        n = Xt.shape[1]
        per = (n + nch - 1) // nch
        w = np.zeros(D, Xt.dtype)
        G = np.zeros((nch, 8 * ((D + 7) // 8)), Xt.dtype)
        for _ in range(epochs):
            for c in prange(nch):
                g = np.zeros(D, Xt.dtype)
                lo = min(n, c * per)
                hi = min(n, lo + per)
                Xc = Xt[:, lo:hi]
                yc = y[lo:hi]
                for i in range(hi - lo):
                    r = -yc[i]
                    for j in range(D):
                        r += Xc[j, i] * w[j]
                    for j in range(D):
                        g[j] += Xc[j, i] * r
                for j in range(D):
                    G[c, j] = g[j]
            for j in range(D):
                s = G[0, j]
                for c in range(1, nch):
                    s += G[c, j]
                w[j] -= coef * s
        return w

    return linreg_small_d_parallel


# ---- mcpi ---------------------------------------------------------------------------------
# The mcpi and nodes kernels return (result, probe): the result is a count or a float64
# accumulator, which says nothing about the precision the samples had, so the probe is a
# one-element array built from a sample the kernel computed (np.full takes the sample's own
# type). The backend reads the cell's dtype from the probe.
@njit(cache=True, fastmath=True)
def mcpi_serial_f64(n, seed):  # type: ignore[no-untyped-def]
    """Fused generate-test-count with Numba's Mersenne Twister, seeded in here."""
    np.random.seed(seed)
    count = 0  # int64: no float32 counter saturating at 2**24
    x = 0.0
    for _ in range(n):
        x = np.random.random()
        y = np.random.random()
        if x * x + y * y <= 1.0:
            count += 1
    return 4.0 * count / n, np.full(1, x)


@njit(cache=True, fastmath=True)
def mcpi_serial_f32(n, seed):  # type: ignore[no-untyped-def]
    """As ``mcpi_serial_f64``, the coordinates rounded to float32 and tested in float32."""
    np.random.seed(seed)
    count = 0
    x = np.float32(0.0)
    for _ in range(n):
        x = np.float32(np.random.random())
        y = np.float32(np.random.random())
        if x * x + y * y <= np.float32(1.0):
            count += 1
    return 4.0 * count / n, np.full(1, x)


@njit(cache=True, fastmath=True, parallel=True)
def mcpi_parallel_f64(n, seed):  # type: ignore[no-untyped-def]
    """prange over samples; sample i takes two 31-bit uniforms from splitmix64(key + i*phi)."""
    key = stream_key(seed)
    count = 0
    for i in prange(n):
        x, y = pair_f64(splitmix64(key + U64(i) * GOLDEN))
        count += np.int32(x * x + y * y <= 1.0)
    return 4.0 * count / n, probe_f64(key, n - 1)


@njit(cache=True, fastmath=True, parallel=True)
def mcpi_parallel_f32(n, seed):  # type: ignore[no-untyped-def]
    """As ``mcpi_parallel_f64`` with float32 coordinates (24-bit uniforms)."""
    key = stream_key(seed)
    count = 0
    for i in prange(n):
        x, y = pair_f32(splitmix64(key + U64(i) * GOLDEN))
        count += np.int32(x * x + y * y <= np.float32(1.0))
    return 4.0 * count / n, probe_f32(key, n - 1)


@functools.cache
def inside_ufunc(single: bool) -> Any:
    """``@vectorize`` ufunc: is sample i inside the quarter circle? Built (and compiled, or
    loaded from the cache) on first use, so that time lands in the first call."""
    if single:

        @numba.vectorize(["uint8(uint64, uint64)"], cache=True)
        def inside_f32(i, key):  # type: ignore[no-untyped-def]
            x, y = pair_f32(splitmix64(key + i * GOLDEN))
            return 1 if x * x + y * y <= np.float32(1.0) else 0

        return inside_f32

    @numba.vectorize(["uint8(uint64, uint64)"], cache=True)
    def inside_f64(i, key):  # type: ignore[no-untyped-def]
        x, y = pair_f64(splitmix64(key + i * GOLDEN))
        return 1 if x * x + y * y <= 1.0 else 0

    return inside_f64


VECTORIZE_CHUNK = 1 << 18


def mcpi_vectorize(n: int, seed: int, single: bool) -> tuple[float, Any]:
    """The ufunc over chunks of sample indices: materialised (an index array and a 0/1 array
    per chunk), unlike the fused kernels. Buffers are reused across chunks, so no page faults.
    target='cpu': on this kind of box numba's target='parallel' ufuncs were ~4x slower."""
    key = np.uint64(stream_key(seed))
    ufunc = inside_ufunc(single)
    chunk = min(n, VECTORIZE_CHUNK)
    base = np.arange(chunk, dtype=np.uint64)
    idx = np.empty(chunk, dtype=np.uint64)
    flags = np.empty(chunk, dtype=np.uint8)
    count = 0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        np.add(base[:m], np.uint64(start), out=idx[:m])
        ufunc(idx[:m], key, out=flags[:m])
        count += int(flags[:m].sum(dtype=np.int64))
    probe = (probe_f32 if single else probe_f64)(key, np.uint64(n - 1))
    return 4.0 * count / n, probe


# ---- lu -----------------------------------------------------------------------------------
@njit(cache=True)
def _slogdet_of_lu(a):  # type: ignore[no-untyped-def]
    """(sign, sum log|U_kk|) from a factorised matrix, accumulated in float64."""
    sign = 1.0
    logdet = 0.0
    for k in range(a.shape[0]):
        u = a[k, k]
        if u < 0:
            sign = -sign
        logdet += np.log(np.abs(np.float64(u)))
    return sign, logdet


@njit(cache=True, fastmath=True)
def lu_slogdet(A):  # type: ignore[no-untyped-def]
    """Copy, then naive right-looking Doolittle in place; ((sign, sum log|U_kk|), factor)."""
    a = A.copy()
    n = a.shape[0]
    for k in range(n - 1):
        pivot = a[k, k]
        ak = a[k, k + 1 :]  # row slices: inner loops start at 0 and vectorise
        for i in range(k + 1, n):
            f = a[i, k] / pivot
            a[i, k] = f
            ai = a[i, k + 1 :]
            for j in range(n - k - 1):
                ai[j] -= f * ak[j]
    return _slogdet_of_lu(a), a


@njit(cache=True, fastmath=True, parallel=True)
def lu_slogdet_parallel(A):  # type: ignore[no-untyped-def]
    """As ``lu_slogdet``, the rows of each trailing update shared out with prange."""
    a = A.copy()
    n = a.shape[0]
    for k in range(n - 1):
        pivot = a[k, k]
        ak = a[k, k + 1 :]
        for i in prange(k + 1, n):
            f = a[i, k] / pivot
            a[i, k] = f
            ai = a[i, k + 1 :]
            for j in range(n - k - 1):
                ai[j] -= f * ak[j]
    return _slogdet_of_lu(a), a


# ---- nodes --------------------------------------------------------------------------------
@njit(cache=True)
def nodes_soa(n, p, seed, proto):  # type: ignore[no-untyped-def]
    """Structure of arrays: keys and biases; Numba's Mersenne Twister seeded in here."""
    np.random.seed(seed)
    keys = np.arange(n)
    bias = np.full(n, 0.5, proto.dtype)
    for i in range(keys.shape[0]):
        if np.random.random() < p:
            bias[i] += np.random.random()
    total = 0.0
    for i in range(n):
        total += bias[i]
    return total, bias


@njit(cache=True, parallel=True)
def nodes_soa_parallel(n, p, seed, proto):  # type: ignore[no-untyped-def]
    """prange over nodes; node ``key`` draws from splitmix64 of (seed, key)."""
    key0 = stream_key(seed)
    keys = np.arange(n)
    bias = np.full(n, 0.5, proto.dtype)
    for i in prange(n):
        u_mutate, u_value = pair_f64(splitmix64(key0 + U64(keys[i]) * GOLDEN))
        if u_mutate < p:
            bias[i] += u_value
    total = 0.0
    for i in prange(n):
        total += bias[i]
    return total, bias


@functools.cache
def node_class(dtype: str) -> Any:
    bias_type = numba.float32 if dtype == "float32" else numba.float64

    @jitclass([("key", numba.int64), ("bias", bias_type)])
    class Node:
        def __init__(self, key, bias):  # type: ignore[no-untyped-def]
            self.key = key
            self.bias = bias

    return Node


@functools.cache
def nodes_jitclass(dtype: str) -> Any:
    """A list of jitclass ``Node`` objects (jitclass code cannot be cached on disk)."""
    Node = node_class(dtype)

    @njit
    def nodes_objects(n, p, seed):  # type: ignore[no-untyped-def]
        np.random.seed(seed)
        nodes = [Node(i, 0.5) for i in range(n)]
        for node in nodes:
            if np.random.random() < p:
                node.bias += np.random.random()
        total = 0.0
        for node in nodes:
            total += node.bias
        return total, np.full(1, nodes[0].bias)  # the probe: a field of the spec's type

    return nodes_objects
