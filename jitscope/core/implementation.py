"""An implementation (workload x backend x variant) and how its kernel is built.

Apart from :mod:`jitscope.core.backend` so that a workload can declare its kernels
(``Workload.kernel_build``) without importing the backend model, which imports workloads:
one direction only, no circle (the layer contract in pyproject.toml checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jitscope.core.model import CellSpec

if TYPE_CHECKING:
    from jitscope.core.backend import CellContext, Kernel


@dataclass(frozen=True)
class Implementation:
    """workload x backend x variant. ``build`` runs only inside a worker process."""

    workload: str
    backend: str
    variant: str
    build: Callable[[CellContext], Kernel]
    description: str = ""
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float64", "float32")
    max_size: int | None = None  # e.g. the Triton interpreter: larger sizes are skipped
    max_size_reason: str = ""
    dtypes_reason: str = ""  # why a dtype outside ``dtypes`` is skipped, when not the backend's doing

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.variant}"

    def refusal(self, spec: CellSpec) -> str | None:
        """Why this implementation cannot run ``spec`` (decided without importing anything)."""
        if spec.device not in self.devices:
            return f"{self.label} has no {spec.device} implementation of {self.workload}"
        if spec.dtype not in self.dtypes:
            if self.dtypes_reason:
                return self.dtypes_reason
            return f"{self.label} runs {self.workload} in {'/'.join(self.dtypes)} only, not {spec.dtype}"
        if self.max_size is not None and spec.size > self.max_size:
            why = f": {self.max_size_reason}" if self.max_size_reason else ""
            return f"{self.label} is limited to size <= {self.max_size}{why}"
        return None


@dataclass(frozen=True)
class BuildRef:
    """A kernel's ``build`` named as ``"module:function"`` (``args``: a factory called with
    them first, e.g. numba's ``_mcpi("parallel")``), imported only when a cell is built, in
    the worker. A workload file lists its kernels with these, so it imports no backend:
    workloads and backends stay side by side, both light at import (docs/design.md §10)."""

    target: str
    args: tuple[Any, ...] = ()

    def __call__(self, ctx: CellContext) -> Kernel:
        module, _, attr = self.target.partition(":")
        build: Any = getattr(importlib.import_module(module), attr)
        if self.args:
            build = build(*self.args)
        return build(ctx)  # type: ignore[no-any-return]


# Options of ``@w.kernel(...)`` every backend takes, jitscope's own (never passed to a
# library): ``description=`` (what ``jitscope workloads --matrix`` says of the kernel),
# ``notes=`` (a dict added to the cell's notes: the RNG, the layout... the fairness record)
# and ``probe=True`` (the function returns ``(result, probe)``: the result is checked, the
# probe, data the kernel computed, is what ``dtype_used`` is read from; core/userrun.py).
KERNEL_OPTIONS = ("description", "notes", "probe")


@dataclass(frozen=True)
class UserKernel:
    """A user's plain function bound to a backend by ``@w.kernel(backend[, variant])``.

    ``variant`` None serves every variant of the backend's :class:`Adapter` (numba's njit
    and njit(parallel=True), torch eager and compile); a named variant binds one and takes
    precedence for it. ``options`` are the decorator's keywords (e.g. ``lists=True`` for
    python), checked against :attr:`Adapter.options` when the file is loaded."""

    workload: str
    backend: str
    variant: str | None
    fn: Callable[..., Any]
    options: tuple[tuple[str, Any], ...] = ()
    source: str = ""  # "kernels.py:12", for messages

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def library_options(self, own: tuple[str, ...] = ()) -> dict[str, Any]:
        """The decorator's keywords meant for the library (all but jitscope's ``own`` and
        the options every backend takes, :data:`KERNEL_OPTIONS`)."""
        return {k: v for k, v in self.options if k not in own and k not in KERNEL_OPTIONS}
