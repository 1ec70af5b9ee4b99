"""PyTorch: ``eager`` (the default) and ``compile`` (``torch.compile``, Inductor), CPU or CUDA.

Traps handled here (docs/design.md §3): CUDA kernels are asynchronous, so ``sync`` is
``torch.cuda.synchronize()`` on CUDA; CPU threads come from ``torch.set_num_threads``;
``torch.compile`` on CPU generates C++ and needs a compiler, and its first call takes tens of
seconds: that is the compile column, not the steady state. Float32 matmuls on CUDA are kept
in full float32 (``allow_tf32 = False``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from typing import Any

from jitscope.backends._observe import TorchCudaPeak
from jitscope.core import backend as api

NAME = "torch"
MCPI_CHUNK = 1 << 20


def _torch() -> Any:
    import torch

    return torch


def _device(ctx: api.CellContext) -> Any:
    torch = _torch()
    if ctx.device == "cuda":
        if not torch.cuda.is_available():
            raise api.SkipCell("torch sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = False
        return torch.device("cuda", 0)
    return torch.device("cpu")


def _dtype(ctx: api.CellContext) -> Any:
    return getattr(_torch(), ctx.dtype)


def _make_sync(ctx: api.CellContext) -> Any:
    torch = _torch()
    if ctx.device == "cuda":
        return lambda out: torch.cuda.synchronize()
    return lambda out: None


def _notes(ctx: api.CellContext, variant: str, **extra: Any) -> dict[str, Any]:
    torch = _torch()
    notes: dict[str, Any] = {
        "sync": "torch.cuda.synchronize()" if ctx.device == "cuda" else "none needed (CPU ops are synchronous)",
        "threads": torch.get_num_threads() if ctx.device == "cpu" else "n/a (GPU)",
    }
    if variant == "compile":
        notes["compiler"] = "torch.compile (Inductor: C++/OpenMP on CPU, Triton on CUDA)"
        notes["inductor_cache_dir"] = os.environ.get("TORCHINDUCTOR_CACHE_DIR", "torch's default")
        notes["dynamo_state"] = "reset before this cell (torch.compiler.reset): the first call compiles its graph"
    else:
        notes["compiler"] = "none (eager ATen kernels)"
    notes.update(extra)
    return notes


def _compile(fn: Any, ctx: api.CellContext, options: dict[str, Any] | None = None) -> Any:
    """``torch.compile`` of ``fn`` on a fresh Dynamo state (``torch.compiler.reset()``).

    Dynamo keeps at most ``recompile_limit`` (8) compiled variants per function and, past it,
    runs the function eagerly for good; one worker runs every size of a sweep, and the
    built-in kernels (or a user's) are the same code object cell after cell, so the 9th size
    used to run eager code under the ``compile`` label. A reset makes each cell compile its own
    graph in its own first call, as a new process would (Inductor's disk cache still serves
    what it holds); docs/performance.md has what it costs."""
    torch = _torch()
    if ctx.device == "cpu" and not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        raise api.SkipCell("torch.compile on CPU needs a C++ compiler (c++/g++/clang++) on PATH")
    from jitscope.core.paths import cache_dir

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir("torchinductor")))
    torch.compiler.reset()
    return torch.compile(fn, **{"dynamic": False, **(options or {})})


def _counters() -> dict[str, float]:
    """A flat copy of Dynamo's counters (``stats.unique_graphs``, ``graph_break.<why>``,
    ``unimplemented.<why>``, ``inductor.fxgraph_cache_hit``...)."""
    from torch._dynamo.utils import counters

    return {f"{group}.{key}": float(value) for group, values in counters.items() for key, value in values.items()}


def _changed(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def _total(delta: dict[str, float], prefix: str) -> int:
    return int(sum(v for k, v in delta.items() if k.startswith(prefix)))


def _limit_hits(delta: dict[str, float]) -> int:
    """Dynamo counts "Dynamo recompile limit exceeded" under ``unimplemented``: from then
    on it runs that function's frame eagerly (and counts nothing more for it)."""
    return int(sum(v for k, v in delta.items() if k.startswith("unimplemented.") and "recompile limit" in k.lower()))


