"""jitscope: which Python numerical backend is fastest for this workload, on this machine,
and is its answer still right?

The public API for your own kernels is :func:`jitscope.workload` (README, "Your own
kernels"). It is loaded on first use, so ``import jitscope`` stays as light as the app's
first frame needs (no NumPy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jitscope.core.version import __version__

__all__ = ["workload", "__version__"]

if TYPE_CHECKING:
    from jitscope.core.userkernels import workload


def __getattr__(name: str) -> Any:
    if name == "workload":
        from jitscope.core.userkernels import workload

        return workload
    raise AttributeError(f"module 'jitscope' has no attribute {name!r}")
