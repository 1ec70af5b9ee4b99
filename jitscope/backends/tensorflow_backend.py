"""TensorFlow: ``tf.function(jit_compile=True)`` (XLA) with graph loops, on CPU or GPU.

Traps handled here (docs/design.md §3):

* loops are graph loops (``tf.range`` under AutoGraph becomes ``tf.while_loop``), so an epoch
  count never unrolls into the graph;
* every per-call value is a tensor (a Python scalar argument retraces for each new value);
  shapes that XLA must know statically (n for ``nodes``) are fixed per cell when the function
  is built;
* sync by materialising the result (``.numpy()``), because eager ops may return before the
  device is done;
* GPU memory growth is enabled before the runtime starts; ``TF_CPP_MIN_LOG_LEVEL`` quiets it.
"""

from __future__ import annotations

from typing import Any

from jitscope.core import backend as api

NAME = "tensorflow"
MCPI_CHUNK = 1 << 20


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _device_name(ctx: api.CellContext) -> str:
    tf = _tf()
    if ctx.device == "cuda":
        if not tf.config.list_logical_devices("GPU"):
            raise api.SkipCell("tensorflow sees no GPU")
        return "/GPU:0"
    return "/CPU:0"


def _notes(ctx: api.CellContext, **extra: Any) -> dict[str, Any]:
    tf = _tf()
    notes = {
        "sync": "result materialised with .numpy()",
        "compiler": "XLA via tf.function(jit_compile=True)",
        "threads": (
            f"intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'default (all cores)'}, "
            f"inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'default'}"
        )
        if ctx.device == "cpu"
        else "n/a (GPU)",
    }
    notes.update(extra)
    return notes


def _to_numpy(out: Any) -> Any:
    if isinstance(out, tuple | list):
        return tuple(o.numpy() for o in out)
    return out.numpy()


def _sync(out: Any) -> None:
    _to_numpy(out)


class TfDevicePeak:
    """TensorFlow's allocator statistics for a GPU: ``reset_memory_stats`` then
    ``get_memory_info(...)["peak"]`` (the CPU allocator keeps none: the engine never asks)."""

    def __init__(self, device: str) -> None:
        self._device = device.removeprefix("/")  # "GPU:0"

    def reset(self) -> None:
        _tf().config.experimental.reset_memory_stats(self._device)

    def peak(self) -> int | None:
        try:
            return int(_tf().config.experimental.get_memory_info(self._device)["peak"])
        except (ValueError, KeyError):
            return None


def _kernel(fn: Any, dev: str, run: Any, **kwargs: Any) -> api.FunctionKernel:
    """A ``tf.function`` kernel: its tracing count watched, the GPU allocator's peak read."""
    peak = TfDevicePeak(dev) if dev.startswith("/GPU") else None
    return api.FunctionKernel(run, device_peak=peak, watch=lambda: TracingWatch(fn), **kwargs)


def _put(x: Any, dtype: Any, device: str) -> Any:
    tf = _tf()
    with tf.device(device):
        t = tf.identity(tf.constant(x, dtype=dtype))
    # Wait until it is really there: a reduction on the device, materialised on the host.
    with tf.device(device):
        tf.reduce_sum(tf.reshape(t, [-1])[:1]).numpy()
    return t


# ---- linreg ---------------------------------------------------------------------------------
def _linreg(ctx: api.CellContext) -> api.Kernel:
    tf = _tf()
    dt = tf.as_dtype(ctx.dtype)
    dev = _device_name(ctx)
    n = ctx.inputs["X"].shape[0]
    data: dict[str, Any] = {}

    @tf.function(jit_compile=True)
    def gd(X: Any, y: Any, mu: Any, scale: Any, epochs: Any) -> Any:
        w = tf.zeros([tf.shape(X)[1], 1], dtype=X.dtype)
        for _ in tf.range(epochs):
            r = tf.matmul(X, w) - y
            g = scale * tf.matmul(X, r, transpose_a=True)
            w = w - mu * g
        return tf.reshape(w, [-1])

    def transfer() -> None:
        data["X"] = _put(ctx.inputs["X"], dt, dev)
        data["y"] = _put(ctx.inputs["y"].reshape(-1, 1), dt, dev)
        data["mu"] = _put(ctx.inputs["mu"], dt, dev)
        data["scale"] = _put(2.0 / n, dt, dev)
        data["epochs"] = _put(int(ctx.inputs["epochs"]), tf.int32, dev)

    def run() -> Any:
        with tf.device(dev):
            return gd(data["X"], data["y"], data["mu"], data["scale"], data["epochs"])

    return _kernel(
        gd, dev,
        run,
        transfer=transfer,
        sync=_sync,
        fetch=_to_numpy,
        notes=_notes(ctx, layout="X@w and X^T@r (matmul transpose_a) per epoch in a tf.range graph loop"),
    )