def _first_break(delta: dict[str, float]) -> str:
    """The first line of Dynamo's own reason for a graph break in ``delta`` ('' if none)."""
    for key in delta:
        if key.startswith("graph_break."):
            return key.removeprefix("graph_break.").strip().splitlines()[0]
    return ""


def _dynamo_disabled() -> bool:
    """Torch's two switches, read as torch reads them: ``TORCHDYNAMO_DISABLE=1`` (checked
    by ``torch.compile`` itself, which then returns the function unchanged) and
    ``torch._dynamo.config.disable`` (``TORCH_COMPILE_DISABLE=1``)."""
    from torch._dynamo import config

    return bool(config.disable) or os.environ.get("TORCHDYNAMO_DISABLE", "") == "1"


class DynamoWatch(api.CompileWatch):
    """torch.compile's own counters: graphs Dynamo compiled, graph breaks and Inductor's
    FX-graph cache hits/misses (``TORCHINDUCTOR_CACHE_DIR``) in the first call; then, after
    the samples, whether any timed call ran eager code (recompile limit, no graph at all) or
    recompiled."""

    def start(self) -> None:
        self._before = _counters()
        self._first: dict[str, float] = {}
        self._after_first = self._before

    def stop(self) -> api.CompileObservation:
        self._after_first = _counters()
        self._first = first = _changed(self._before, self._after_first)
        graphs, breaks = _total(first, "stats.unique_graphs"), _total(first, "graph_break.")
        if graphs <= 0:
            why = _first_break(first) or "Dynamo recorded no reason"
            return api.CompileObservation("no", "n/a", graph_breaks=breaks, detail=f"dynamo: no graph compiled ({why})")
        hits, misses = _total(first, "inductor.fxgraph_cache_hit"), _total(first, "inductor.fxgraph_cache_miss")
        cache = "miss" if misses > 0 else "hit" if hits > 0 else "unknown"
        detail = f"dynamo: {graphs} graph(s), {breaks} graph break(s); inductor fx-graph cache {hits} hit(s), {misses} miss(es)"
        return api.CompileObservation("yes", cache, graph_breaks=breaks, detail=detail)

    def fell_back(self) -> str:
        later = _changed(self._after_first, _counters())
        if _dynamo_disabled():
            return ("torch.compile ran eager code: Dynamo is disabled (TORCHDYNAMO_DISABLE=1, "
                    "TORCH_COMPILE_DISABLE=1 or torch._dynamo.config.disable)")
        if _limit_hits(self._first) or _limit_hits(later):
            from torch._dynamo import config

            return (f"torch.compile ran eager code: Dynamo hit its recompile limit (torch._dynamo.config."
                    f"recompile_limit = {config.recompile_limit}) and stopped compiling this function")
        if _total(self._first, "stats.unique_graphs") <= 0:
            why = _first_break(self._first)
            return "torch.compile ran eager code: Dynamo compiled no graph" + (
                f" (graph break: {why})" if why else " and recorded no reason")
        recompiled = _total(later, "stats.unique_graphs")
        if recompiled:
            return (f"torch.compile recompiled {recompiled} graph(s) after the first call: "
                    "compile time fell inside the warm-up or the samples")
        return ""


