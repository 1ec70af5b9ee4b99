"""Triton kernels for ``triton_backend`` (heavy: imports triton at module level).

``@triton.jit`` decides at decoration time whether it compiles or interprets, so
``triton_backend`` sets ``TRITON_INTERPRET`` *before* importing this module, and checks
``INTERPRETED`` afterwards.
"""

from __future__ import annotations

import triton
import triton.language as tl

# Globals read inside compiled kernels must be constexpr (the interpreter would not notice).
INV_2_32: tl.constexpr = tl.constexpr(2.3283064365386963e-10)  # 2**-32


@triton.jit
def mcpi_kernel(seed, n, partial_ptr, probe_ptr, BLOCK: tl.constexpr, F64: tl.constexpr):
    """Each program draws BLOCK points with Philox (counter = global sample index, so no two
    programs share a stream) and stores its count; the host sums the counts in int64. Each
    program also stores its largest x into ``probe_ptr``, whose element type must be x's own
    (a static assertion: a store would convert silently), so the probe's dtype is the points'."""
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    r1, r2, _, _ = tl.randint4x(seed, offs)
    if F64:
        x = (r1.to(tl.uint32).to(tl.float64) + 0.5) * INV_2_32
        y = (r2.to(tl.uint32).to(tl.float64) + 0.5) * INV_2_32
    else:
        x = tl.uint_to_uniform_float(r1)
        y = tl.uint_to_uniform_float(r2)
    inside = ((x * x + y * y) <= 1.0) & (offs < n)
    tl.store(partial_ptr + pid, tl.sum(inside.to(tl.int32), axis=0))
    tl.static_assert(x.dtype == probe_ptr.dtype.element_ty, "the probe must have the points' dtype")
    tl.store(probe_ptr + pid, tl.max(x, axis=0))


@triton.jit
def linreg_partial_kernel(X, y, w, partial, n, d, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Fused: one read of a [BLOCK_N, d] tile of X gives r = Xw - y and its share of X^T r."""
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < n
    cmask = cols < d
    x = tl.load(X + rows[:, None] * d + cols[None, :], mask=rmask[:, None] & cmask[None, :], other=0.0)
    wv = tl.load(w + cols, mask=cmask, other=0.0)
    yv = tl.load(y + rows, mask=rmask, other=0.0)
    r = tl.sum(x * wv[None, :], axis=1) - yv
    g = tl.sum(x * r[:, None], axis=0)
    tl.store(partial + pid * BLOCK_D + cols, g, mask=cmask)


@triton.jit
def linreg_update_kernel(partial, w, coef, nblocks, d, BLOCK_D: tl.constexpr):
    """w -= coef * sum of the partial gradients (coef = mu*2/N comes as a tensor: a Python
    float argument would be passed as float32)."""
    cols = tl.arange(0, BLOCK_D)
    cmask = cols < d
    acc = tl.load(partial + cols, mask=cmask, other=0.0)
    for b in range(1, nblocks):
        acc += tl.load(partial + b * BLOCK_D + cols, mask=cmask, other=0.0)
    wv = tl.load(w + cols, mask=cmask, other=0.0)
    c = tl.load(coef)
    tl.store(w + cols, wv - c * acc, mask=cmask)


@triton.jit
def lu_scale_kernel(A, n, k, BLOCK: tl.constexpr):
    """Column k below the diagonal: l_ik = a_ik / a_kk."""
    pid = tl.program_id(0)
    rows = k + 1 + pid * BLOCK + tl.arange(0, BLOCK)
    mask = rows < n
    pivot = tl.load(A + k * n + k)
    col = tl.load(A + rows * n + k, mask=mask, other=0.0)
    tl.store(A + rows * n + k, col / pivot, mask=mask)


@triton.jit
def lu_update_kernel(A, n, k, BM: tl.constexpr, BN: tl.constexpr):
    """Rank-1 update of the trailing block: a_ij -= l_ik * u_kj for i, j > k."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = k + 1 + pid_m * BM + tl.arange(0, BM)
    cols = k + 1 + pid_n * BN + tl.arange(0, BN)
    rmask = rows < n
    cmask = cols < n
    l_col = tl.load(A + rows * n + k, mask=rmask, other=0.0)
    u_row = tl.load(A + k * n + cols, mask=cmask, other=0.0)
    mask = rmask[:, None] & cmask[None, :]
    ptrs = A + rows[:, None] * n + cols[None, :]
    a = tl.load(ptrs, mask=mask, other=0.0)
    tl.store(ptrs, a - l_col[:, None] * u_row[None, :], mask=mask)


INTERPRETED = type(mcpi_kernel).__name__ == "InterpretedFunction"
