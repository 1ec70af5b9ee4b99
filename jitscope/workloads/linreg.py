"""``linreg``: linear regression by batch gradient descent on the mean squared error.

Size is d, the number of columns of X (column 0 is ones, the intercept; the other d-1 are
standardised Gaussian features). One call runs ``epochs`` full epochs of
``r = Xw - y; g = (2/N) X^T r; w -= mu*g`` from w = 0, with no early stop. ``mu = 1/L`` where
L = (2/N) * lambda_max(X^T X) is the gradient's Lipschitz constant, so no backend diverges in
float32 either. Result form: the final weight vector w (length d).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jitscope
from jitscope.core.lazy import LazyModule
from jitscope.workloads._kernels import common_kernels, ref, seed_kernels, triton_kernels

if TYPE_CHECKING:
    import numpy as np
else:  # imported at first use: planning a run needs no NumPy (core/lazy.py)
    np = LazyModule("numpy", globals(), "np")

DEFAULT_SAMPLES = 10_000


def reference_weights(X: np.ndarray, y: np.ndarray, mu: float, epochs: int) -> np.ndarray:
    """The float64 reference, by its own code path: the same iteration written on the
    normal matrix, ``w -= mu * (G w - b)`` with ``G = (2/N) X^T X`` and ``b = (2/N) X^T y``.

    Mathematically the backends' epoch exactly; numerically a different sequence of
    operations, so a backend that merely copied the reference would not match it to the
    last bit (a backend must not import this: it is the answer key, not an implementation).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = X.shape[0]
    G = (2.0 / n) * (X.T @ X)
    b = (2.0 / n) * (X.T @ y)
    w = np.zeros(X.shape[1], dtype=np.float64)
    for _ in range(int(epochs)):
        w = w - mu * (G @ w - b)
    return w


def make_inputs(n: int, rng: np.random.Generator, samples: int, epochs: int) -> dict[str, Any]:
    """X (a column of ones, then d-1 standardised Gaussian features), y from random true
    weights plus noise, the step mu = 1/L and the epochs."""
    d = n
    features = rng.standard_normal((samples, d - 1))
    if d > 1:
        features -= features.mean(axis=0)
        features /= features.std(axis=0)
    X = np.empty((samples, d), dtype=np.float64)
    X[:, 0] = 1.0
    X[:, 1:] = features
    w_true = rng.standard_normal(d)
    y = X @ w_true + 0.1 * rng.standard_normal(samples)
    lipschitz = 2.0 / samples * float(np.linalg.eigvalsh(X.T @ X)[-1])
    return {"X": X, "y": y, "mu": 1.0 / lipschitz, "epochs": int(epochs)}


def check_weights(result: Any, reference: dict[str, Any], dtype: str) -> jitscope.Accuracy:
    """Relative L2 distance to the reference's weights; the gap to least squares as a detail."""
    w = np.asarray(result, dtype=np.float64).reshape(-1)
    w_ref = reference["w"]
    if w.shape != w_ref.shape:
        return jitscope.Accuracy(float("inf"), "rel_l2_vs_ref", 0.0, False, f"shape {w.shape} != {w_ref.shape}")
    denom = float(np.linalg.norm(w_ref)) or 1.0
    error = float(np.linalg.norm(w - w_ref)) / denom
    gap = float(np.linalg.norm(w - reference["w_opt"]) / (np.linalg.norm(reference["w_opt"]) or 1.0))
    tolerance = 1e-8 if dtype == "float64" else 1e-3
    ok = bool(np.isfinite(error) and error <= tolerance)
    return jitscope.Accuracy(error, "rel_l2_vs_ref", tolerance, ok, f"gap to least squares {gap:.3g}")


