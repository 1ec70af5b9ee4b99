"""jitscope: which Python numerical backend is fastest for this workload, on this machine,
and is its answer still right?

The public API for your own kernels is :func:`jitscope.workload`, with :func:`jitscope.param`
(a parameter with help text and bounds) and :class:`jitscope.Accuracy` (what a ``check=``
may return) (README, "Your own kernels"); the built-in workloads are declared with it too.
It is loaded on first use, so ``import jitscope`` stays as light as the app's first frame
needs (no NumPy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jitscope.core.version import __version__

__all__ = ["Accuracy", "param", "workload", "__version__"]

if TYPE_CHECKING:
    from jitscope.core.declaration import param
    from jitscope.core.model import Accuracy
    from jitscope.core.userkernels import workload


def __getattr__(name: str) -> Any:
    if name == "workload":
        from jitscope.core.userkernels import workload

        return workload
    if name == "param":
        from jitscope.core.declaration import param

        return param
    if name == "Accuracy":
        from jitscope.core.model import Accuracy

        return Accuracy
    raise AttributeError(f"module 'jitscope' has no attribute {name!r}")
