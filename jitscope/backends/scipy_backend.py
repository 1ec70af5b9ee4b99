"""SciPy: ``lu`` through LAPACK (``scipy.linalg.lu_factor`` = ``?getrf``).

This is *not* the workload's naive algorithm: getrf is blocked, calls BLAS-3 and uses
**partial pivoting**. The determinant is the same (the sign also counts the row swaps), which
is exactly the seed's point: at large n, LAPACK wins over any hand-written naive loop. The
notes say so on every cell. Only ``lu``; the other workloads have nothing LAPACK-shaped.
"""

from __future__ import annotations

from typing import Any

from jitscope.core.backend import Backend, CellContext, FunctionKernel, Kernel

NAME = "scipy"


def _lu(ctx: CellContext) -> Kernel:
    import numpy as np
    from scipy.linalg import lu_factor

    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = np.asfortranarray(ctx.inputs["A"], dtype=np.dtype(ctx.dtype))

    def run() -> Any:
        # overwrite_a=False: LAPACK factors a fresh copy of A on every call.
        return lu_factor(data["A"], overwrite_a=False, check_finite=False)

    def fetch(out: Any) -> tuple[float, float]:
        lu, piv = out
        diag = np.diagonal(lu).astype(np.float64)
        swaps = int(np.count_nonzero(piv != np.arange(piv.shape[0])))
        sign = (-1.0) ** swaps * float(np.prod(np.sign(diag)))
        return sign, float(np.sum(np.log(np.abs(diag))))

    # The output (lu, piv) carries the factor LAPACK computed: its dtype is what ran.
    return FunctionKernel(
        run,
        compiler=False,  # LAPACK is precompiled: no first call compiles anything
        transfer=transfer,
        fetch=fetch,
        notes={
            "algorithm": "LAPACK getrf: blocked LU with PARTIAL PIVOTING (not the naive no-pivot loop)",
            "layout": "Fortran-order copy of A per call (overwrite_a=False)",
            "sync": "none needed (synchronous)",
            "threads": _blas_threads(),
        },
    )


def _blas_threads() -> Any:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS/LAPACK default (threadpoolctl not installed to tell)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(f"{p.get('internal_api')}:{p.get('num_threads')}" for p in pools) or "unknown"


def _info() -> dict[str, Any]:
    import scipy

    from jitscope.backends.numpy_backend import threads_info

    info: dict[str, Any] = {"version": scipy.__version__, "devices": ["cpu"]}
    try:
        lapack = scipy.__config__.CONFIG["Build Dependencies"]["lapack"]  # type: ignore[attr-defined]
        info["lapack"] = f"{lapack.get('name')} {lapack.get('version')}"
    except Exception:
        pass
    info.update(threads_info())
    return info


def _setup_threads(n: int) -> None:
    from jitscope.backends.numpy_backend import limit_threads

    limit_threads(n)


BACKEND = Backend(
    name=NAME,
    description="SciPy: LU via LAPACK getrf (partial pivoting), lu only",
    requires=("scipy",),
    extra="scipy",
    devices=("cpu",),
    info=_info,
    setup_threads=_setup_threads,
)