WORKLOAD = jitscope.workload(
    "linreg",
    description="linear regression by batch gradient descent (two mat-vecs per epoch)",
    size_label="d (features incl. intercept)",
    sizes=(2, 10, 100),
    presets={"small": (2, 10), "default": (2, 10, 100), "large": (2, 10, 100, 1000)},
    params={"epochs": jitscope.param(20, help="gradient-descent epochs per call (the classic study used 10000)",
                                     minimum=1),
            "samples": jitscope.param(DEFAULT_SAMPLES, help="N, rows of X", minimum=2)},
    inputs=make_inputs,
    check=check_weights,
    flops=lambda n, samples, epochs: 4.0 * samples * n * epochs,
    bytes=lambda n, samples, epochs, itemsize: float(itemsize) * (samples * n + samples) * epochs,
    # X in float64 (inputs), a cast/device copy, features scratch, X^T X.
    memory=lambda n, samples: 8 * samples * n * 3 + 8 * n * n,
    result_form="1-D array w of length d",
    record_defaults=False, input_modes=False,
)


@WORKLOAD.reference
def _weights(X: Any, y: Any, mu: float, epochs: int) -> dict[str, Any]:
    """The gradient-descent weights by the reference's own code path, and the least-squares
    optimum they approach (for the check's detail)."""
    return {"w": reference_weights(X, y, mu, epochs), "w_opt": np.linalg.lstsq(X, y, rcond=None)[0]}


# ---- its kernels: the one list of what runs linreg -----------------------------------------
# The code lives in the backend modules; this file says which kernels exist (see mcpi.py).
TRITON_MAX_D = 4096  # Triton's fused kernel keeps a whole row of X in one program
PUBLISHED_D = "the published code fits y = w0 + w1*x only"


@WORKLOAD.kernel("numpy", "default", description="X@w and X.T@r per epoch",
                 notes={"layout": "C-order X, X@w and X.T@r"})
def gradient_descent(X: Any, y: Any, mu: float, epochs: int) -> Any:
    """The epoch as two BLAS-2 calls, in X's dtype: a plain function, run by the numpy
    adapter as a user's kernel is. The kernel's own code: it shares none with the reference."""
    n = X.shape[0]
    w = np.zeros(X.shape[1], dtype=X.dtype)
    scale = X.dtype.type(2.0 / n)
    step = X.dtype.type(mu)
    for _ in range(epochs):
        r = X @ w - y
        g = scale * (X.T @ r)
        w -= step * g
    return w


@WORKLOAD.kernel("python", "default", lists=True, description="nested loops over rows",
                 notes={"layout": "list of rows", "threads": 1})
def _python_linreg(X: list[list[float]], y: list[float], mu: float, epochs: int) -> list[float]:
    """Lists and loops, run by the python adapter (X and y made lists in the transfer)."""
    mu, n_epochs = float(mu), int(epochs)  # Python numbers, not NumPy scalars
    n = len(X)
    d = len(X[0])
    w = [0.0] * d
    scale = 2.0 / n
    for _ in range(n_epochs):
        g = [0.0] * d
        for i in range(n):
            row = X[i]
            r = -y[i]
            for j in range(d):
                r += row[j] * w[j]
            for j in range(d):
                g[j] += row[j] * r
        for j in range(d):
            w[j] -= mu * scale * g[j]
    return w



def _declare() -> None:
    k = WORKLOAD.kernel_build
    k("numba", "default", ref("numba_backend", "_linreg", False), "one fused pass over X per epoch (fastmath)")
    k("numba", "parallel", ref("numba_backend", "_linreg", True), "fused pass, rows split across threads (prange)")
    seed_kernels(WORKLOAD, numpy="SEED: Real Python's NumPy gradient descent (d=2), as published",
                 python="SEED: Real Python's list/generator gradient descent (d=2), as published",
                 max_size=2, max_size_reason=PUBLISHED_D)
    common_kernels(WORKLOAD, cupy="cuBLAS mat-vecs per epoch", cython="fused pass over X per epoch (C loops)",
                   jax="jit + fori_loop, two mat-vecs per epoch", julia="fused loop over samples, @simd",
                   numba_cuda="numba.cuda: residual, atomic gradient, update kernels",
                   tensorflow="XLA graph loop, two matmuls per epoch", torch="X@w, X.T@r per epoch")
    triton_kernels(WORKLOAD, "fused tile kernel + update kernel per epoch", interpreter_max=16,
                   max_size=TRITON_MAX_D, max_size_reason="the fused kernel keeps a whole row of X in one program")


_declare()
