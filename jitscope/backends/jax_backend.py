"""JAX: ``jax.jit`` with ``lax.fori_loop`` (a Python loop would unroll and compile for
seconds), on CPU or a CUDA GPU.

Traps handled here (docs/design.md §3):

* float64 needs ``jax_enable_x64``; the worker turns it on through ``JAX_ENABLE_X64=1``
  (``Backend.env``). If x64 is off anyway, a float64 cell is *skipped*, never silently run in
  float32; the cell's dtype is read from the device arrays the kernel computed with.
* dispatch is asynchronous: ``sync`` is ``block_until_ready`` on every timed call.
* on a GPU, XLA pre-allocates 75% of memory: ``XLA_PYTHON_CLIENT_PREALLOCATE=false``.
* float32 matmuls on recent GPUs default to TF32: the dots ask for ``precision="highest"``.
"""

from __future__ import annotations

import math
import os
from typing import Any

from jitscope.backends._observe import OncePerWorker
from jitscope.core import backend as api

NAME = "jax"
MCPI_CHUNK = 1 << 20
_PLATFORM = {"cpu": "cpu", "cuda": "gpu"}


def _jax() -> Any:
    import jax

    return jax


def _device(ctx: api.CellContext) -> Any:
    jax = _jax()
    try:
        return jax.devices(_PLATFORM[ctx.device])[0]
    except RuntimeError as exc:
        raise api.SkipCell(f"jax has no {ctx.device} device: {exc}") from None


def _dtype(ctx: api.CellContext) -> Any:
    jax = _jax()
    import jax.numpy as jnp

    if ctx.dtype == "float64" and not jax.config.jax_enable_x64:
        raise api.SkipCell("jax x64 is disabled (JAX_ENABLE_X64=0): float64 would silently run as float32")
    return jnp.dtype(ctx.dtype)


def _notes(ctx: api.CellContext, **extra: Any) -> dict[str, Any]:
    jax = _jax()
    notes = {
        "sync": "jax.block_until_ready on every timed call",
        "compiler": f"XLA via jax.jit (jaxlib {_jaxlib_version()})",
        "x64": bool(jax.config.jax_enable_x64),
        "threads": _threads_note(ctx.device),
    }
    notes.update(extra)
    return notes


def _jaxlib_version() -> str:
    try:
        import jaxlib

        return str(jaxlib.__version__)
    except Exception:
        return "?"


def _threads_note(device: str) -> str:
    if device != "cpu":
        return "n/a (GPU)"
    if "xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", ""):
        return "1 (XLA_FLAGS --xla_cpu_multi_thread_eigen=false)"
    return f"XLA CPU thread pool (all {os.cpu_count()} cores)"


def _sync(out: Any) -> None:
    _jax().block_until_ready(out)


class JaxDevicePeak:
    """``peak_bytes_in_use`` from the device allocator's statistics (a GPU; the CPU client
    keeps none). JAX cannot reset that high-water mark, so a cell reports it only when it
    rose during the cell (then it is this cell's peak); otherwise ``None``: the cell stayed
    under an earlier peak, and by how much is not observable."""

    def __init__(self, device: Any) -> None:
        self._device = device
        self._before: int | None = None

    def _peak_now(self) -> int | None:
        try:
            stats = self._device.memory_stats() or {}
        except Exception:  # a client without allocator statistics
            return None
        value = stats.get("peak_bytes_in_use")
        return int(value) if value is not None else None

    def reset(self) -> None:
        self._before = self._peak_now()

    def peak(self) -> int | None:
        after = self._peak_now()
        if after is None or self._before is None or after <= self._before:
            return None
        return after


def _kernel(ctx: api.CellContext, dev: Any, run: Any, **kwargs: Any) -> api.FunctionKernel:
    """A jitted kernel: compilation watched through jax.monitoring, the device peak read
    from the allocator on a GPU."""
    peak = JaxDevicePeak(dev) if ctx.device != "cpu" else None
    return api.FunctionKernel(run, device_peak=peak, watch=JaxCompileWatch, **kwargs)


def _put(x: Any, dtype: Any, device: Any) -> Any:
    import numpy as np

    arr = _jax().device_put(np.asarray(x, dtype=dtype), device)
    arr.block_until_ready()
    return arr