def _kernel(variant: str, ctx: api.CellContext, run: Any, **kwargs: Any) -> api.FunctionKernel:
    """A torch kernel: eager runs precompiled ATen ops (nothing compiles); ``compile`` is
    watched through Dynamo's counters; on CUDA the allocator's peak is read."""
    peak = TorchCudaPeak(_device(ctx)) if ctx.device == "cuda" else None
    watch = DynamoWatch if variant == "compile" else None
    return api.FunctionKernel(run, compiler=False if variant == "eager" else None, device_peak=peak, watch=watch, **kwargs)


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """One-off runtime costs paid once per worker, not by a cell: the CUDA context, and for
    ``compile`` Dynamo's and Inductor's own start-up (a trivial compiled function)."""
    torch = _torch()
    notes: dict[str, Any] = {}
    dev = torch.device("cuda", 0) if device == "cuda" and torch.cuda.is_available() else torch.device("cpu")
    x = torch.ones(8, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
        notes["cuda_context"] = "created"
    if "compile" in variants and (dev.type == "cuda" or shutil.which("c++") or shutil.which("g++")):
        from jitscope.core.paths import cache_dir

        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir("torchinductor")))
        touch = torch.compile(lambda t: t * 2 + 1, dynamic=False)
        touch(x)
        notes["inductor"] = "warmed with a trivial compiled function"
    return notes


def _put(x: Any, ctx: api.CellContext) -> Any:
    torch = _torch()
    t = torch.as_tensor(x).to(device=_device(ctx), dtype=_dtype(ctx)).contiguous()
    if ctx.device == "cuda":
        torch.cuda.synchronize()
    return t


