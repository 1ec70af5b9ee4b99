"""Triton: hand-written kernels for ``mcpi``, ``linreg`` and ``lu``.

* ``default``: compiled kernels on a CUDA GPU (``devices=("cuda",)``).
* ``interpreter``: the same kernels under ``TRITON_INTERPRET=1`` on the CPU (NumPy emulation
  of every program). It exists so the kernels can be checked without a GPU; its timings say
  nothing about Triton's speed, hence small sizes only and a variant name nobody can mistake
  for a compiled result.

``nodes`` (an object-heavy loop) has no Triton formulation: it is not registered, so a
``nodes`` cell says "triton:... has no implementation of nodes".

``TRITON_INTERPRET`` is read when ``@triton.jit`` decorates a kernel, so it is set before the
kernel module is imported, and the two variants refuse to run in a worker already set up for
the other mode (one worker serves one device, so this only matters in-process).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jitscope.backends._observe import OncePerWorker, TorchCudaPeak
from jitscope.core import backend as api

NAME = "triton"


def _kernels(interpret: bool) -> Any:
    """Import triton (and our kernels) in the right mode. Triton's own ``@jit`` helpers
    (``tl.sum``, ``tl.randint4x``...) are decorated when ``triton`` is first imported, so the
    variable must be set before *that* import: ``_info`` deliberately does not import triton."""
    if "triton" not in sys.modules:
        if interpret:
            os.environ["TRITON_INTERPRET"] = "1"
        elif os.environ.get("TRITON_INTERPRET", "0") == "1":
            raise api.SkipCell("TRITON_INTERPRET=1 is set: compiled Triton kernels would be interpreted")
    import triton.language as tl

    from jitscope.backends import _triton_kernels as K

    helpers_interpreted = type(tl.randint4x).__name__ == "InterpretedFunction"
    if interpret != K.INTERPRETED or helpers_interpreted != interpret:
        mode = "interpreted" if helpers_interpreted else "compiled"
        raise api.SkipCell(
            f"triton was already imported in {mode} mode in this process "
            "(TRITON_INTERPRET must be set before the first import); run this variant in its own worker"
        )
    return K


def _setup(ctx: api.CellContext) -> tuple[Any, Any, Any, bool]:
    import torch

    interpret = ctx.spec.variant == "interpreter"
    if not interpret and not torch.cuda.is_available():
        raise api.SkipCell("compiled Triton kernels need a CUDA GPU (torch sees none); use triton:interpreter on CPU")
    K = _kernels(interpret)
    device = torch.device("cpu") if interpret else torch.device("cuda", 0)
    return K, torch, device, interpret


def _make_sync(torch: Any, interpret: bool) -> Any:
    if interpret:
        return lambda out: None
    return lambda out: torch.cuda.synchronize()


def _notes(ctx: api.CellContext, interpret: bool, **extra: Any) -> dict[str, Any]:
    import triton

    notes: dict[str, Any] = {
        "sync": "none (the interpreter is synchronous)" if interpret else "torch.cuda.synchronize()",
        "compiler": "Triton interpreter (TRITON_INTERPRET=1), NOT compiled" if interpret else f"triton {triton.__version__} (PTX via LLVM)",
        "threads": "1 (interpreter)" if interpret else "n/a (GPU)",
    }
    notes.update(extra)
    return notes


# ---- observation ------------------------------------------------------------------------------
_SEEN = {"hits": 0, "misses": 0}
def _register_listener() -> None:
    """Chain a listener onto Triton's compilation hook (``triton.knobs.compilation.listener``):
    Triton calls it for every kernel it builds, with ``cache_hit`` saying whether the binary
    came from its on-disk cache (``TRITON_CACHE_DIR``) or was compiled."""
    from triton import knobs

    previous = knobs.compilation.listener

    def listener(*, src: Any, metadata: Any, metadata_group: Any, times: Any, cache_hit: bool) -> None:
        _SEEN["hits" if cache_hit else "misses"] += 1
        if previous is not None:
            previous(src=src, metadata=metadata, metadata_group=metadata_group, times=times,
                     cache_hit=cache_hit)

    knobs.compilation.listener = listener


_listen = OncePerWorker(_register_listener)


class TritonCompileWatch(api.CompileWatch):
    """Compiled Triton kernels (CUDA): a kernel built in the first call either compiled (its
    on-disk cache missed) or was loaded from that cache (hit, nothing compiled); none built
    means every kernel was already in this worker's in-memory cache (n/a)."""

    def start(self) -> None:
        self._ok = _listen()
        self._before = dict(_SEEN)

    def stop(self) -> api.CompileObservation:
        if not self._ok:
            return api.CompileObservation("unknown", "unknown", detail="triton's compilation listener is unavailable")
        hits = _SEEN["hits"] - self._before["hits"]
        misses = _SEEN["misses"] - self._before["misses"]
        detail = f"triton: {misses} kernel(s) compiled, {hits} loaded from the disk cache"
        if misses:
            return api.CompileObservation("yes", "miss", detail=detail)
        if hits:
            return api.CompileObservation("no", "hit", detail=detail)
        return api.CompileObservation("no", "n/a", detail="triton: kernels already built in this worker")