# ---- linreg ---------------------------------------------------------------------------------
def _linreg(ctx: api.CellContext) -> api.Kernel:
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax

    dt = _dtype(ctx)
    dev = _device(ctx)
    n = ctx.inputs["X"].shape[0]
    data: dict[str, Any] = {}

    @jax.jit
    def gd(X: Any, y: Any, mu: Any, scale: Any, epochs: Any) -> Any:
        def epoch(_: Any, w: Any) -> Any:
            r = jnp.matmul(X, w, precision="highest") - y
            g = scale * jnp.matmul(X.T, r, precision="highest")
            return w - mu * g

        return lax.fori_loop(0, epochs, epoch, jnp.zeros(X.shape[1], X.dtype))

    def transfer() -> None:
        data["X"] = _put(ctx.inputs["X"], dt, dev)
        data["y"] = _put(ctx.inputs["y"], dt, dev)
        data["mu"] = _put(ctx.inputs["mu"], dt, dev)
        data["scale"] = _put(2.0 / n, dt, dev)
        data["epochs"] = _put(int(ctx.inputs["epochs"]), jnp.int32, dev)

    def run() -> Any:
        return gd(data["X"], data["y"], data["mu"], data["scale"], data["epochs"])

    return _kernel(
        ctx, dev,
        run,
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: jax.device_get(out),
        notes=_notes(ctx, layout="X@w and X.T@r per epoch inside lax.fori_loop (XLA fuses the rest)",
                     matmul_precision="highest"),
    )


# ---- mcpi -----------------------------------------------------------------------------------
def _mcpi(ctx: api.CellContext) -> api.Kernel:
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax

    dt = _dtype(ctx)
    dev = _device(ctx)
    n = int(ctx.inputs["n"])
    chunk = min(n, MCPI_CHUNK)
    nchunks = math.ceil(n / chunk)
    count_dt = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
    if n >= 2**31 and count_dt == jnp.int32:
        raise api.SkipCell("jax without x64 counts in int32, which overflows at 2**31 samples")
    data: dict[str, Any] = {}

    @jax.jit
    def estimate(key: Any) -> Any:
        lane = jnp.arange(chunk)

        def body(i: Any, carry: Any) -> Any:
            count, _ = carry
            xy = jax.random.uniform(jax.random.fold_in(key, i), (2, chunk), dt)
            inside = xy[0] * xy[0] + xy[1] * xy[1] <= 1
            valid = i * chunk + lane < n  # the last chunk may be partial
            # The carry keeps one sample as a probe of the points' dtype: fori_loop requires
            # the body to return exactly the carry's types, so it cannot differ silently.
            return count + jnp.sum(inside & valid, dtype=count_dt), xy[0, 0]

        count, probe = lax.fori_loop(0, nchunks, body, (jnp.zeros((), count_dt), jnp.zeros((), dt)))
        return 4.0 * count / n, probe

    def transfer() -> None:
        data["key"] = jax.device_put(jax.random.key(int(ctx.inputs["seed"])), dev)
        data["key"].block_until_ready()

    return _kernel(
        ctx, dev,
        lambda: estimate(data["key"]),
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: float(out[0]),
        ran_with=lambda out: out[1],
        notes=_notes(
            ctx,
            rng=f"jax.random {jax.config.jax_default_prng_impl}, fold_in(key, chunk index) per chunk",
            layout=f"fori_loop over chunks of {chunk}: generate, test, count ({jnp.dtype(count_dt).name} counter)",
        ),
    )


