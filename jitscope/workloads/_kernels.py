"""What the built-in workloads' kernel lists share (``Workload.kernel_build`` in each file).

Each workload module declares its kernels with :class:`BuildRef` names of code that lives in
the backend modules, so no workload imports a backend (workloads and backends import only
``core``, docs/design.md §5); the device tuples and the Triton interpreter's reason are the
same words for every workload.
"""

from __future__ import annotations

from typing import Any

from jitscope.core.backend import BuildRef

CPU = ("cpu",)
CUDA = ("cuda",)
CPU_CUDA = ("cpu", "cuda")
F64 = ("float64",)
TRITON_INTERPRETER = "the Triton interpreter emulates every program in NumPy (checking, not timing)"
TORCH_VARIANTS = (("eager", "eager ATen ops"), ("compile", "torch.compile (Inductor)"))


def ref(backend_module: str, function: str, *args: Any) -> BuildRef:
    """``ref("numba_backend", "_mcpi", "parallel")``: that build in ``jitscope.backends``."""
    return BuildRef(f"jitscope.backends.{backend_module}:{function}", args)


def torch_kernels(workload: Any, what: str) -> None:
    """torch's two variants of one kernel, eager and ``torch.compile``, the same build
    (``torch_backend._<workload>(variant)``) on the CPU or a CUDA GPU."""
    for variant, words in TORCH_VARIANTS:
        workload.kernel_build("torch", variant, ref("torch_backend", f"_{workload.name}", variant),
                              f"{words}: {what}", devices=CPU_CUDA)


def common_kernels(workload: Any, *, cupy: str, cython: str, jax: str, julia: str, numba_cuda: str,
                   tensorflow: str, torch: str) -> None:
    """The kernels every built-in workload has, each argument its description: one build per
    backend named after the workload (``cupy_backend._<workload>``...; numba's CUDA kernel
    ``numba_backend._cuda(<workload>)``; julia's one ``_build``), on the same devices for every
    workload. Called after a workload's own numba variants, so ``numba:cuda`` stays last."""
    name = workload.name
    k = workload.kernel_build
    k("cupy", "default", ref("cupy_backend", f"_{name}"), cupy, devices=CUDA)
    k("cython", "default", ref("cython_backend", f"_{name}"), cython)
    k("jax", "default", ref("jax_backend", f"_{name}"), jax, devices=CPU_CUDA)
    k("julia", "default", ref("julia_backend", "_build"), julia)
    k("numba", "cuda", ref("numba_backend", "_cuda", name), numba_cuda, devices=CUDA)
    k("tensorflow", "default", ref("tensorflow_backend", f"_{name}"), tensorflow, devices=CPU_CUDA)
    torch_kernels(workload, torch)


def seed_kernels(workload: Any, *, python: str, numpy: str = "", numba: str = "", **limits: Any) -> None:
    """The SEED kernels, each argument its description (numpy's and numba's only where the
    workload has one): published code run as written, so float64 only, with ``limits`` where
    the published code is narrower still. The code is ``_seeds.<workload>_<backend>``, numba's
    ``numba_backend._seed(<workload>)`` (the published code under ``@njit``)."""
    name = workload.name
    k = workload.kernel_build
    if numba:
        k("numba", "seed", ref("numba_backend", "_seed", name), numba, dtypes=F64, **limits)
    if numpy:
        k("numpy", "seed", ref("_seeds", f"{name}_numpy"), numpy, dtypes=F64, **limits)
    k("python", "seed", ref("_seeds", f"{name}_python"), python, dtypes=F64, **limits)


def triton_kernels(workload: Any, description: str, interpreter_max: int, **limits: Any) -> None:
    """Triton's compiled kernel (CUDA) and the same build under the interpreter (the CPU, to
    check it, at sizes up to ``interpreter_max``: it emulates every program in NumPy)."""
    build = ref("triton_backend", f"_{workload.name}")
    workload.kernel_build("triton", "default", build, description, devices=CUDA, **limits)
    workload.kernel_build("triton", "interpreter", build, "INTERPRETER (CPU, NumPy emulation), not compiled",
                          devices=CPU, max_size=interpreter_max, max_size_reason=TRITON_INTERPRETER)
