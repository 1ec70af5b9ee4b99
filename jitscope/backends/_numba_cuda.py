"""``numba:cuda``: the host side of numba_backend's ``numba.cuda`` kernels (light at import).

The kernels live in ``_numba_cuda_kernels``; this module moves the data, launches them, waits
(``cuda.synchronize()`` in ``sync``, so every clock read follows a finished device) and reads
what was observed:

* the device peak from the driver (``cuda.current_context().get_memory_info()``, i.e.
  cuMemGetInfo: used = total - free) after the calls, above what was used before the
  transfer. Every buffer is allocated in ``transfer`` and nothing inside a call, so the used
  memory at the end is the cell's high-water mark (other processes on the same GPU would add
  to it). The simulator's "memory" is host RAM and its driver answers infinity: ``None``
  (unknown), never a made-up number;
* compilation from the dispatchers' own counters (``NumbaCompileWatch``: compiler passes, new
  signatures, disk-cache hits/misses). The simulator compiles nothing: it runs the kernels'
  Python source, one Python thread per CUDA thread.

Simulated or not is read from numba itself (``simulated``), and the worker
reports it (``simulated_devices``) so every cell of that device is labelled ``cuda (simulated)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jitscope.core import backend as api

SIMULATOR_NOTE = "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1): Python threads on the CPU, not a GPU"
NO_GPU = ("numba.cuda.is_available() is False: no NVIDIA driver or GPU here; NUMBA_ENABLE_CUDASIM=1 "
          "runs numba:cuda in numba's CUDA simulator (checking, not timing)")
XOROSHIRO = "numba.cuda.random xoroshiro128+, one generator per thread (states seeded in transfer, advanced by every call)"


@dataclass(frozen=True)
class Launch:
    """Threads per block (1-D) and the 2-D tile, and how many threads a grid-stride kernel
    starts. The simulator runs one Python thread per CUDA thread, hence small blocks there."""

    threads: int
    tile: tuple[int, int]
    grid_threads: int

    def blocks(self, n: int) -> int:
        return max(1, math.ceil(n / self.threads))

    def stride_blocks(self, n: int) -> int:
        """Blocks of a grid-stride kernel over ``n`` items: enough threads, capped."""
        return self.blocks(min(n, self.grid_threads))

    def grid2(self, nx: int, ny: int) -> tuple[int, int]:
        return max(1, math.ceil(nx / self.tile[0])), max(1, math.ceil(ny / self.tile[1]))


GPU_LAUNCH = Launch(threads=256, tile=(32, 8), grid_threads=256 * 1024)
SIM_LAUNCH = Launch(threads=32, tile=(8, 4), grid_threads=64)


def simulated() -> bool:
    """Is ``numba.cuda`` the simulator? Read from numba itself: the module its API comes from
    (``numba.cuda.simulator_init``; robust to where a numba/numba-cuda release keeps its
    config), or numba's ``ENABLE_CUDASIM`` setting."""
    from numba import config, cuda

    source = getattr(cuda.is_available, "__module__", "") or ""
    return "simulator" in source or bool(getattr(config, "ENABLE_CUDASIM", 0))


def cuda_reason() -> str | None:
    """Why numba:cuda cannot run here (None: it can, on a GPU or in the simulator)."""
    try:
        from numba import cuda
    except ImportError as exc:  # numba without its CUDA part (numba-cuda split)
        return f"numba.cuda cannot be imported: {exc}"
    try:
        return None if cuda.is_available() else NO_GPU
    except Exception as exc:  # a broken driver says so here
        return f"numba.cuda cannot use CUDA: {type(exc).__name__}: {exc}"


def cuda_info() -> dict[str, Any]:
    """The worker's view of CUDA through numba: device name, or why there is none."""
    reason = cuda_reason()
    if reason is not None:
        return {"cuda_reason": reason}
    from numba import cuda

    info: dict[str, Any] = {"simulated": simulated()}
    if info["simulated"]:
        info["gpu"] = SIMULATOR_NOTE
    else:
        device = cuda.get_current_device()
        name = device.name
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["compute_capability"] = ".".join(str(v) for v in device.compute_capability)
    return info


def startup() -> dict[str, Any]:
    """The CUDA context is created by the first call that needs it: start-up, not a cell."""
    if cuda_reason() is not None:
        return {}
    from numba import cuda

    cuda.current_context()
    return {"cuda_context": "simulator" if simulated() else "created"}


def _env() -> tuple[Any, Any, Launch]:
    """numba.cuda, the kernels module and the launch shape; SkipCell when no device."""
    reason = cuda_reason()
    if reason is not None:
        raise api.SkipCell(reason)
    from numba import cuda

    from jitscope.backends import _numba_cuda_kernels as K

    if simulated():
        _quiet_simulator()
        return cuda, K, SIM_LAUNCH
    return cuda, K, GPU_LAUNCH


def _quiet_simulator() -> None:
    """The simulator runs xoroshiro128+ in NumPy scalars, whose intended uint64 wrap-around
    warns "overflow", and numba falls back to object mode for its state seeding: noise that
    says nothing about the kernels, kept out of the worker's stderr."""
    import warnings

    from numba.core.errors import NumbaWarning

    warnings.filterwarnings("ignore", message=r"\s*Compilation is falling back to object mode", category=NumbaWarning)
    warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)