# ---- lu -------------------------------------------------------------------------------------
def _lu(ctx: api.CellContext) -> api.Kernel:
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax

    dt = _dtype(ctx)
    dev = _device(ctx)
    size = ctx.size
    acc_dt = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    data: dict[str, Any] = {}

    @jax.jit
    def lu_slogdet(A: Any) -> Any:
        idx = jnp.arange(size)

        def step(k: Any, a: Any) -> Any:
            below = idx > k
            col = jnp.where(below, a[:, k] / a[k, k], 0)  # multipliers l_ik, zero at/above k
            row = jnp.where(below, a[k, :], 0)  # u_kj for j > k
            a = a - jnp.outer(col, row)
            return a.at[:, k].set(jnp.where(below, col, a[:, k]))

        a = lax.fori_loop(0, size - 1, step, A)
        diag = jnp.diagonal(a)
        return jnp.prod(jnp.sign(diag)), jnp.sum(jnp.log(jnp.abs(diag)).astype(acc_dt))

    def transfer() -> None:
        data["A"] = _put(ctx.inputs["A"], dt, dev)

    return _kernel(
        ctx, dev,
        lambda: lu_slogdet(data["A"]),
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: (float(out[0]), float(out[1])),
        # The sign comes from the factor's diagonal, in the factor's dtype; logdet is
        # accumulated in float64 whatever ran, so it says nothing.
        ran_with=lambda out: out[0],
        notes=_notes(
            ctx,
            layout="functional (A is never modified, so each call factors a fresh A); "
            "masked full-size rank-1 update per k in fori_loop (n^3 flops instead of 2n^3/3, "
            "static shapes for XLA)",
        ),
    )


# ---- nodes ----------------------------------------------------------------------------------
def _nodes(ctx: api.CellContext) -> api.Kernel:
    jax = _jax()
    import jax.numpy as jnp

    dt = _dtype(ctx)
    dev = _device(ctx)
    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    data: dict[str, Any] = {}

    @jax.jit
    def checksum(key: Any, p: Any) -> Any:
        k_mutate, k_value = jax.random.split(key)
        bias = jnp.full(n, 0.5, dt)
        mutate = jax.random.uniform(k_mutate, (n,), dt) < p
        bias = bias + jnp.where(mutate, jax.random.uniform(k_value, (n,), dt), 0)
        return jnp.sum(bias)

    def transfer() -> None:
        data["key"] = jax.device_put(jax.random.key(int(ctx.inputs["seed"])), dev)
        data["p"] = _put(p, dt, dev)

    return _kernel(
        ctx, dev,
        lambda: checksum(data["key"], data["p"]),
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: float(out),
        notes=_notes(
            ctx,
            rng=f"jax.random {jax.config.jax_default_prng_impl}, one key per array",
            layout="structure of arrays (keys are implicit: node i has key i), "
            "vectorised mask; checksum summed in the cell's dtype",
        ),
    )


# ---- backend --------------------------------------------------------------------------------
# ---- observation ------------------------------------------------------------------------------
_SEEN: dict[str, int] = {"compiles": 0, "cache_hits": 0, "cache_misses": 0}
def _register_listeners() -> None:
    """Listeners on JAX's own monitoring events: one backend compile duration per real XLA
    compilation, and the persistent cache's hit/miss events."""
    from jax import monitoring

    def on_duration(event: str, *args: Any, **kwargs: Any) -> None:
        if event.endswith("/backend_compile_duration"):
            _SEEN["compiles"] += 1

    def on_event(event: str, *args: Any, **kwargs: Any) -> None:
        if event.endswith("/compilation_cache/cache_hits"):
            _SEEN["cache_hits"] += 1
        elif event.endswith("/compilation_cache/cache_misses"):
            _SEEN["cache_misses"] += 1

    monitoring.register_event_duration_secs_listener(on_duration)
    monitoring.register_event_listener(on_event)


_listen = OncePerWorker(_register_listeners)


class JaxCompileWatch(api.CompileWatch):
    """``jax.monitoring`` events during the first call. Each jitted computation that was
    traced and lowered records one backend-compile duration, whether XLA then compiled it or
    the persistent cache (only when configured: ``jax_compilation_cache_dir``) supplied the
    executable; the cache's own hit/miss events tell which. Compiled = yes when a computation
    was traced and lowered in this call (like a Dynamo trace whose Inductor code came from
    the cache, that front-end work is the JIT's); no when JAX reused a compiled executable
    from this worker; cache = n/a without a persistent cache."""

    def start(self) -> None:
        self._ok = _listen()
        self._before = dict(_SEEN)

    def stop(self) -> api.CompileObservation:
        if not self._ok:
            return api.CompileObservation("unknown", "unknown")
        if _jit_disabled():
            return api.CompileObservation("no", "n/a", detail="jax: jit disabled; primitives dispatched one by one")
        compiles = _SEEN["compiles"] - self._before["compiles"]
        hits = _SEEN["cache_hits"] - self._before["cache_hits"]
        misses = _SEEN["cache_misses"] - self._before["cache_misses"]
        cache = "miss" if misses > 0 else "hit" if hits > 0 else "n/a"
        if compiles > 0:
            detail = f"jax: {compiles} computation(s) traced and lowered; XLA compiled {max(0, compiles - hits)}"
            if hits:
                detail += f", {hits} loaded from the persistent compilation cache"
            return api.CompileObservation("yes", cache, detail=detail)
        return api.CompileObservation("no", cache, detail="jax: executable reused from this worker (no trace, no compile)")

    def fell_back(self) -> str:
        if _jit_disabled():
            return ("jax.jit is disabled (jax_disable_jit, e.g. JAX_DISABLE_JIT=1): the calls ran op by op, "
                    "not as one compiled XLA computation")
        return ""


