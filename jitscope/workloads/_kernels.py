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


def triton_kernels(workload: Any, description: str, interpreter_max: int, **limits: Any) -> None:
    """Triton's compiled kernel (CUDA) and the same build under the interpreter (the CPU, to
    check it, at sizes up to ``interpreter_max``: it emulates every program in NumPy)."""
    build = ref("triton_backend", f"_{workload.name}")
    workload.kernel_build("triton", "default", build, description, devices=CUDA, **limits)
    workload.kernel_build("triton", "interpreter", build, "INTERPRETER (CPU, NumPy emulation), not compiled",
                          devices=CPU, max_size=interpreter_max, max_size_reason=TRITON_INTERPRETER)
