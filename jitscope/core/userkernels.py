"""Users' own kernels: ``jitscope.workload(...)`` and its ``@reference`` / ``@kernel`` decorators.

A user writes plain functions; the backends' adapters (``Backend.adapter``) do what the
built-in kernels do by hand: move and cast the inputs, jit, sync, fetch, observe. This module
only *records* what the file declares and turns it into a :class:`Workload` the engine
already knows how to run; it imports no backend (docs/design.md §10).

    saxpy = jitscope.workload("saxpy", inputs=lambda n, rng: {...}, sizes=(10_000, 1_000_000))

    @saxpy.reference
    def _(x, y): return 2.0 * x + y

    @saxpy.kernel("numba")            # every variant that runs a plain function
    def _(x, y): ...

    @saxpy.kernel("numba", "parallel")  # this variant only; takes precedence for it
    def _(x, y): ...
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jitscope.core.backend import UserKernel
from jitscope.core.model import Accuracy
from jitscope.core.workload import Inputs, Workload

# Norm-wise relative error allowed by default: float64 keeps ~16 digits, float32 ~7; a
# reduction over n elements loses about log2(n) bits more, fastmath reorders sums.
DEFAULT_TOLERANCE = {"float64": 1e-9, "float32": 1e-4}

Check = Callable[[Any, Any], Any]


def _where(fn: Callable[..., Any]) -> str:
    try:
        return f"{inspect.getsourcefile(fn) or '?'}:{inspect.getsourcelines(fn)[1]}"
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def _parts(value: Any) -> list[Any]:
    """A result as a flat list of parts: a tuple is unpacked, anything else (an array, a
    scalar, a list of numbers) is one part that NumPy reads as an array."""
    if isinstance(value, tuple):
        return [p for item in value for p in _parts(item)]
    return [value]


def relative_error(result: Any, reference: Any) -> tuple[float, str]:
    """Norm-wise relative error ``||r - ref|| / ||ref||`` (absolute where ``ref`` is all
    zeros), the worst over the parts of a tuple result; with a detail for a shape mismatch."""
    got, want = _parts(result), _parts(reference)
    if len(got) != len(want):
        return math.inf, f"returned {len(got)} value(s), the reference {len(want)}"
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        try:
            a = np.asarray(g, dtype=np.float64)
        except (TypeError, ValueError):
            return math.inf, f"result part {i} is not numeric ({type(g).__name__})"
        b = np.asarray(w, dtype=np.float64)
        if a.shape != b.shape:
            if a.size == b.size:
                a = a.reshape(b.shape)
            else:
                return math.inf, f"result shape {a.shape} differs from the reference's {b.shape}"
        if not np.all(np.isfinite(a)):
            return math.inf, "result has NaN or inf"
        scale = float(np.linalg.norm(b.ravel()))
        diff = float(np.linalg.norm((a - b).ravel()))
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst, ""


class UserWorkload:
    """What ``jitscope.workload(...)`` returns: the declaration of a user's workload, its
    float64 reference and its kernels. :attr:`workload` is the engine's view of it."""

    def __init__(
        self,
        name: str,
        *,
        inputs: Callable[[int, np.random.Generator], Mapping[str, Any]],
        sizes: tuple[int, ...] | list[int] = (),
        flops: Callable[[int], float] | None = None,
        bytes: Callable[[int], float] | None = None,  # noqa: A002 - the public keyword
        tolerance: float | Mapping[str, float] | None = None,
        check: Check | None = None,
        description: str = "",
        size_label: str = "n",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"jitscope.workload needs a name, got {name!r}")
        if not callable(inputs):
            raise TypeError(f"workload {name}: inputs= must be a function (n, rng) -> dict of arrays")
        for what, fn in (("flops", flops), ("bytes", bytes), ("check", check)):
            if fn is not None and not callable(fn):
                raise TypeError(f"workload {name}: {what}= must be a function")
        self.name = name
        self.inputs = inputs
        self.sizes = tuple(int(s) for s in sizes)
        self.flops = flops
        self.bytes = bytes
        self.tolerance = tolerance
        self.check = check
        self.description = description
        self.size_label = size_label
        self.reference_fn: Callable[..., Any] | None = None
        self.kernels: list[UserKernel] = []
        self.workload = FunctionWorkload(self)

    # ---- the decorators (the public API) ------------------------------------------------
    def reference(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The float64 truth every kernel is checked against (NumPy or plain Python)."""
        if not callable(fn):
            raise TypeError(f"@{self.name}.reference decorates a function")
        self.reference_fn = fn
        return fn

    def kernel(self, backend: str, variant: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``@w.kernel("numba")``: this function is the numba kernel (every numba variant
        that runs a plain function); ``@w.kernel("numba", "parallel")``: that variant only."""
        if not isinstance(backend, str) or (variant is not None and not isinstance(variant, str)):
            raise TypeError(f"@{self.name}.kernel(backend, variant=None): names are strings, got {backend!r}, {variant!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError(f"@{self.name}.kernel({backend!r}) decorates a function")
            for k in self.kernels:
                if (k.backend, k.variant) == (backend, variant):
                    which = f"{backend}:{variant}" if variant else backend
                    raise ValueError(f"workload {self.name} has two kernels for {which} ({k.source} and {_where(fn)})")
            self.kernels.append(UserKernel(self.name, backend, variant, fn, tuple(sorted(options.items())), _where(fn)))
            return fn

        return register

    def kernel_for(self, backend: str, variant: str, exact: bool = False) -> UserKernel | None:
        """The kernel bound to exactly this variant, else (unless ``exact``) the backend-wide one."""
        named = [k for k in self.kernels if k.backend == backend and k.variant == variant]
        wide = [] if exact else [k for k in self.kernels if k.backend == backend and k.variant is None]
        found = named or wide
        return found[0] if found else None

    def __repr__(self) -> str:
        return f"<jitscope workload {self.name!r}: {len(self.kernels)} kernel(s)>"


def workload(name: str, **kwargs: Any) -> UserWorkload:
    """Declare a workload from plain functions; see :class:`UserWorkload` and the README."""
    return UserWorkload(name, **kwargs)


class FunctionWorkload(Workload):
    """The engine's view of a :class:`UserWorkload` (inputs, reference, check, cost model)."""

    def __init__(self, user: UserWorkload) -> None:
        self.user = user
        self.name = user.name
        self.description = user.description or f"user kernel {user.name}"
        self.size_label = user.size_label
        self.default_sizes = user.sizes
        self.presets = {"default": user.sizes} if user.sizes else {}
        self.params = ()
        self.result_form = "what the reference returns (array, scalar or tuple)"

    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        made = self.user.inputs(size, np.random.default_rng(seed))
        if not isinstance(made, Mapping):
            raise TypeError(f"{self.name}: inputs(n, rng) returned a {type(made).__name__}, not a dict of named arrays")
        out: Inputs = {}
        for key, value in made.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise TypeError(f"{self.name}: input name {key!r} is not a valid keyword argument")
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                value = np.ascontiguousarray(value, dtype=np.float64)  # float64 truth; backends cast
            out[key] = value
        return out

    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        if self.user.reference_fn is None:
            raise TypeError(f"workload {self.name} has no @{self.name}.reference: nothing to check kernels against")
        return self.user.reference_fn(**inputs)

    def tolerance(self, dtype: str) -> float:
        tol = self.user.tolerance
        if isinstance(tol, Mapping):
            return float(tol.get(dtype, DEFAULT_TOLERANCE.get(dtype, 1e-4)))
        if tol is not None:
            return float(tol)
        return DEFAULT_TOLERANCE.get(dtype, 1e-4)

    def check(self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str) -> Accuracy:
        tolerance = self.tolerance(dtype)
        if self.user.check is not None:
            verdict = self.user.check(result, reference)
            if isinstance(verdict, (bool, np.bool_)):
                return Accuracy(0.0 if verdict else math.inf, "check", tolerance, bool(verdict),
                                "" if verdict else "the workload's check= returned False")
            error = float(verdict)
            return Accuracy(error, "check", tolerance, bool(math.isfinite(error) and error <= tolerance))
        error, detail = relative_error(result, reference)
        return Accuracy(error, "rel_error_norm", tolerance, bool(math.isfinite(error) and error <= tolerance), detail)

    def flops(self, size: int, params: dict[str, Any]) -> float | None:
        return float(self.user.flops(size)) if self.user.flops is not None else None

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float | None:
        # bytes= counts float64 traffic (as the inputs are made); float32 moves half of it.
        return float(self.user.bytes(size)) * itemsize / 8 if self.user.bytes is not None else None

    def missing_implementation(self, backend: str, variant: str) -> str:
        """Why a cell of a backend the file wrote no kernel for is skipped."""
        return f"{self.name} has no {backend} kernel (no @{self.name}.kernel({backend!r}) in its file)"