class DriverPeak:
    """Used device memory from the driver (cuMemGetInfo) above its value at ``reset``; see
    the module docstring for why that is the cell's peak. None where the driver gives no
    finite number (the simulator)."""

    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda
        self._base: float | None = None

    def _used(self) -> float | None:
        free, total = self._cuda.current_context().get_memory_info()
        used = float(total) - float(free)
        return used if math.isfinite(used) else None

    def reset(self) -> None:
        self._base = self._used()

    def peak(self) -> int | None:
        used = self._used()
        if used is None or self._base is None:
            return None
        return max(0, int(used - self._base))


class SimulatorWatch(api.CompileWatch):
    """The simulator calls the kernels' Python functions: nothing is compiled or cached."""

    def stop(self) -> api.CompileObservation:
        return api.CompileObservation("no", "n/a", detail="numba CUDA simulator: kernels run as Python, nothing compiled")


def _watch(dispatchers: list[Any]) -> Any:
    if simulated():
        return SimulatorWatch
    from jitscope.backends.numba_backend import NumbaCompileWatch

    return lambda: NumbaCompileWatch(dispatchers)


def _notes(shape: Launch, **extra: Any) -> dict[str, Any]:
    import numba

    notes: dict[str, Any] = {
        "sync": "numba.cuda.synchronize() after every call",
        "compiler": f"numba {numba.__version__} (CUDA: NVVM -> PTX)",
        "threads": "n/a (GPU)",
        "launch": f"{shape.threads} threads/block, 2-D tile {shape.tile[0]}x{shape.tile[1]}",
        "device_peak": "driver used memory (cuMemGetInfo) after the calls minus before the transfer",
    }
    if simulated():
        notes["simulator"] = SIMULATOR_NOTE
        notes["device_peak"] = "unknown: the simulator's driver reports no memory"
    notes.update(extra)
    return notes


def _kernel(cuda: Any, run: Any, dispatchers: list[Any], **kwargs: Any) -> api.Kernel:
    return api.FunctionKernel(run, sync=lambda out: cuda.synchronize(), device_peak=DriverPeak(cuda),
                          watch=_watch(dispatchers), **kwargs)


def _put(cuda: Any, array: Any, dtype: Any) -> Any:
    import numpy as np

    return cuda.to_device(np.ascontiguousarray(array, dtype=dtype))


