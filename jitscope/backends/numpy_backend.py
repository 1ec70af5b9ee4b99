"""NumPy: vectorised, two BLAS-2 calls per gradient-descent epoch. Also the home of
``threads_info``, used by every CPU backend to record the BLAS pools it really got."""

from __future__ import annotations

from typing import Any

from jitscope.core.backend import Adapter, Backend, CellContext, FunctionKernel, Kernel, UserKernel

RNG_NOTE = "numpy default_rng (PCG64)"
MCPI_CHUNK = 1 << 20


def _np() -> Any:
    import numpy

    return numpy


def _dtype(ctx: CellContext) -> Any:
    return _np().dtype(ctx.dtype)


def estimate_pi(n: int, seed: int, dtype: Any) -> tuple[float, Any]:
    """Chunked estimate (memory stays bounded whatever n is), PCG64 stream. Returns the
    estimate and a probe: the first x coordinate of the last chunk, an array in the dtype the
    points really had."""
    np = _np()
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


def _mcpi(ctx: CellContext) -> Kernel:
    dt = _dtype(ctx).type

    def run() -> tuple[float, Any]:
        return estimate_pi(ctx.inputs["n"], ctx.inputs["seed"], dt)

    return FunctionKernel(
        run, compiler=False, fetch=lambda out: out[0], ran_with=lambda out: out[1],
        notes={"rng": RNG_NOTE, "layout": f"chunks of {MCPI_CHUNK}"},
    )


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
