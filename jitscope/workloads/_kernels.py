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