def _jit_disabled() -> bool:
    """``jax_disable_jit`` makes ``jax.jit`` run its function op by op, each primitive
    compiled on its own: the compile events fire as for a real jit (seen: 8 events in a
    linreg first call), so only the flag tells the two apart."""
    import jax

    return bool(getattr(jax.config, "jax_disable_jit", False))


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """JAX's backend client and XLA start on the first jitted call: pay that here."""
    import jax
    import jax.numpy as jnp

    _listen()
    platform = "gpu" if device == "cuda" else "cpu"
    try:
        target = jax.devices(platform)[0]
    except RuntimeError:
        target = jax.devices()[0]
    x = jax.device_put(jnp.ones(4), target)
    jax.jit(lambda v: v * 2 + 1)(x).block_until_ready()
    return {"runtime_initialised": f"trivial jit on {target}"}


def _info() -> dict[str, Any]:
    if os.environ.get("OMP_NUM_THREADS") == "1" and "multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        # One thread requested: XLA's CPU pool only honours this before the backend starts.
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    jax = _jax()
    info: dict[str, Any] = {
        "version": jax.__version__,
        "jaxlib": _jaxlib_version(),
        "x64": bool(jax.config.jax_enable_x64),
        "default_prng": str(jax.config.jax_default_prng_impl),
        "devices": ["cpu"],
        "device_reasons": {},
    }
    try:
        gpus = jax.devices("gpu")
    except RuntimeError as exc:
        gpus = []
        info["device_reasons"]["cuda"] = f"jaxlib has no GPU platform ({str(exc).split('.')[0]}); install jax[cuda12]"
    if gpus:
        info["devices"].append("cuda")
        info["gpu"] = gpus[0].device_kind
        info["gpu_count"] = len(gpus)
    if os.environ.get("XLA_FLAGS"):
        info["xla_flags"] = os.environ["XLA_FLAGS"]
    return info


# ---- users' own kernels ---------------------------------------------------------------------
def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """``jax.jit`` of the user's function: inputs put on the cell's device in its dtype
    (float64 needs x64, else the same skip as the built-ins), every leaf of the result
    blocked on, fetched with ``device_get``; compilation seen through ``jax.monitoring``."""
    from jitscope.backends._adapt import cast_inputs, library_message, to_numpy

    jax = _jax()
    dt = _dtype(ctx)
    dev = _device(ctx)
    fn = jax.jit(user.fn, **user.library_options())
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: _put(a, dt, dev), lambda a: _put(a, a.dtype, dev)))

    return _kernel(
        ctx, dev,
        lambda: fn(**data),
        transfer=transfer,
        sync=_sync,
        fetch=lambda out: to_numpy(jax.device_get(out)),
        ran_with=lambda out: (out, data),
        explain=library_message,
        notes=_notes(ctx, jit="jax.jit(fn)"),
    )


BACKEND = api.Backend(
    name=NAME,
    description="JAX: jit + lax.fori_loop (XLA), x64 honoured, block_until_ready",
    requires=("jax", "jaxlib"),
    extra="jax",
    devices=("cpu", "cuda"),
    info=_info,
    startup=_startup,
    adapter=api.Adapter(_adapt, variants=("default",), devices=("cpu", "cuda"), passes_options_to="jax.jit"),
    env={"JAX_ENABLE_X64": "1", "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
)