# ---- mcpi -----------------------------------------------------------------------------------
def _mcpi(ctx: api.CellContext) -> api.Kernel:
    tf = _tf()
    dt = tf.as_dtype(ctx.dtype)
    dev = _device_name(ctx)
    n = int(ctx.inputs["n"])
    chunk = min(n, MCPI_CHUNK)
    data: dict[str, Any] = {}

    @tf.function(jit_compile=True)
    def estimate(seed: Any, n: Any) -> Any:
        nchunks = (n + chunk - 1) // chunk
        count = tf.zeros([], tf.int64)
        probe = tf.zeros([], dt)  # a sample out of the loop: graph loops keep a variable's dtype
        lane = tf.range(chunk, dtype=tf.int64)
        for i in tf.range(nchunks):
            xy = tf.random.stateless_uniform([2, chunk], seed=tf.stack([seed, i]), dtype=dt)
            inside = xy[0] * xy[0] + xy[1] * xy[1] <= 1
            valid = i * chunk + lane < n  # the last chunk may be partial
            count += tf.reduce_sum(tf.cast(tf.logical_and(inside, valid), tf.int64))
            probe = xy[0, 0]
        return 4.0 * tf.cast(count, tf.float64) / tf.cast(n, tf.float64), probe

    def transfer() -> None:
        data["seed"] = _put(int(ctx.inputs["seed"]), tf.int64, dev)
        data["n"] = _put(n, tf.int64, dev)

    def run() -> Any:
        with tf.device(dev):
            return estimate(data["seed"], data["n"])

    return _kernel(
        estimate, dev,
        run,
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: float(out[0].numpy()),
        ran_with=lambda out: out[1],  # the estimate is float64 whatever ran; the sample is not
        notes=_notes(
            ctx,
            rng="tf.random.stateless_uniform (Philox), seed (seed, chunk index) per chunk",
            layout=f"graph loop over chunks of {chunk}: generate, test, count (int64 counter)",
        ),
    )


# ---- lu -------------------------------------------------------------------------------------
def _lu(ctx: api.CellContext) -> api.Kernel:
    tf = _tf()
    dt = tf.as_dtype(ctx.dtype)
    dev = _device_name(ctx)
    size = ctx.size
    data: dict[str, Any] = {}

    @tf.function(jit_compile=True)
    def lu_slogdet(A: Any) -> Any:
        idx = tf.range(size)
        a = A
        for k in tf.range(size - 1):
            below = idx > k
            col = tf.where(below, a[:, k] / a[k, k], tf.zeros([], a.dtype))
            row = tf.where(below, a[k, :], tf.zeros([], a.dtype))
            a = a - col[:, None] * row[None, :]
            col_mask = tf.logical_and(below[:, None], tf.equal(idx, k)[None, :])
            a = tf.where(col_mask, col[:, None], a)
        diag = tf.linalg.diag_part(a)
        logdet = tf.reduce_sum(tf.cast(tf.math.log(tf.abs(diag)), tf.float64))
        return tf.reduce_prod(tf.sign(diag)), logdet

    def transfer() -> None:
        data["A"] = _put(ctx.inputs["A"], dt, dev)

    def run() -> Any:
        with tf.device(dev):
            return lu_slogdet(data["A"])

    return _kernel(
        lu_slogdet, dev,
        run,
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: (float(out[0].numpy()), float(out[1].numpy())),
        # The sign comes from the factor's diagonal in its dtype; logdet is always float64.
        ran_with=lambda out: out[0],
        notes=_notes(
            ctx,
            layout="functional (each call starts from the untouched A); masked full-size rank-1 "
            "update per k in a graph loop (n^3 flops instead of 2n^3/3, static shapes for XLA)",
        ),
    )


# ---- nodes ----------------------------------------------------------------------------------
def _nodes(ctx: api.CellContext) -> api.Kernel:
    tf = _tf()
    dt = tf.as_dtype(ctx.dtype)
    dev = _device_name(ctx)
    n = int(ctx.inputs["n"])  # XLA needs the array length at compile time: fixed per cell
    data: dict[str, Any] = {}

    @tf.function(jit_compile=True)
    def checksum(seed: Any, p: Any) -> Any:
        bias = tf.fill([n], tf.constant(0.5, dt))
        mutate = tf.random.stateless_uniform([n], seed=tf.stack([seed, 0]), dtype=dt) < p
        value = tf.random.stateless_uniform([n], seed=tf.stack([seed, 1]), dtype=dt)
        bias = bias + tf.where(mutate, value, tf.zeros([], dt))
        return tf.reduce_sum(bias)

    def transfer() -> None:
        data["seed"] = _put(int(ctx.inputs["seed"]), tf.int64, dev)
        data["p"] = _put(float(ctx.inputs["p"]), dt, dev)

    def run() -> Any:
        with tf.device(dev):
            return checksum(data["seed"], data["p"])

    return _kernel(
        checksum, dev,
        run,
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: float(out.numpy()),
        notes=_notes(
            ctx,
            rng="tf.random.stateless_uniform (Philox), one seed per array",
            layout="structure of arrays (keys implicit), vectorised mask; checksum in the cell's dtype",
        ),
    )


