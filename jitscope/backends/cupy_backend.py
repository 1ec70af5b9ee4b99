"""CuPy: NumPy-style code on a CUDA GPU (``devices=("cuda",)``).

The same algorithms as the numpy backend, on device arrays: two cuBLAS mat-vecs per epoch,
chunked device RNG for ``mcpi``, one rank-1 update per k for ``lu``, structure of arrays for
``nodes``. Kernels are launched asynchronously on the current stream, so ``sync`` waits for
that stream. Float32 mat-vecs stay in full float32 (CuPy does not use TF32 unless asked).

This machine class may have no GPU; then ``cupy is not installed`` (the probe never imports
it) or ``no cuda device visible to cupy`` is the skip reason.
"""

from __future__ import annotations

from typing import Any

from jitscope.core import backend as api

NAME = "cupy"
MCPI_CHUNK = 1 << 22


def _cp() -> Any:
    import cupy

    return cupy


def _check_device() -> Any:
    cp = _cp()
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise api.SkipCell("cupy sees no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError as exc:
        raise api.SkipCell(f"cupy cannot use CUDA: {exc}") from None
    return cp


def _sync(out: Any = None) -> None:
    _cp().cuda.get_current_stream().synchronize()


def _put(x: Any, dtype: str) -> Any:
    cp = _cp()
    arr = cp.asarray(x, dtype=dtype)
    _sync()
    return arr


def _notes(ctx: api.CellContext, **extra: Any) -> dict[str, Any]:
    cp = _cp()
    notes = {
        "sync": "current CUDA stream synchronize()",
        "compiler": f"cupy {cp.__version__} (cuBLAS / NVRTC elementwise kernels)",
        "threads": "n/a (GPU)",
    }
    notes.update(extra)
    return notes


class PoolPeak:
    """CuPy's memory pool as the device high-water mark. The pool grows only when the arrays
    alive at one moment need more than it holds, and never shrinks by itself, so after
    ``free_all_blocks()`` (which returns the cached, unused blocks) its size at the end of the
    cell bounds from above the most the cell's arrays held at once (inputs included; block
    rounding makes it an upper bound, not the exact peak). CuPy keeps no peak counter itself,
    and a memory hook would add a Python call to every allocation inside the timed calls."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def reset(self) -> None:
        self._pool.free_all_blocks()

    def peak(self) -> int | None:
        return int(self._pool.total_bytes())


def _kernel(run: Any, **kwargs: Any) -> api.FunctionKernel:
    """CuPy compiles its elementwise kernels with NVRTC and caches them on disk, but keeps no
    counter anyone can read: compiled and cache stay ``unknown`` (the default watch)."""
    return api.FunctionKernel(run, device_peak=PoolPeak(_cp().get_default_memory_pool()), **kwargs)


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """The CUDA context and the memory pool start with the first device call: start-up."""
    cp = _cp()
    if cp.cuda.runtime.getDeviceCount() < 1:
        return {}
    cp.zeros(1).sum().get()
    _sync()
    return {"cuda_context": "created"}


def _linreg(ctx: api.CellContext) -> api.Kernel:
    cp = _check_device()
    n = ctx.inputs["X"].shape[0]
    epochs = int(ctx.inputs["epochs"])
    data: dict[str, Any] = {}

    def transfer() -> None:
        data["X"] = _put(ctx.inputs["X"], ctx.dtype)
        data["y"] = _put(ctx.inputs["y"], ctx.dtype)
        dt = data["X"].dtype.type
        data["scale"] = dt(2.0 / n)
        data["mu"] = dt(ctx.inputs["mu"])

    def run() -> Any:
        X, y, scale, mu = data["X"], data["y"], data["scale"], data["mu"]
        w = cp.zeros(X.shape[1], dtype=X.dtype)
        for _ in range(epochs):
            r = X @ w - y
            w -= mu * (scale * (X.T @ r))
        return w

    kernel = _kernel(
        run, transfer=transfer, sync=_sync, fetch=lambda out: cp.asnumpy(out),
        notes=_notes(ctx, layout="X@w and X.T@r (cuBLAS gemv) per epoch"),
    )
    return kernel


def _mcpi(ctx: api.CellContext) -> api.Kernel:
    cp = _check_device()
    n = int(ctx.inputs["n"])
    seed = int(ctx.inputs["seed"])
    chunk = min(n, MCPI_CHUNK)

    def run() -> Any:
        rng = cp.random.default_rng(seed)
        total = cp.zeros((), dtype=cp.int64)
        probe = None
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            x = rng.random(m, dtype=ctx.dtype)
            y = rng.random(m, dtype=ctx.dtype)
            total += cp.count_nonzero(x * x + y * y <= 1)
            probe = x[:1]  # a sample: the int64 count says nothing of the points' dtype
        return total, probe

    return _kernel(
        run, sync=_sync, fetch=lambda out: 4.0 * int(out[0].get()) / n, ran_with=lambda out: out[1],
        notes=_notes(ctx, rng="cupy.random.default_rng (XORWOW)", layout=f"chunks of {chunk}, int64 device counter"),
    )


def _lu(ctx: api.CellContext) -> api.Kernel:
    cp = _check_device()
    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = _put(ctx.inputs["A"], ctx.dtype)

    def run() -> Any:
        a = data["A"].copy()
        size = a.shape[0]
        for k in range(size - 1):
            a[k + 1 :, k] /= a[k, k]
            a[k + 1 :, k + 1 :] -= cp.outer(a[k + 1 :, k], a[k, k + 1 :])
        diag = cp.diagonal(a).astype(cp.float64)
        return cp.prod(cp.sign(diag)), cp.sum(cp.log(cp.abs(diag))), a  # a: the factor, its dtype

    kernel = _kernel(
        run, transfer=transfer, sync=_sync, fetch=lambda out: (float(out[0].get()), float(out[1].get())),
        ran_with=lambda out: out[2],
        notes=_notes(ctx, layout="copy of A; per k: scale column, rank-1 update of the trailing block"),
    )
    return kernel


def _nodes(ctx: api.CellContext) -> api.Kernel:
    cp = _check_device()
    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    seed = int(ctx.inputs["seed"])

    def run() -> Any:
        rng = cp.random.default_rng(seed)
        keys = cp.arange(n, dtype=cp.int64)
        bias = cp.full(keys.shape[0], 0.5, dtype=ctx.dtype)
        mutate = rng.random(n, dtype=ctx.dtype) < p
        bias += cp.where(mutate, rng.random(n, dtype=ctx.dtype), 0)
        return bias.sum()

    return _kernel(
        run, sync=_sync, fetch=lambda out: float(out.get()),
        notes=_notes(ctx, rng="cupy.random.default_rng (XORWOW)", layout="structure of arrays, mask"),
    )


def _info() -> dict[str, Any]:
    cp = _cp()
    info: dict[str, Any] = {"version": cp.__version__, "devices": [], "device_reasons": {}}
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, no device
        count = 0
        info["device_reasons"]["cuda"] = f"cupy cannot use CUDA: {exc}"
    if count:
        info["devices"].append("cuda")
        props = cp.cuda.runtime.getDeviceProperties(0)
        name = props.get("name", b"")
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
        info["cuda_driver"] = cp.cuda.runtime.driverGetVersion()
    info["device_reasons"]["cpu"] = "cupy runs on CUDA GPUs only"
    return info


_CUDA = ("cuda",)

# ---- users' own kernels ---------------------------------------------------------------------
def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """The user's CuPy code on device arrays of the cell's dtype; the current stream is
    synchronised after each call and every leaf of the result copied back with ``asnumpy``."""
    from jitscope.backends._adapt import cast_inputs, library_message, tree_map

    cp = _check_device()
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: _put(a, ctx.dtype), lambda a: _put(a, str(a.dtype))))

    def fetch(out: Any) -> Any:
        return tree_map(lambda v: cp.asnumpy(v) if isinstance(v, cp.ndarray) else v, out)

    return _kernel(lambda: user.fn(**data), transfer=transfer, sync=_sync, fetch=fetch,
                   ran_with=lambda out: (out, data), explain=library_message, notes=_notes(ctx))


BACKEND = api.Backend(
    name=NAME,
    description="CuPy: NumPy-style arrays on a CUDA GPU",
    requires=("cupy",),
    extra="cupy",
    devices=_CUDA,
    info=_info,
    startup=_startup,
    adapter=api.Adapter(_adapt, variants=("default",), devices=_CUDA),
)
