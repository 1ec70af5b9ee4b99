"""``lu``: naive right-looking LU (Doolittle, no pivoting) of a diagonally dominant matrix.

A = U(0,1)^{n x n} + n*I, so no pivoting is needed and every U_kk > 0. One call factors a
fresh copy of A (the copy is part of the call: an in-place factorisation must not see its own
output on the next call) and returns the determinant as (sign, sum log|U_kk|) because the
plain determinant overflows float64 near n = 143. Reference: ``numpy.linalg.slogdet``.
Result form: (sign, logabsdet).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import jitscope
from jitscope.core.lazy import LazyModule
from jitscope.core.workload import as_float
from jitscope.workloads._kernels import common_kernels, ref, seed_kernels, triton_kernels

if TYPE_CHECKING:
    import numpy as np
else:  # imported at first use: planning a run needs no NumPy (core/lazy.py)
    np = LazyModule("numpy", globals(), "np")


def make_matrix(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """A = U(0,1)^{n x n} + n*I: diagonally dominant, so no pivoting is needed."""
    a = rng.uniform(0.0, 1.0, (n, n))
    a[np.diag_indices(n)] += n
    return {"A": a}


def check_logdet(result: Any, reference: tuple[float, float], dtype: str) -> jitscope.Accuracy:
    """|logdet - ref| within a relative tolerance of |ref|, and the same sign."""
    sign, logdet = as_float(result[0]), as_float(result[1])
    ref_sign, ref_logdet = reference
    error = abs(logdet - ref_logdet)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    tolerance = rtol * max(1.0, abs(ref_logdet))
    sign_ok = sign == ref_sign
    ok = bool(math.isfinite(error) and error <= tolerance and sign_ok)
    detail = f"logdet={logdet:.10g} ref={ref_logdet:.10g}" + ("" if sign_ok else f" SIGN {sign} != {ref_sign}")
    return jitscope.Accuracy(error, "abs_error_logdet", tolerance, ok, detail)


def moved(n: int, itemsize: int) -> float:
    """Each of the n-1 rank-1 updates reads and writes the trailing block once."""
    return float(itemsize) * sum(2 * (n - k - 1) ** 2 for k in range(n - 1)) if n < 20000 else float(itemsize) * 2 * n**3 / 3


WORKLOAD = jitscope.workload(
    "lu",
    description="naive LU factorisation without pivoting, determinant as sign and log|det|",
    size_label="matrix order n",
    sizes=(10, 64, 256),
    presets={"small": (10, 32), "default": (10, 64, 256), "large": (10, 64, 256, 1024)},
    inputs=make_matrix,
    check=check_logdet,
    flops=lambda n: (2.0 / 3.0) * n**3 - n**2 / 2.0 - n / 6.0,
    bytes=moved,
    memory=lambda n: 8 * n * n * 4,
    result_form="(sign, logabsdet)",
    record_defaults=False, input_modes=False,
)


@WORKLOAD.reference
def _slogdet(A: Any) -> tuple[float, float]:
    sign, logdet = np.linalg.slogdet(A)
    return float(sign), float(logdet)


# ---- its kernels: the one list of what runs lu ---------------------------------------------
# The code lives in the backend modules; this file says which kernels exist (see mcpi.py).
def lu_inplace(a: Any) -> Any:
    """Doolittle without pivoting, vectorised over the trailing block: one rank-1 update per k."""
    n = a.shape[0]
    for k in range(n - 1):
        a[k + 1 :, k] /= a[k, k]
        a[k + 1 :, k + 1 :] -= np.outer(a[k + 1 :, k], a[k, k + 1 :])
    return a


def slogdet_of_factor(lu: Any) -> tuple[float, float]:
    """(sign, sum log|U_kk|) from a factorised matrix, accumulated in float64."""
    diag = np.diagonal(lu).astype(np.float64)
    return float(np.prod(np.sign(diag))), float(np.sum(np.log(np.abs(diag))))


@WORKLOAD.kernel("numpy", "default", description="loop over k, rank-1 update of the trailing block",
                 notes={"layout": "rank-1 update per column"})
def _numpy_lu(A: Any) -> tuple[float, float]:
    """A plain function, run by the numpy adapter as a user's kernel is: (sign, logdet) in
    float64; the dtype that ran is read from A, the factor's own."""
    return slogdet_of_factor(lu_inplace(A.copy()))


@WORKLOAD.kernel("python", "default", lists=True, description="triple loop on lists",
                 notes={"layout": "list of rows", "threads": 1})
def _python_lu(A: list[list[float]]) -> tuple[float, float]:
    """Lists and loops, run by the python adapter (A made a list of rows in the transfer)."""
    a = [row[:] for row in A]
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



def _declare() -> None:
    k = WORKLOAD.kernel_build
    k("numba", "default", ref("numba_backend", "_lu", False), "naive in-place Doolittle on a copy (fastmath)")
    k("numba", "parallel", ref("numba_backend", "_lu", True), "naive Doolittle, trailing-update rows in prange")
    k("scipy", "default", ref("scipy_backend", "_lu"), "scipy.linalg.lu_factor = LAPACK getrf, blocked, with partial pivoting")
    seed_kernels(WORKLOAD, numba="SEED: the Numba article's row-slice loop under @jit",
                 numpy="SEED: the Numba article's Python loop over NumPy row slices",
                 python="SEED: the LU comparison's element-by-element loop on a NumPy array")
    common_kernels(WORKLOAD, cupy="rank-1 update per k on the device", cython="naive Doolittle on a copy (C loops)",
                   jax="jit + fori_loop, masked rank-1 updates", julia="naive Doolittle, column-oriented",
                   numba_cuda="numba.cuda: scale + rank-1 update kernels per k",
                   tensorflow="XLA graph loop, masked rank-1 updates", torch="rank-1 update per k")
    triton_kernels(WORKLOAD, "scale + rank-1 update kernels per k", interpreter_max=64)


_declare()