# ---- observation ------------------------------------------------------------------------------
class TracingWatch(api.CompileWatch):
    """A ``tf.function(jit_compile=True)`` compiles with XLA for each new trace: its tracing
    count growing during the first call means this call traced and compiled. TensorFlow
    keeps no compilation cache across processes by default: ``n/a``."""

    def __init__(self, fn: Any) -> None:
        self._fn = fn
        self._before = 0

    def _count(self) -> int | None:
        try:
            return int(self._fn.experimental_get_tracing_count())
        except (AttributeError, TypeError):
            return None

    def start(self) -> None:
        self._before = self._count() or 0

    def stop(self) -> api.CompileObservation:
        after = self._count()
        if after is None:
            return api.CompileObservation("unknown", "unknown")
        if _runs_eagerly():
            return api.CompileObservation("no", "n/a", detail="tf.function ran eagerly: nothing traced or compiled")
        traced = after - self._before
        if traced > 0:
            return api.CompileObservation("yes", "n/a", detail=f"tf.function traced {traced} time(s); XLA compiled")
        return api.CompileObservation("no", "n/a", detail="no new trace")

    def fell_back(self) -> str:
        if _runs_eagerly():
            return ("tf.function ran eagerly (tf.config.run_functions_eagerly(True) in this worker): "
                    "not traced, not compiled with XLA")
        return ""


def _runs_eagerly() -> bool:
    """``tf.config.run_functions_eagerly(True)`` (a kernel file can call it) makes every
    ``tf.function`` run its Python eagerly: no trace, so the count alone reads "no new trace"."""
    import tensorflow as tf

    return bool(tf.config.functions_run_eagerly())


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """TensorFlow's runtime and XLA start on the first compiled function: pay that here."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def touch(x: Any) -> Any:
        return x * 2.0 + 1.0

    dev = "/GPU:0" if device == "cuda" and tf.config.list_physical_devices("GPU") else "/CPU:0"
    with tf.device(dev):
        touch(tf.ones([4])).numpy()
    return {"runtime_initialised": f"trivial XLA function on {dev}"}


# ---- backend --------------------------------------------------------------------------------
def _info() -> dict[str, Any]:
    tf = _tf()
    info: dict[str, Any] = {"version": tf.__version__, "devices": ["cpu"], "device_reasons": {}}
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # runtime already initialised
            info["memory_growth_error"] = str(exc)
    if gpus:
        info["devices"].append("cuda")
        try:
            details = tf.config.experimental.get_device_details(gpus[0])
            info["gpu"] = details.get("device_name", gpus[0].name)
        except Exception:
            info["gpu"] = gpus[0].name
        info["memory_growth"] = True
    else:
        built = tf.sysconfig.get_build_info()
        why = "no GPU visible to tensorflow"
        if not built.get("is_cuda_build", False):
            why = "this tensorflow build has no CUDA support"
        info["device_reasons"]["cuda"] = why
    info["cuda_build"] = bool(tf.sysconfig.get_build_info().get("is_cuda_build", False))
    return info


def _setup_threads(n: int) -> None:
    tf = _tf()
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(max(1, min(n, 2)))


_DEV = ("cpu", "cuda")

# ---- users' own kernels ---------------------------------------------------------------------
def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """``tf.function(fn, jit_compile=True)``: inputs as tensors of the cell's dtype on its
    device, synced by materialising every leaf of the result (``.numpy()``), tracing counted
    as the compile evidence. A function XLA cannot compile fails with TensorFlow's message."""
    from jitscope.backends._adapt import cast_inputs, leaves, library_message, tree_map

    tf = _tf()
    dt = tf.as_dtype(ctx.dtype)
    dev = _device_name(ctx)
    fn = tf.function(user.fn, **{"jit_compile": True, **user.library_options()})
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: _put(a, dt, dev), lambda a: _put(a, tf.as_dtype(a.dtype), dev)))

    def run() -> Any:
        with tf.device(dev):
            return fn(**data)

    def sync(out: Any) -> None:
        for leaf in leaves(out):
            if hasattr(leaf, "numpy"):
                leaf.numpy()

    def fetch(out: Any) -> Any:
        return tree_map(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)

    return _kernel(fn, dev, run, transfer=transfer, sync=sync, fetch=fetch, ran_with=lambda out: (out, data),
                   explain=library_message, notes=_notes(ctx, jit="tf.function(fn, jit_compile=True)"))


BACKEND = api.Backend(
    name=NAME,
    description="TensorFlow: tf.function(jit_compile=True), graph loops, .numpy() sync",
    requires=("tensorflow",),
    extra="tensorflow",
    devices=_DEV,
    info=_info,
    startup=_startup,
    setup_threads=_setup_threads,
    adapter=api.Adapter(_adapt, variants=("default",), devices=_DEV, passes_options_to="tf.function"),
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
)
