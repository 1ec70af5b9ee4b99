"""Numba: ``@njit`` fused loops, a ``parallel`` (prange) variant, a ``vectorize`` (ufunc)
variant for ``mcpi``, a ``jitclass`` variant for ``nodes``, and a ``cuda`` variant
(``numba.cuda`` kernels on a CUDA GPU, or in numba's CUDA simulator: see ``_numba_cuda``).

Light at import: the kernels live in ``_numba_kernels`` and are imported inside the worker,
after ``NUMBA_CACHE_DIR`` points at jitscope's per-user cache (``cache=True`` everywhere it
is allowed). Whether the first call compiled, loaded from that cache or found the code
already compiled in this worker is observed (``NumbaCompileWatch``): compiled yes/no and
cache miss / hit / n/a.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from jitscope.backends._observe import OncePerWorker
from jitscope.core import backend as api

SERIAL_RNG = "numba np.random (Mersenne Twister), seeded inside the jitted code"
COUNTER_RNG = (
    "splitmix64 counter-based: sample i = splitmix64(key(seed) + i*phi64), "
    "split into two 31-bit (float64) or 24-bit (float32) uniforms"
)


def _kernels() -> Any:
    """Import the kernels with the on-disk cache under jitscope's cache folder."""
    from jitscope.core.paths import cache_dir

    where = os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir("numba")))
    if "numba" in sys.modules:  # imported before us (in-process tests): config already read
        import numba

        if not getattr(numba.config, "CACHE_DIR", ""):
            setattr(numba.config, "CACHE_DIR", where)  # noqa: B010 (config attributes are dynamic)
    from jitscope.backends import _numba_kernels

    return _numba_kernels


def _np_dtype(ctx: api.CellContext) -> Any:
    import numpy as np

    return np.dtype(ctx.dtype)


def _cache_counts(dispatchers: list[Any]) -> tuple[int, int]:
    """Disk-cache hits and misses of the dispatchers that have a disk cache. (Numba counts a
    "miss" even for ``cache=False`` functions, whose stats have no ``cache_path``.)"""
    hits = misses = 0
    for d in dispatchers:
        stats = getattr(d, "stats", None)
        if stats is None or stats.cache_path is None:
            continue
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return hits, misses


_PASSES = [0]
def _register_pass_counter() -> None:
    """Count Numba's compiler passes (``numba:run_pass`` events). A pass runs only when Numba
    compiles something (a function, a jitclass method, a ufunc loop), never when it loads
    machine code from its disk cache or dispatches to compiled code."""
    from numba.core import event

    class PassCounter(event.Listener):
        def on_start(self, ev: Any) -> None:
            _PASSES[0] += 1

        def on_end(self, ev: Any) -> None:
            pass

    event.register("numba:run_pass", PassCounter())


_listen = OncePerWorker(_register_pass_counter, (ImportError, AttributeError, AssertionError))


