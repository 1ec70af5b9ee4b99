"""Cython: ``_cython_kernels.pyx`` compiled at first use with the system C compiler.

The extension is built into ``cache_dir("cython")/<key>/`` where the key hashes the .pyx
source, the Cython and Python versions, the compiler and its flags, so an edit or an upgrade
rebuilds and nothing else does.

Where the build happens is a decision about what "compiled" means: the build runs inside the
cell's *first call* (not in ``build``), so a cell that needed it says compiled yes / cache
miss and its compile time is the build's; one that found the module on disk says compiled no
/ cache hit (loading a shared object is not compiling); a later cell of the same worker says
compiled no / cache n/a. ``build_s`` records the build's own duration. A machine without a C
compiler gets a clear "unavailable" reason from the probe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitscope.core import backend as api

NAME = "cython"
PYX = Path(__file__).with_name("_cython_kernels.pyx")
# Reassociation lets the compiler vectorise the reductions (like numba's fastmath) without
# -ffast-math, which could link crtfastmath and flush denormals for the whole process.
# -march=native, like Numba's LLVM targeting the host CPU (so the cache key includes the CPU).
CFLAGS = (
    "-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math",
    "-fno-signed-zeros", "-fassociative-math", "-fno-strict-aliasing",
)
_loaded: dict[str, Any] = {}
_failed: dict[str, str] = {}  # a failed build is not retried for every cell of the worker


def find_compiler() -> str | None:
    """``$CC`` if set (first word), else cc, gcc or clang on PATH."""
    env = os.environ.get("CC", "").split()
    for candidate in ([env[0]] if env else []) + ["cc", "gcc", "clang"]:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def _probe() -> str | None:
    if find_compiler() is None:
        return "no C compiler found on PATH (cc, gcc or clang; or set CC)"
    return None


def _cpu_signature() -> str:
    """The CPU the module is built for (-march=native): model and feature flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = [line for line in fh if line.startswith(("model name", "flags", "Features"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.machine() + platform.processor()


def _cache_key(compiler: str) -> str:
    import Cython

    h = hashlib.sha256()
    h.update(PYX.read_bytes())
    parts = (Cython.__version__, sys.version, sysconfig.get_config_var("EXT_SUFFIX") or "", compiler,
             _cpu_signature(), *CFLAGS)
    for part in parts:
        h.update(b"\0" + str(part).encode())
    return h.hexdigest()[:16]


def build_module() -> tuple[Any, dict[str, Any]]:
    """Load the compiled kernels, building them first if this key is not cached yet."""
    from jitscope.core.paths import cache_dir

    compiler = find_compiler()
    if compiler is None:
        raise RuntimeError("no C compiler found on PATH (cc, gcc or clang; or set CC)")
    key = _cache_key(compiler)
    name = f"jitscope_cy_{key}"
    target = cache_dir("cython") / key / (name + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    record: dict[str, Any] = {"compiler": f"Cython -> {compiler} {' '.join(CFLAGS)}", "module_path": str(target)}
    if name in _loaded:
        record["build"] = "memory"
        return _loaded[name], record
    if name in _failed:
        raise RuntimeError(_failed[name])
    if target.exists():
        record["build"] = "hit"
    else:
        t0 = time.perf_counter()
        try:
            _compile(name, compiler, target)
        except RuntimeError as exc:
            _failed[name] = str(exc)
            raise
        record["build_s"] = round(time.perf_counter() - t0, 3)
        record["build"] = "miss"
    spec = importlib.util.spec_from_file_location(name, target)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the compiled module {target}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _loaded[name] = module
    return module, record


def _compile(name: str, compiler: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jitscope-cython-", dir=target.parent) as tmp:
        work = Path(tmp)
        pyx = work / f"{name}.pyx"
        shutil.copyfile(PYX, pyx)
        c_file = work / f"{name}.c"
        _check([sys.executable, "-m", "cython", "-3", "-o", str(c_file), str(pyx)], "cython")
        include = sysconfig.get_paths()["include"]
        so = work / target.name
        _check([compiler, *CFLAGS, f"-I{include}", "-o", str(so), str(c_file)], "the C compiler")
        os.replace(so, target)  # atomic: a concurrent worker sees all of it or nothing


def _check(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))


def cython_kernel(ctx: api.CellContext, make_call: Any, prepare: Any = None, probed: bool = False,
                  **notes: Any) -> api.Kernel:
    """A :class:`FunctionKernel` (the one kernel shape) whose first call builds (or loads)
    the extension, so the build is in the compile column, observed by
    :class:`CythonBuildWatch`. ``probed``: the call returns ``(result, array)``, the array
    being data the kernel computed in its specialisation's type (see ``_cython_kernels.pyx``)."""
    own = {"sync": "none needed (synchronous C code)", "threads": 1, **notes}
    state = _BuildState()

    def run() -> Any:
        if state.call is None:
            module, record = build_module()
            state.build = str(record.pop("build", ""))
            own.update(record)
            state.call = make_call(module)
        return state.call()

    unprobe = (lambda out: out[1]) if probed else None
    return api.FunctionKernel(run, transfer=prepare, notes=own, watch=lambda: CythonBuildWatch(state),
                          ran_with=unprobe, fetch=(lambda out: out[0]) if probed else None)


@dataclass
class _BuildState:
    """A kernel's extension: ``build`` is miss / hit / memory once the first call built or
    loaded the module; ``call`` the compiled entry point from then on."""

    build: str = ""
    call: Any = None


class CythonBuildWatch(api.CompileWatch):
    """The extension is built (or loaded) inside the first call: cythonize + C compile is a
    compilation with a cache miss; a module loaded from jitscope's disk cache is a hit; one
    already loaded in this worker consulted no cache."""

    def __init__(self, state: _BuildState) -> None:
        self._state = state

    def stop(self) -> api.CompileObservation:
        state = self._state.build
        if state == "miss":
            return api.CompileObservation("yes", "miss", detail="cythonized and compiled with the C compiler")
        if state == "hit":
            return api.CompileObservation("no", "hit", detail="built module loaded from the disk cache")
        if state == "memory":
            return api.CompileObservation("no", "n/a", detail="module already loaded in this worker")
        return api.CompileObservation("unknown", "unknown")


RNG = "splitmix64 counter-based (sample/node i = splitmix64(key(seed) + i*phi64))"


def _ctype(ctx: api.CellContext) -> str:
    return "float" if ctx.dtype == "float32" else "double"


def _linreg(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    dt = np.dtype(ctx.dtype)
    n, d = ctx.inputs["X"].shape
    epochs = int(ctx.inputs["epochs"])
    coef = float(dt.type(ctx.inputs["mu"] * 2.0 / n))
    data: dict[str, Any] = {}

    def prepare() -> None:
        data["X"] = np.ascontiguousarray(ctx.inputs["X"], dtype=dt)
        data["y"] = np.ascontiguousarray(ctx.inputs["y"], dtype=dt)
        data["g"] = np.empty(d, dtype=dt)

    def make_call(module: Any) -> Any:
        fn = module.linreg[_ctype(ctx)]

        def call() -> Any:
            w = np.zeros(d, dtype=dt)
            fn(data["X"], data["y"], coef, epochs, w, data["g"])
            return w

        return call

    kernel = cython_kernel(ctx, make_call, prepare, layout="row-major X, one fused pass per epoch (typed memoryviews)")
    return kernel


def _mcpi(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    n = int(ctx.inputs["n"])
    seed = int(ctx.inputs["seed"])
    probe = np.zeros(1, dtype=np.dtype(ctx.dtype))  # selects the specialisation, gets a sample

    def make_call(module: Any) -> Any:
        fn = module.mcpi
        return lambda: (fn(n, seed, probe), probe)

    return cython_kernel(ctx, make_call, probed=True, rng=RNG, layout="fused generate-test-count, int64 counter")


def _lu(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    data: dict[str, Any] = {}

    def prepare() -> None:
        data["A"] = np.ascontiguousarray(ctx.inputs["A"], dtype=np.dtype(ctx.dtype))

    def make_call(module: Any) -> Any:
        fn = module.lu_inplace[_ctype(ctx)]

        def call() -> Any:
            factor = data["A"].copy()
            return fn(factor), factor  # (sign, logdet) in double; the factor in its own dtype

        return call

    kernel = cython_kernel(
        ctx, make_call, prepare, probed=True, layout="copy of A, then naive in-place Doolittle",
        accumulator="log|det| in double",
    )
    return kernel


def _nodes(ctx: api.CellContext) -> api.Kernel:
    import numpy as np

    n = int(ctx.inputs["n"])
    p = float(ctx.inputs["p"])
    seed = int(ctx.inputs["seed"])
    probe = np.zeros(1, dtype=np.dtype(ctx.dtype))  # selects the specialisation, gets a bias

    def make_call(module: Any) -> Any:
        fn = module.nodes
        return lambda: (fn(n, p, seed, probe), probe)

    return cython_kernel(
        ctx, make_call, probed=True, rng=RNG, layout="structure of arrays in malloc'd C memory",
        accumulator="checksum in double",
    )


def _info() -> dict[str, Any]:
    import Cython

    compiler = find_compiler()
    info: dict[str, Any] = {"version": Cython.__version__, "devices": ["cpu"], "compiler": compiler}
    if compiler:
        try:
            out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=10)
            info["compiler_version"] = (out.stdout or out.stderr).splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    return info


BACKEND = api.Backend(
    name=NAME,
    description="Cython: typed memoryview loops, built at first use with the C compiler, cached on disk",
    requires=("Cython",),
    extra="cython",
    devices=("cpu",),
    info=_info,
    probe=_probe,
)