def _kernel(interpret: bool, torch: Any, device: Any, run: Any, **kwargs: Any) -> api.FunctionKernel:
    """The interpreter emulates programs in NumPy and compiles nothing (a fact); compiled
    kernels are watched through Triton's compilation listener, and their memory through
    torch's CUDA allocator."""
    if interpret:
        return api.FunctionKernel(run, compiler=False, **kwargs)
    return api.FunctionKernel(run, device_peak=TorchCudaPeak(device), watch=TritonCompileWatch, **kwargs)


def _startup(device: str, variants: tuple[str, ...]) -> dict[str, Any]:
    """On CUDA, the device context (created by the first CUDA call) is start-up, not any cell's
    compile. Triton itself is not imported here: TRITON_INTERPRET must be decided first."""
    import torch

    if device != "cuda" or not torch.cuda.is_available():
        return {}
    torch.ones(1, device="cuda").sum().item()
    torch.cuda.synchronize()
    return {"cuda_context": "created"}


def _put(torch: Any, x: Any, ctx: api.CellContext, device: Any) -> Any:
    t = torch.as_tensor(x).to(device=device, dtype=getattr(torch, ctx.dtype)).contiguous()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return t


# ---- mcpi -----------------------------------------------------------------------------------
def _mcpi(ctx: api.CellContext) -> api.Kernel:
    K, torch, device, interpret = _setup(ctx)
    n = int(ctx.inputs["n"])
    seed = int(ctx.inputs["seed"])
    block = 1 << 16 if interpret else 4096  # the interpreter pays per program: few, big ones
    programs = -(-n // block)
    partial = torch.empty(programs, dtype=torch.int32, device=device)
    probe = torch.empty(programs, dtype=getattr(torch, ctx.dtype), device=device)
    f64 = ctx.dtype == "float64"

    def run() -> Any:
        K.mcpi_kernel[(programs,)](seed, n, partial, probe, BLOCK=block, F64=f64)
        return partial.sum(dtype=torch.int64), probe

    return _kernel(
        interpret, torch, device,
        run,
        sync=_make_sync(torch, interpret),
        fetch=lambda out: 4.0 * int(out[0].item()) / n,
        ran_with=lambda out: out[1],  # statically asserted to be the points' dtype
        notes=_notes(
            ctx,
            interpret,
            rng="Philox4x32 (tl.randint4x), counter = global sample index; "
            + ("32-bit uniforms converted to float64" if f64 else "float32 uniforms"),
            layout=f"{programs} programs x {block} samples, int32 count per program, int64 total",
        ),
    )


# ---- linreg ---------------------------------------------------------------------------------
# Its size limit (a whole row of X per program) is declared with the kernel in workloads/linreg.py.


def _linreg(ctx: api.CellContext) -> api.Kernel:
    K, torch, device, interpret = _setup(ctx)
    import triton

    n, d = ctx.inputs["X"].shape
    epochs = int(ctx.inputs["epochs"])
    block_d = triton.next_power_of_2(d)
    tile = 1 << 16 if interpret else 4096  # elements of X per program
    block_n = max(1, min(tile, tile // block_d))
    nblocks = -(-n // block_n)
    data: dict[str, Any] = {}

    def transfer() -> None:
        data["X"] = _put(torch, ctx.inputs["X"], ctx, device)
        data["y"] = _put(torch, ctx.inputs["y"], ctx, device)
        data["coef"] = _put(torch, [ctx.inputs["mu"] * 2.0 / n], ctx, device)
        data["partial"] = torch.empty(nblocks * block_d, dtype=data["X"].dtype, device=device)

    def run() -> Any:
        X, y, partial, coef = data["X"], data["y"], data["partial"], data["coef"]
        w = torch.zeros(d, dtype=X.dtype, device=device)
        for _ in range(epochs):
            K.linreg_partial_kernel[(nblocks,)](X, y, w, partial, n, d, BLOCK_N=block_n, BLOCK_D=block_d)
            K.linreg_update_kernel[(1,)](partial, w, coef, nblocks, d, BLOCK_D=block_d)
        return w

    kernel = _kernel(
        interpret, torch, device,
        run,
        transfer=transfer,
        sync=_make_sync(torch, interpret),
        fetch=lambda out: out.cpu().numpy(),
        notes=_notes(
            ctx,
            interpret,
            layout=f"per epoch: fused tile kernel ({nblocks} programs x [{block_n}, {block_d}] tile of X, "
            "r and X^T r from one read) + a reduce-and-update kernel",
        ),
    )
    return kernel


# ---- lu -------------------------------------------------------------------------------------
def _lu(ctx: api.CellContext) -> api.Kernel:
    K, torch, device, interpret = _setup(ctx)
    size = ctx.size
    bm = bn = 64 if interpret else 32
    data: dict[str, Any] = {}

    def transfer() -> None:
        data["A"] = _put(torch, ctx.inputs["A"], ctx, device)

    def run() -> Any:
        a = data["A"].clone()  # each call factors a fresh copy
        for k in range(size - 1):
            m = size - k - 1
            K.lu_scale_kernel[(-(-m // 256),)](a, size, k, BLOCK=256)
            K.lu_update_kernel[(-(-m // bm), -(-m // bn))](a, size, k, BM=bm, BN=bn)
        diag = torch.diagonal(a)
        return torch.prod(torch.sign(diag)), torch.sum(torch.log(torch.abs(diag)).double())

    kernel = _kernel(
        interpret, torch, device,
        run,
        transfer=transfer,
        sync=_make_sync(torch, interpret),
        fetch=lambda out: (float(out[0].item()), float(out[1].item())),
        # The sign comes from the factor's diagonal in its dtype; logdet is always float64.
        ran_with=lambda out: out[0],
        notes=_notes(
            ctx,
            interpret,
            layout=f"copy of A; per k: scale-column kernel + rank-1 update kernel on {bm}x{bn} tiles",
        ),
    )
    return kernel


# ---- backend --------------------------------------------------------------------------------
def _info() -> dict[str, Any]:
    from importlib.metadata import version

    import torch

    # No `import triton` here: the build decides TRITON_INTERPRET before the first import.
    info: dict[str, Any] = {
        "version": version("triton"),
        "torch": torch.__version__,
        "devices": ["cpu"],
        "device_reasons": {},
        "cpu_mode": "interpreter only (TRITON_INTERPRET=1)",
    }
    if torch.cuda.is_available():
        info["devices"].append("cuda")
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda_runtime"] = torch.version.cuda
    elif torch.version.cuda is None:
        info["device_reasons"]["cuda"] = f"torch {torch.__version__} has no CUDA support; Triton kernels need a GPU"
    else:
        info["device_reasons"]["cuda"] = "no CUDA device visible to torch; Triton kernels need a GPU"
    return info


# ---- users' own kernels ---------------------------------------------------------------------
def _adapt(ctx: api.CellContext, user: api.UserKernel, variant: str) -> api.Kernel:
    """The user decorates a *launcher* taking torch tensors (it allocates the output, picks
    the grid and calls their ``@triton.jit`` kernel); this supplies the tensors on the device
    in the cell's dtype, synchronises CUDA after each call, and fetches every leaf to NumPy.

    ``interpreter`` runs the user's kernel on the CPU only when ``TRITON_INTERPRET=1`` was
    set before their file imported triton (the variable is read when ``@triton.jit``
    decorates): jitscope cannot set it for them once the file is loaded."""
    import torch

    from jitscope.backends._adapt import cast_inputs, library_message, tree_map

    interpret = variant == "interpreter"
    if interpret:
        if ctx.device != "cpu":
            raise api.SkipCell("triton:interpreter runs on the CPU only")
        if os.environ.get("TRITON_INTERPRET") != "1":
            raise api.SkipCell("a user's Triton kernel is interpreted only when TRITON_INTERPRET=1 is set before "
                           "its file imports triton: run `TRITON_INTERPRET=1 jitscope run ... -b triton:interpreter`")
        device = torch.device("cpu")
    else:
        if ctx.device != "cuda":
            raise api.SkipCell("compiled Triton kernels need a CUDA GPU (--device cuda); on the CPU, "
                           "TRITON_INTERPRET=1 with -b triton:interpreter checks them")
        if not torch.cuda.is_available():
            raise api.SkipCell("compiled Triton kernels need a CUDA GPU (torch sees none)")
        device = torch.device("cuda", 0)
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, lambda a: _put(torch, a, ctx, device),
                                lambda a: torch.as_tensor(a).to(device=device).contiguous()))

    def fetch(out: Any) -> Any:
        return tree_map(lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, out)

    return _kernel(interpret, torch, device, lambda: user.fn(**data), transfer=transfer,
                   sync=_make_sync(torch, interpret), fetch=fetch, ran_with=lambda out: (out, data),
                   explain=library_message, notes=_notes(ctx, interpret, launcher="the user's, on torch tensors"))


BACKEND = api.Backend(
    name=NAME,
    description="Triton kernels (mcpi, linreg, lu): compiled on CUDA; interpreter on CPU",
    requires=("triton", "torch"),
    extra="triton",
    devices=("cpu", "cuda"),
    info=_info,
    startup=_startup,
    adapter=api.Adapter(_adapt, variants=("default", "interpreter"), devices=("cpu", "cuda")),
    # Keep FMA contraction on (Triton's current default) and say so, instead of a warning.
    env={"TRITON_DEFAULT_FP_FUSION": "1"},
)
