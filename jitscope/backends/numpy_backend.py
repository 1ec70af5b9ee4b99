"""NumPy: vectorised. Its built-in kernels are plain functions in the workloads' own files,
run by this module's adapter as a user's are. Also the home of ``threads_info``, used by
every CPU backend to record the BLAS pools it really got."""

from __future__ import annotations

from typing import Any

from jitscope.core.backend import Adapter, Backend, CellContext, FunctionKernel, Kernel, UserKernel


def _np() -> Any:
    import numpy

    return numpy


def threads_info() -> dict[str, Any]:
    """The thread pools the process really has (threadpoolctl when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    return {
        "threadpools": [
            f"{p.get('internal_api')}:{p.get('num_threads')}" for p in threadpool_info()
        ]
    }


def limit_threads(n: int) -> None:
    """Cap BLAS/OpenMP pools already loaded (env vars cover the ones loaded later)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(n)


def _info() -> dict[str, Any]:
    np = _np()
    info: dict[str, Any] = {"version": np.__version__, "devices": ["cpu"]}
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]  # type: ignore[attr-defined]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        pass
    info.update(threads_info())
    return info


def _adapt(ctx: CellContext, user: UserKernel, variant: str) -> Kernel:
    """A user's NumPy kernel: the inputs cast to the cell's dtype (in the transfer), called as
    they are. The dtype is read from the output and the arrays it was given: a kernel that
    upcasts to float64 shows ``float32+float64``, not the request."""
    from jitscope.backends._adapt import cast_inputs, to_numpy

    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: a))

    kernel = FunctionKernel(lambda: user.fn(**data), compiler=False, transfer=transfer, fetch=to_numpy,
                            ran_with=lambda out: (out, data), arguments=data)
    return kernel


BACKEND = Backend(
    name="numpy",
    description="NumPy, vectorised (BLAS for the mat-vecs)",
    requires=("numpy",),
    devices=("cpu",),
    info=_info,
    setup_threads=limit_threads,
    adapter=Adapter(_adapt, variants=("default",)),
)