def _thread_notes(notes: dict[str, Any], parallel: bool) -> None:
    """The threads a call ran with, read after it ran (the threading layer is chosen on the
    first parallel call)."""
    import numba

    if parallel:
        notes["threads"] = numba.get_num_threads()
        notes["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "unset (runtime default)")
        with contextlib.suppress(ValueError):
            notes["threading_layer"] = numba.threading_layer()
    else:
        notes["threads"] = 1


def numba_kernel(  # noqa: PLR0913 - each keyword is one optional step of a host kernel
    call: Any,
    dispatchers: list[Any],
    notes: dict[str, Any],
    *,
    parallel: bool = False,
    prepare: Any = None,
    probed: bool = False,
    factories: tuple[Any, ...] = (),
    to_host: Any = None,
    **more: Any,
) -> api.Kernel:
    """A host kernel calling jitted code (a :class:`FunctionKernel`, the one kernel shape),
    observed by :class:`NumbaCompileWatch`; records threads after the run.

    ``probed``: the jitted code returns ``(result, probe)`` where the probe is data the
    kernel computed (its dtype is what ran, see ``_numba_kernels``). ``factories``:
    ``functools.cache``d builders called inside the first call (the ``@vectorize`` ufunc),
    whose cache misses say the ufunc was created (compiled or loaded) by that call.
    ``to_host``: applied to the result after that (a user kernel's: NumPy).
    ``more``: FunctionKernel's other keywords (a user kernel's ``explain``, ``ran_with``...)."""

    def fetch(out: Any) -> Any:
        _thread_notes(notes, parallel)
        result = out[0] if probed else out
        return to_host(result) if to_host is not None else result

    kwargs: dict[str, Any] = {"ran_with": (lambda out: out[1]) if probed else None, "fetch": fetch, **more}
    return api.FunctionKernel(call, transfer=prepare, notes=notes,
                          watch=lambda: NumbaCompileWatch(dispatchers, factories), **kwargs)


class NumbaCompileWatch(api.CompileWatch):
    """Numba's own signals around the first call.

    * compiled: did any compiler pass run (``numba:run_pass`` events)? Loading from the disk
      cache runs none. Without the event API, a dispatcher that gained a signature without a
      cache hit is taken as compiled.
    * cache: the dispatchers' disk-cache counters (``stats.cache_hits``/``cache_misses``);
      ``n/a`` when nothing was looked up (the code was already compiled in this worker) or
      the function cannot be disk-cached (``cache=False``, jitclass code). A ``@vectorize``
      ufunc keeps no counters: created by this call and compiled = miss (its ``cache=True``
      lookup failed first), created without compiling = hit.
    """

    def __init__(self, dispatchers: list[Any], factories: tuple[Any, ...] = ()) -> None:
        self._dispatchers = dispatchers
        self._factories = factories
        self._listening = False
        self._passes = 0
        self._signatures = 0
        self._created = 0
        self._counts = (0, 0)

    def _signature_count(self) -> int:
        return sum(len(getattr(d, "signatures", ())) for d in self._dispatchers)

    def _creations(self) -> int:
        return sum(f.cache_info().misses for f in self._factories)

    def start(self) -> None:
        self._listening = _listen()
        self._passes = _PASSES[0]
        self._signatures = self._signature_count()
        self._created = self._creations()
        self._counts = _cache_counts(self._dispatchers)

    def stop(self) -> api.CompileObservation:
        if _jit_disabled():
            return api.CompileObservation("no", "n/a", detail="numba: JIT disabled; the Python function ran")
        new = self._signature_count() - self._signatures
        created = self._creations() - self._created
        hits_now, misses_now = _cache_counts(self._dispatchers)
        hits, misses = hits_now - self._counts[0], misses_now - self._counts[1]
        passes = _PASSES[0] - self._passes
        if self._listening:
            compiled = passes > 0
        elif self._dispatchers:
            compiled = new > hits
        else:
            return api.CompileObservation("unknown", "unknown", detail="numba's event API is unavailable")
        if misses > 0:
            cache = "miss"
        elif hits > 0:
            cache = "hit"
        elif created > 0:
            cache = "miss" if compiled else "hit"
        else:
            cache = "n/a"
        what = f"{new} new signature(s)" if self._dispatchers else f"{created} ufunc(s) created"
        detail = f"numba: {what}, {passes} compiler pass(es), disk cache {hits} hit(s), {misses} miss(es)"
        if not compiled and new == 0 and created == 0:
            detail = "numba: already compiled in this worker (no cache consulted)"
        elif cache == "n/a":
            detail += " (not disk-cacheable: cache=False or jitclass code)"
        return api.CompileObservation("yes" if compiled else "no", cache, detail=detail)

    def fell_back(self) -> str:
        if _jit_disabled():
            return "numba's JIT is disabled (NUMBA_DISABLE_JIT=1): the kernel ran as plain Python"
        return ""


def _jit_disabled() -> bool:
    """``NUMBA_DISABLE_JIT``: ``@njit`` returns the Python function itself, so no dispatcher
    gains a signature and no pass runs, which otherwise reads as "compiled earlier"."""
    import numba

    return bool(getattr(numba.config, "DISABLE_JIT", False))


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """Numba's runtime (LLVM, the type system) starts on the first compilation in a process:
    a trivial jitted function pays that here, as start-up, not as any kernel's compile. With
    a ``parallel`` cell in this worker, a trivial ``prange`` loop also loads the parallel
    compiler and launches the threading layer's pool."""
    import numba

    _listen()

    @numba.njit(cache=False)
    def touch(x: float) -> float:
        return x + 1.0

    touch(1.0)
    notes: dict[str, Any] = {"runtime_initialised": "trivial @njit compiled"}
    if device == "cuda":
        from jitscope.backends import _numba_cuda

        notes.update(_numba_cuda.startup())
    if "parallel" in variants:

        @numba.njit(cache=False, parallel=True)
        def touch_parallel(n: int) -> float:
            total = 0.0
            for i in numba.prange(n):
                total += i
            return total

        touch_parallel(64)
        with contextlib.suppress(ValueError):
            notes["threading_layer"] = numba.threading_layer()
    return notes


def _base_notes(ctx: api.CellContext, **extra: Any) -> dict[str, Any]:
    import numba

    notes = {
        "sync": "none needed (synchronous CPU code)",
        "compiler": f"numba {numba.__version__} (LLVM)",
    }
    notes.update(extra)
    return notes


# ---- linreg ---------------------------------------------------------------------------------
def _linreg(parallel: bool) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        import numpy as np

        K = _kernels()
        dt = _np_dtype(ctx)
        d = ctx.size
        epochs = int(ctx.inputs["epochs"])
        n = ctx.inputs["X"].shape[0]
        coef = dt.type(ctx.inputs["mu"] * 2.0 / n)  # mu * (2/N), in the cell's dtype
        small = d <= K.SMALL_D
        if small:
            fn = K.linreg_small(d, parallel)
            layout = f"X^T (column-major), kernel specialised on d={d}: w, g in registers"
        else:
            fn = K.linreg_rows_parallel if parallel else K.linreg_rows
            layout = "row-major X, one fused pass per epoch (dot + axpy per row)"
        if parallel:
            layout += "; rows split in one chunk per thread, cache-line padded partial gradients"
        data: dict[str, Any] = {}

        def prepare() -> None:
            X = ctx.inputs["X"].T if small else ctx.inputs["X"]
            data["X"] = np.ascontiguousarray(X, dtype=dt)
            data["y"] = np.ascontiguousarray(ctx.inputs["y"], dtype=dt)

        if parallel:
            import numba

            def call() -> Any:
                return fn(data["X"], data["y"], coef, epochs, numba.get_num_threads())

        else:

            def call() -> Any:
                return fn(data["X"], data["y"], coef, epochs)

        kernel = numba_kernel(
            call, [fn], _base_notes(ctx, layout=layout, fastmath=True), parallel=parallel, prepare=prepare
        )
        return kernel

    return build


# ---- mcpi -----------------------------------------------------------------------------------
def _mcpi(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        K = _kernels()
        n = int(ctx.inputs["n"])
        seed = int(ctx.inputs["seed"])
        single = ctx.dtype == "float32"
        counter = "int64 counter (no float32 saturation at 2**24)"
        if variant == "default":
            fn = K.mcpi_serial_f32 if single else K.mcpi_serial_f64
            notes = _base_notes(ctx, rng=SERIAL_RNG, layout=f"fused generate-test-count; {counter}")
            return numba_kernel(lambda: fn(n, seed), [fn], notes, probed=True)
        if variant == "parallel":
            fn = K.mcpi_parallel_f32 if single else K.mcpi_parallel_f64
            notes = _base_notes(ctx, rng=COUNTER_RNG, layout=f"fused, prange over samples; {counter}")
            return numba_kernel(lambda: fn(n, seed), [fn], notes, parallel=True, probed=True)
        notes = _base_notes(
            ctx,
            rng=COUNTER_RNG,
            layout=f"@vectorize ufunc over materialised index chunks of {K.VECTORIZE_CHUNK}; {counter}",
        )
        return numba_kernel(lambda: K.mcpi_vectorize(n, seed, single), [], notes, probed=True,
                           factories=(K.inside_ufunc,))

    return build


# ---- lu -------------------------------------------------------------------------------------
def _lu(parallel: bool) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        import numpy as np

        K = _kernels()
        fn = K.lu_slogdet_parallel if parallel else K.lu_slogdet
        data: dict[str, Any] = {}

        def prepare() -> None:
            data["A"] = np.ascontiguousarray(ctx.inputs["A"], dtype=_np_dtype(ctx))

        layout = "copy of A, then naive in-place Doolittle (row-major, i-j loops)"
        if parallel:
            layout += "; rows of each trailing update in prange"
        kernel = numba_kernel(
            lambda: fn(data["A"]),
            [fn],
            _base_notes(ctx, layout=layout, fastmath=True, accumulator="log|det| summed in float64"),
            parallel=parallel,
            prepare=prepare,
            probed=True,
        )
        return kernel

    return build


# ---- nodes ----------------------------------------------------------------------------------
def _nodes(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        import numpy as np

        K = _kernels()
        n = int(ctx.inputs["n"])
        p = float(ctx.inputs["p"])
        seed = int(ctx.inputs["seed"])
        acc = "checksum accumulated in float64"
        if variant == "jitclass":
            fn = K.nodes_jitclass(ctx.dtype)
            notes = _base_notes(
                ctx,
                rng=SERIAL_RNG,
                layout="reflected list of @jitclass Node(key, bias) objects",
                accumulator=acc,
            )
            # Functions using a jitclass cannot be cached on disk: cache says n/a.
            return numba_kernel(lambda: fn(n, p, seed), [fn], notes, probed=True)
        proto = np.zeros(1, dtype=_np_dtype(ctx))
        parallel = variant == "parallel"
        fn = K.nodes_soa_parallel if parallel else K.nodes_soa
        notes = _base_notes(
            ctx,
            rng=COUNTER_RNG if parallel else SERIAL_RNG,
            layout="structure of arrays (keys int64, bias)" + ("; prange over nodes" if parallel else ""),
            accumulator=acc,
        )
        return numba_kernel(lambda: fn(n, p, seed, proto), [fn], notes, parallel=parallel, probed=True)

    return build


# ---- seed-faithful ------------------------------------------------------------------------
def _seed(workload: str) -> Any:
    """``numba:seed``: the published code under ``@njit`` as posted (see ``_seeds``)."""

    def build(ctx: api.CellContext) -> api.Kernel:
        import numpy as np

        from jitscope.backends._seeds import SEED_NOTE

        _kernels()  # numba's configuration (cache dir) before any jitted code is imported
        from jitscope.backends import _numba_seeds as S

        notes = _base_notes(ctx, seed=SEED_NOTE)
        if workload == "lu":
            data: dict[str, Any] = {}

            def prepare() -> None:
                data["A"] = np.ascontiguousarray(ctx.inputs["A"], dtype=np.float64)

            notes["layout"] = "Python-style loop over rows, NumPy row-slice updates (a temporary per row)"
            return numba_kernel(lambda: S.lu_det(data["A"].copy()), [S.lu_det], notes, prepare=prepare, probed=True)
        n, seed = int(ctx.inputs["n"]), int(ctx.inputs["seed"])
        if workload == "mcpi":
            notes["rng"] = "random module (Numba's own Mersenne Twister), seeded inside the jitted code"
            return numba_kernel(lambda: S.mcpi(n, seed), [S.mcpi], notes, probed=True)
        fn = S.nodes()
        p = float(ctx.inputs["p"])
        notes.update(rng=SERIAL_RNG, layout="reflected list of @jitclass SeedNode objects, mutate() method")
        return numba_kernel(lambda: fn(n, p, seed), [fn], notes, probed=True)

    return build


# ---- users' own kernels -----------------------------------------------------------------------
def _explain(exc: BaseException) -> str | None:
    """A function Numba cannot compile fails the cell with Numba's own message (one line),
    not a traceback."""
    from numba.core.errors import NumbaError

    from jitscope.backends._adapt import library_message

    return library_message(exc) if isinstance(exc, NumbaError) else None


def _cached_njit(fn: Any, parallel: bool, options: dict[str, Any] | None = None) -> Any:
    """``numba.njit(fn, cache=True[, parallel=True])`` with one disk cache per variant.

    Numba keys its cache entries by the function (file, name, line) and the argument types,
    not by the compile options: a ``parallel=True`` dispatcher of a function already cached
    serially loads the *serial* machine code (cache hit, no threads), so numba:parallel would
    silently time numba:default. The built-in kernels are separate functions per variant; a
    user's one function gets a separate cache folder per variant instead."""
    import numba

    base = str(getattr(numba.config, "CACHE_DIR", "") or os.environ.get("NUMBA_CACHE_DIR", ""))
    own = os.path.join(base, "user-parallel" if parallel else "user-default") if base else ""
    setattr(numba.config, "CACHE_DIR", own)  # noqa: B010 (config attributes are dynamic)
    try:
        return numba.njit(**{"cache": True, "parallel": parallel, **(options or {})})(fn)
    finally:
        setattr(numba.config, "CACHE_DIR", base)  # noqa: B010


def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """``default``: ``numba.njit(cache=True)``; ``parallel``: with ``parallel=True`` (so
    ``prange`` works); ``cuda``: the user's launcher of their own ``@cuda.jit`` kernels
    (``_numba_cuda.adapt``). Compilation happens in the first call, observed like the built-in
    kernels' (compiled yes/no, disk cache hit/miss: the cache is keyed by the file, the
    function's name and line, and Numba invalidates it when the file changes)."""

    from jitscope.backends._adapt import cast_inputs

    _kernels()  # NUMBA_CACHE_DIR first: Numba reads it when the first dispatcher caches
    if variant == "cuda":
        from jitscope.backends import _numba_cuda

        return _numba_cuda.adapt(ctx, user)
    parallel = variant == "parallel"
    dispatcher = _cached_njit(user.fn, parallel, user.library_options())
    data: dict[str, Any] = {}

    def prepare() -> None:
        data.update(cast_inputs(ctx, lambda a: a))

    from jitscope.backends._adapt import closure_note, to_numpy

    jit = f"numba.njit(cache=True{', parallel=True' if parallel else ''})"
    notes = {"note": closure_note(user.fn)} if closure_note(user.fn) else {}
    notes.update(_base_notes(ctx, jit=jit))
    # The dtype is read from what the function returned and the arrays it was given.
    return numba_kernel(lambda: dispatcher(**data), [dispatcher], notes, parallel=parallel, prepare=prepare,
                        to_host=to_numpy, ran_with=lambda out: (out, data), explain=_explain, arguments=data)


# ---- backend --------------------------------------------------------------------------------
def _info() -> dict[str, Any]:
    _kernels()
    import numba

    from jitscope.backends._numba_cuda import cuda_info
    from jitscope.backends.numpy_backend import threads_info

    cuda = cuda_info()
    info: dict[str, Any] = {
        "version": numba.__version__,
        "devices": ["cpu"],
        "device_reasons": {},
        "numba_threads": numba.get_num_threads(),
        "cache_dir": getattr(numba.config, "CACHE_DIR", None),
    }
    if "cuda_reason" in cuda:
        info["device_reasons"]["cuda"] = cuda.pop("cuda_reason")
    else:
        info["devices"].append("cuda")
        if cuda.pop("simulated"):
            info["simulated_devices"] = ["cuda"]  # every cuda cell is labelled cuda (simulated)
    info.update(cuda)
    try:
        import llvmlite

        info["llvmlite"] = llvmlite.__version__
    except ImportError:
        pass
    info.update(threads_info())
    return info


def _cuda(workload: str) -> Any:
    """``numba:cuda`` cells: built by ``_numba_cuda`` (imported in the worker only)."""

    def build(ctx: api.CellContext) -> api.Kernel:
        _kernels()  # NUMBA_CACHE_DIR before the cuda.jit(cache=True) kernels are imported
        from jitscope.backends import _numba_cuda

        builder: Any = _numba_cuda.BUILDERS[workload]
        return builder(ctx)  # type: ignore[no-any-return]

    return build


def _setup_threads(n: int) -> None:
    import numba

    from jitscope.backends.numpy_backend import limit_threads

    numba.set_num_threads(max(1, min(n, getattr(numba.config, "NUMBA_NUM_THREADS", n))))
    limit_threads(n)


NAME = "numba"
_CUDA = ("cuda",)

BACKEND = api.Backend(
    name=NAME,
    description="Numba @njit: fused loops, prange, @vectorize, @jitclass, numba.cuda kernels; on-disk cache",
    requires=("numba",),
    extra="numba",
    devices=("cpu", "cuda"),
    info=_info,
    setup_threads=_setup_threads,
    startup=_startup,
    # The workloads' files declare every kernel; this keeps the variants listed (and run) in
    # this order whichever file declares them (vectorize is mcpi's only, jitclass nodes').
    variant_order=("default", "parallel", "vectorize", "jitclass", "seed", "cuda"),
    # A cuda kernel is a different program (a launcher of @cuda.jit kernels): it serves
    # numba:cuda only when named, @w.kernel("numba", "cuda"), never as the backend-wide kernel.
    adapter=api.Adapter(_adapt, variants=("default", "parallel", "cuda"), devices=("cpu",),
                    variant_devices=(("cuda", _CUDA),), named_only=("cuda",),
                    passes_options_to="numba.njit", options_variants=("default", "parallel")),
)