# ---- linreg ---------------------------------------------------------------------------------
def linreg(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    cuda, K, launch = _env()
    dt = np.dtype(ctx.dtype)
    n, d = ctx.inputs["X"].shape
    epochs = int(ctx.inputs["epochs"])
    chunks = math.ceil(n / K.LINREG_ROW_CHUNK)
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(X=_put(cuda, ctx.inputs["X"], dt), y=_put(cuda, ctx.inputs["y"], dt),
                    zeros=_put(cuda, np.zeros(d), dt), g=_put(cuda, np.zeros(d), dt),
                    w=cuda.device_array(d, dt), r=cuda.device_array(n, dt),
                    coef=_put(cuda, [ctx.inputs["mu"] * 2.0 / n], dt))
        cuda.synchronize()

    def run() -> Any:
        X, y, w, r, g = data["X"], data["y"], data["w"], data["r"], data["g"]
        w.copy_to_device(data["zeros"])
        for _ in range(epochs):
            K.linreg_residual[launch.blocks(n), launch.threads](X, y, w, r)
            K.linreg_gradient[launch.grid2(d, chunks), launch.tile](X, r, g, K.LINREG_ROW_CHUNK)
            K.linreg_update[launch.blocks(d), launch.threads](w, g, data["coef"])
        return w

    layout = (f"row-major X; per epoch: residual (thread per row), gradient (threads over columns x "
              f"{K.LINREG_ROW_CHUNK}-row chunks, atomic adds), update (thread per column)")
    return _kernel(cuda, run, list(K.DISPATCHERS["linreg"]), transfer=transfer,
                   fetch=lambda out: out.copy_to_host(), notes=_notes(launch, layout=layout))


# ---- mcpi -----------------------------------------------------------------------------------
def mcpi(ctx: api.CellContext) -> api.Kernel:
    import numpy as np
    from numba.cuda.random import create_xoroshiro128p_states

    cuda, K, launch = _env()
    n = int(ctx.inputs["n"])
    blocks = launch.stride_blocks(n)
    fn = K.mcpi_f32 if ctx.dtype == "float32" else K.mcpi_f64
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(states=create_xoroshiro128p_states(blocks * launch.threads, seed=int(ctx.inputs["seed"])),
                    count=cuda.device_array(1, np.int64), zero=_put(cuda, [0], np.int64),
                    probe=cuda.device_array(1, np.dtype(ctx.dtype)))
        cuda.synchronize()

    def run() -> Any:
        data["count"].copy_to_device(data["zero"])
        fn[blocks, launch.threads](data["states"], n, data["count"], data["probe"])
        return data["count"], data["probe"]

    notes = _notes(launch, rng=XOROSHIRO, layout=f"{blocks * launch.threads} threads, grid-stride over samples, "
                                                   "int64 atomic count")
    return _kernel(cuda, run, [fn], transfer=transfer, fetch=lambda out: 4.0 * int(out[0].copy_to_host()[0]) / n,
                   ran_with=lambda out: out[1], notes=notes)


# ---- lu -------------------------------------------------------------------------------------
def lu(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    cuda, K, launch = _env()
    size = int(ctx.inputs["A"].shape[0])
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(A=_put(cuda, ctx.inputs["A"], ctx.dtype), a=cuda.device_array((size, size), np.dtype(ctx.dtype)),
                    out=cuda.device_array(2, np.float64))
        cuda.synchronize()

    def run() -> Any:
        a = data["a"]
        a.copy_to_device(data["A"])
        for k in range(size - 1):
            m = size - k - 1
            K.lu_scale_column[launch.blocks(m), launch.threads](a, k)
            K.lu_rank1_update[launch.grid2(m, m), launch.tile](a, k)
        K.lu_slogdet[1, 1](a, data["out"])
        return data["out"], a

    def fetch(out: Any) -> Any:
        host = out[0].copy_to_host()
        return float(host[0]), float(host[1])

    layout = "copy of A; per k: scale column, rank-1 update of the trailing block (2-D grid); slogdet on one thread"
    return _kernel(cuda, run, list(K.DISPATCHERS["lu"]), transfer=transfer, fetch=fetch, ran_with=lambda out: out[1],
                   notes=_notes(launch, layout=layout, accumulator="log|det| summed in float64"))


# ---- nodes ----------------------------------------------------------------------------------
def nodes(ctx: api.CellContext) -> api.Kernel:
    import numpy as np
    from numba.cuda.random import create_xoroshiro128p_states

    cuda, K, launch = _env()
    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    blocks = launch.stride_blocks(n)
    mutate = K.nodes_f32 if ctx.dtype == "float32" else K.nodes_f64
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(states=create_xoroshiro128p_states(blocks * launch.threads, seed=int(ctx.inputs["seed"])),
                    keys=cuda.device_array(n, np.int64), bias=cuda.device_array(n, np.dtype(ctx.dtype)),
                    total=cuda.device_array(1, np.float64), zero=_put(cuda, [0.0], np.float64))
        cuda.synchronize()

    def run() -> Any:
        mutate[blocks, launch.threads](data["states"], data["keys"], data["bias"], p)
        data["total"].copy_to_device(data["zero"])
        K.nodes_checksum[blocks, launch.threads](data["bias"], data["total"])
        return data["total"], data["bias"]

    notes = _notes(launch, rng=XOROSHIRO, accumulator="checksum accumulated in float64 (atomic adds)",
                   layout="structure of arrays (keys int64, bias) on the device, grid-stride init + mutate, checksum kernel")
    return _kernel(cuda, run, [mutate, K.nodes_checksum], transfer=transfer,
                   fetch=lambda out: float(out[0].copy_to_host()[0]), ran_with=lambda out: out[1], notes=notes)


BUILDERS = {"linreg": linreg, "mcpi": mcpi, "lu": lu, "nodes": nodes}


# ---- users' own kernels -----------------------------------------------------------------------
def _referenced_dispatchers(fn: Any) -> list[Any]:
    """The ``@cuda.jit`` kernels a user's launcher names (its globals), whose counters say
    whether the first call compiled them."""
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    found = (getattr(fn, "__globals__", {}).get(name) for name in names)
    return [obj for obj in found if hasattr(obj, "overloads") and hasattr(obj, "py_func")]


def adapt(ctx: api.CellContext, user: api.UserKernel) -> api.Kernel:
    """``@w.kernel("numba", "cuda")``: the user's *launcher*, a host function that launches
    their own ``@cuda.jit`` kernel(s) with their own grid and returns device arrays. The
    adapter moves the inputs (cast to the cell's dtype) to the device before the timed calls,
    synchronises after each call, copies every device array of the result back and watches
    the kernels the launcher names."""
    from jitscope.backends._adapt import cast_inputs, library_message, tree_map

    cuda, _, launch = _env()
    data: dict[str, Any] = {}

    def transfer() -> None:
        data.update(cast_inputs(ctx, cuda.to_device, cuda.to_device))
        cuda.synchronize()

    def fetch(out: Any) -> Any:
        return tree_map(lambda v: v.copy_to_host() if hasattr(v, "copy_to_host") else v, out)

    notes = _notes(launch, launch="the user's (their launcher picks the grid)", jit="the user's @cuda.jit kernels")
    if not simulated():  # the launcher may allocate (and free) inside a call: used memory after is a floor
        notes["device_peak"] += "; a lower bound when the launcher allocates per call"
    return _kernel(cuda, lambda: user.fn(**data), _referenced_dispatchers(user.fn), transfer=transfer, fetch=fetch,
                   ran_with=lambda out: (out, data), explain=library_message, notes=notes)