# ---- linreg ---------------------------------------------------------------------------------
def _linreg(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        torch = _torch()
        epochs = int(ctx.inputs["epochs"])
        n = ctx.inputs["X"].shape[0]
        mu = float(ctx.inputs["mu"])
        scale = 2.0 / n
        data: dict[str, Any] = {}

        def epoch(X: Any, y: Any, w: Any) -> Any:
            r = X @ w - y
            g = scale * (X.T @ r)
            return w - mu * g

        step = _compile(epoch, ctx) if variant == "compile" else epoch

        def transfer() -> None:
            data["X"] = _put(ctx.inputs["X"], ctx)
            data["y"] = _put(ctx.inputs["y"], ctx)

        def run() -> Any:
            X, y = data["X"], data["y"]
            w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
            with torch.no_grad():
                for _ in range(epochs):
                    w = step(X, y, w)
            return w

        layout = "X@w and X.T@r per epoch"
        if variant == "compile":
            layout += " (one compiled epoch; the epoch loop stays in Python so it never unrolls)"
        kernel = _kernel(variant, ctx,
            run,
            transfer=transfer,
            sync=_make_sync(ctx),
            fetch=lambda out: out.cpu().numpy(),
            notes=_notes(ctx, variant, layout=layout),
        )
        return kernel

    return build


# ---- mcpi -----------------------------------------------------------------------------------
def _mcpi(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        torch = _torch()
        dev = _device(ctx)
        dt = _dtype(ctx)
        n = int(ctx.inputs["n"])
        seed = int(ctx.inputs["seed"])
        chunk = min(n, MCPI_CHUNK)

        if variant == "compile":
            # torch.rand inside the compiled graph: Inductor fuses generate-test-count into one
            # kernel with its own Philox stream (seeded from the global generator).
            def count_chunk(m: int) -> Any:
                xy = torch.rand(2, m, dtype=dt, device=dev)
                # The count, and one sample as a probe of the dtype the points had.
                return ((xy[0] * xy[0] + xy[1] * xy[1]) <= 1).sum(), xy[0, :1]

            counter = _compile(count_chunk, ctx)

            def run() -> Any:
                torch.manual_seed(seed)
                total = torch.zeros((), dtype=torch.int64, device=dev)
                probe = None
                for start in range(0, n, chunk):
                    count, probe = counter(min(chunk, n - start))
                    total += count
                return total, probe

            rng = "Inductor Philox (torch.rand inside the compiled graph), torch.manual_seed(seed)"
        else:

            def run() -> Any:
                gen = torch.Generator(device=dev)
                gen.manual_seed(seed)
                total = torch.zeros((), dtype=torch.int64, device=dev)
                probe = None
                for start in range(0, n, chunk):
                    xy = torch.rand(2, min(chunk, n - start), dtype=dt, device=dev, generator=gen)
                    total += ((xy[0] * xy[0] + xy[1] * xy[1]) <= 1).sum()
                    probe = xy[0, :1]  # a sample: the int64 count says nothing of the points' dtype
                return total, probe

            rng = "torch.Generator: " + ("Philox (CUDA)" if ctx.device == "cuda" else "Mersenne Twister (CPU)")

        return _kernel(variant, ctx,
            run,
            sync=_make_sync(ctx),
            fetch=lambda out: 4.0 * int(out[0].item()) / n,
            ran_with=lambda out: out[1],
            notes=_notes(ctx, variant, rng=rng, layout=f"chunks of {chunk}, int64 counter tensor on the device"),
        )

    return build


# ---- lu -------------------------------------------------------------------------------------
def _lu(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        torch = _torch()
        size = ctx.size
        data: dict[str, Any] = {}  # A on the device; for "compile" also idx and the k tensors
        factor, layout = _lu_compiled_factor(ctx, data) if variant == "compile" else _lu_eager_factor(size)

        def transfer() -> None:
            data["A"] = _put(ctx.inputs["A"], ctx)
            if variant == "compile":
                data["idx"] = torch.arange(size, device=data["A"].device)
                data["ks"] = [torch.tensor([k], device=data["A"].device) for k in range(size)]

        def run() -> Any:
            with torch.no_grad():
                a = factor(data["A"])
                diag = torch.diagonal(a)
                return torch.prod(torch.sign(diag)), torch.sum(torch.log(torch.abs(diag)).double())

        kernel = _kernel(variant, ctx,
            run,
            transfer=transfer,
            sync=_make_sync(ctx),
            fetch=lambda out: (float(out[0].item()), float(out[1].item())),
            # The sign comes from the factor's diagonal in its dtype; logdet is always float64.
            ran_with=lambda out: out[0],
            notes=_notes(ctx, variant, layout=layout),
        )
        return kernel

    return build


def _lu_compiled_factor(ctx: api.CellContext, data: dict[str, Any]) -> tuple[Callable[[Any], Any], str]:
    """The ``compile`` variant's factorisation (reads ``idx`` and ``ks`` from ``data``, put
    there by the transfer) and its layout note."""
    torch = _torch()
    size = ctx.size

    def step(a: Any, k: Any) -> Any:
        # k is a 1-element index tensor: index_select keeps the graph free of
        # data-dependent Python ints, so it compiles once for every k.
        idx = data["idx"]
        below = idx > k
        col_k = a.index_select(1, k).squeeze(1)
        row_k = a.index_select(0, k).squeeze(0)
        col = torch.where(below, col_k / col_k.index_select(0, k), 0.0)
        row = torch.where(below, row_k, 0.0)
        a = a - torch.outer(col, row)
        col_mask = below[:, None] & (idx == k)[None, :]
        return torch.where(col_mask, col[:, None], a)

    compiled_step = _compile(step, ctx)

    def factor(A: Any) -> Any:
        a = A.clone()
        for k in range(size - 1):
            a = compiled_step(a, data["ks"][k])
        return a

    layout = (
        "clone of A, then one compiled masked full-size rank-1 update per k (k passed as a "
        "tensor so it compiles once; n^3 flops instead of 2n^3/3)"
    )
    return factor, layout


def _lu_eager_factor(size: int) -> tuple[Callable[[Any], Any], str]:
    """The eager factorisation (in-place rank-1 updates of the trailing block) and its layout note."""

    def factor(A: Any) -> Any:
        a = A.clone()
        for k in range(size - 1):
            a[k + 1 :, k] /= a[k, k]
            a[k + 1 :, k + 1 :].addr_(a[k + 1 :, k], a[k, k + 1 :], alpha=-1)
        return a

    return factor, "clone of A, then per k: scale column, in-place rank-1 update (addr_) of the trailing block"


# ---- nodes ----------------------------------------------------------------------------------
def _nodes(variant: str) -> Any:
    def build(ctx: api.CellContext) -> api.Kernel:
        torch = _torch()
        dev = _device(ctx)
        dt = _dtype(ctx)
        n = int(ctx.inputs["n"])
        p = float(ctx.inputs["p"])
        seed = int(ctx.inputs["seed"])

        def checksum(gen: Any = None) -> Any:
            keys = torch.arange(n, device=dev)
            bias = torch.full((keys.shape[0],), 0.5, dtype=dt, device=dev)
            mutate = torch.rand(n, device=dev, dtype=dt, generator=gen) < p
            value = torch.rand(n, device=dev, dtype=dt, generator=gen)
            return (bias + torch.where(mutate, value, 0.0)).sum()

        if variant == "compile":
            compiled = _compile(lambda: checksum(), ctx)

            def run() -> Any:
                torch.manual_seed(seed)
                return compiled()

            rng = "Inductor Philox (torch.rand inside the compiled graph)"
        else:

            def run() -> Any:
                gen = torch.Generator(device=dev)
                gen.manual_seed(seed)
                return checksum(gen)

            rng = "torch.Generator: " + ("Philox (CUDA)" if ctx.device == "cuda" else "Mersenne Twister (CPU)")

        return _kernel(variant, ctx,
            run,
            sync=_make_sync(ctx),
            fetch=lambda out: float(out.item()),
            notes=_notes(ctx, variant, rng=rng, layout="structure of arrays (keys, bias), boolean mask"),
        )

    return build


# ---- backend --------------------------------------------------------------------------------
def _info() -> dict[str, Any]:
    torch = _torch()
    info: dict[str, Any] = {
        "version": torch.__version__,
        "devices": ["cpu"],
        "device_reasons": {},
        "threads": torch.get_num_threads(),
        "cuda_build": torch.version.cuda,
    }
    if torch.cuda.is_available():
        info["devices"].append("cuda")
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
        info["cuda_runtime"] = torch.version.cuda
        props = torch.cuda.get_device_properties(0)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        with contextlib.suppress(Exception):  # private API: best effort
            info["cuda_driver"] = torch._C._cuda_getDriverVersion()
    elif torch.version.cuda is None:
        info["device_reasons"]["cuda"] = f"this torch build ({torch.__version__}) has no CUDA support"
    else:
        info["device_reasons"]["cuda"] = "no CUDA device or driver visible to torch"
    return info


def _setup_threads(n: int) -> None:
    torch = _torch()
    torch.set_num_threads(n)


_DEV = ("cpu", "cuda")


# ---- users' own kernels ---------------------------------------------------------------------
def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """``eager``: the user's function on tensors of the cell's dtype and device;
    ``compile``: ``torch.compile`` of it, as the built-in compile variant (a C++ compiler on
    CPU, Inductor's cache under jitscope's folder, Dynamo's counters for compiled/cache/graph
    breaks). CUDA is synchronised after each call; results come back with ``.cpu().numpy()``."""
    from jitscope.backends._adapt import cast_inputs, library_message, tree_map

    torch = _torch()
    dev = _device(ctx)
    fn = _compile(user.fn, ctx, user.library_options()) if variant == "compile" else user.fn
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: _put(a, ctx),
                                lambda a: torch.as_tensor(a).to(device=dev).contiguous()))
        if ctx.device == "cuda":
            torch.cuda.synchronize()

    def fetch(out: Any) -> Any:
        return tree_map(lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, out)

    return _kernel(variant, ctx, lambda: fn(**data), transfer=transfer, sync=_make_sync(ctx), fetch=fetch,
                   ran_with=lambda out: (out, data), explain=library_message,
                   notes=_notes(ctx, variant))


BACKEND = api.Backend(
    name=NAME,
    description="PyTorch: eager ops, or torch.compile (Inductor); CPU or CUDA",
    requires=("torch",),
    extra="torch",
    devices=_DEV,
    default_variant="eager",
    info=_info,
    setup_threads=_setup_threads,
    startup=_startup,
    adapter=api.Adapter(_adapt, variants=("eager", "compile"), devices=_DEV, passes_options_to="torch.compile",
                    options_variants=("compile",)),
)
