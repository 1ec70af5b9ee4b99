"""What a workload is: inputs, a float64 reference, an accuracy check and a cost model.

A workload knows nothing about backends. Implementations (in ``jitscope.backends`` or in a
plugin) receive the workload's float64 NumPy inputs and return a result in the workload's
documented *result form*, which :meth:`Workload.check` compares with :meth:`reference`.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from jitscope.core.errors import UserError
from jitscope.core.implementation import Implementation, UserKernel
from jitscope.core.model import DTYPES, Accuracy
from jitscope.core.units import fmt_size

if TYPE_CHECKING:
    from jitscope.core.backend import CellContext, Kernel

Inputs = dict[str, Any]
T = TypeVar("T")
INPUTS_PARAM = "inputs"  # the parameter that records the input mode with every cell (-p inputs=fresh)


def where(fn: Callable[..., Any]) -> str:
    """``kernels.py:12``: where a function is defined, for messages."""
    try:
        return f"{inspect.getsourcefile(fn) or '?'}:{inspect.getsourcelines(fn)[1]}"
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def takes(fn: Callable[..., Any], name: str, keywords: bool = True) -> bool:
    """Whether a kernel or reference wants parameter ``name`` (names it, or, with
    ``keywords``, takes ``**kw``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    wide = keywords and any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return name in sig.parameters or wide


@dataclass(frozen=True)
class Param:
    """A workload parameter settable with ``-p key=value``."""

    name: str
    default: Any
    help: str
    kind: type = float
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # a word parameter's allowed values (e.g. inputs=fresh|resident)

    def parse(self, text: str) -> Any:
        """The value of ``-p name=text``: finite, whole where the kind is int (and small
        enough for any library to take), within the declared bounds; else one UserError
        that quotes what was typed."""
        if self.kind is int:
            try:
                number: float = int(text)  # exact for a plain whole number
            except ValueError:
                try:
                    number = float(text)  # 1e3
                except ValueError:
                    raise UserError(f"parameter {self.name}={text!r} is not a valid int") from None
            if not math.isfinite(number):
                raise UserError(f"parameter {self.name}={text!r} must be a finite whole number")
            if abs(number) >= 2**63:
                raise UserError(f"parameter {self.name}={text} is absurdly large (at most 2**63-1)")
            value: Any = int(number)
            if number != value:
                raise UserError(f"parameter {self.name}={text!r} must be a whole number")
        else:
            try:
                value = self.kind(text)
            except ValueError:
                raise UserError(f"parameter {self.name}={text!r} is not a valid {self.kind.__name__}") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"parameter {self.name}={text!r} must be a finite number")
        self._check_range(value, text)
        return value

    def _check_range(self, value: Any, text: str) -> None:
        """One of the choices, within the bounds: else a UserError quoting what was typed."""
        if self.choices and value not in self.choices:
            raise UserError(f"parameter {self.name}={text!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise UserError(f"parameter {self.name}={text} is below its minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise UserError(f"parameter {self.name}={text} is above its maximum {self.maximum}")


class Workload(ABC):
    """Base class for workloads. Subclasses set the class attributes and the five methods."""

    name: str = ""
    description: str = ""
    size_label: str = "n"  # what "size" means, e.g. "d features", "matrix order n"
    default_sizes: tuple[int, ...] = ()
    presets: dict[str, tuple[int, ...]] = {}
    params: tuple[Param, ...] = ()
    result_form: str = ""  # what an implementation must return (after Kernel.fetch)
    # True: every cell records every parameter (defaults included), not only those given
    # with -p; users' workloads do, so a CSV row says what ran without the file at hand.
    record_all_params: bool = False

    # The float dtypes its kernels are meant for (a user's ``dtypes=``): a kernel bound by
    # an adapter runs the dtypes both allow.
    dtypes: tuple[str, ...] = DTYPES

    # ---- kernels: one ordered list, both forms ------------------------------------------
    def kernel(self, backend: str, variant: str | None = None,
               **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``@w.kernel("numpy")``: a plain function of the inputs, run by the backend's
        adapter exactly as a user's ``@w.kernel`` function is (the public API; see
        ``jitscope.workload``); ``variant`` None serves every variant the adapter runs a plain
        function with. ``description=``, ``notes=`` and ``probe=`` are taken by every backend
        (``probe=True``: the function returns ``(result, probe)``, see core/userrun.py)."""
        if not isinstance(backend, str) or (variant is not None and not isinstance(variant, str)):
            raise TypeError(f"@{self.name}.kernel(backend, variant=None): names are strings, got {backend!r}, {variant!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError(f"@{self.name}.kernel({backend!r}) decorates a function")
            if not isinstance(options.get("probe", False), bool):
                raise TypeError(f"@{self.name}.kernel({backend!r}) at {where(fn)}: probe= is True or False "
                                f"(the function returns (result, probe)), got {options['probe']!r}")
            for k in self.function_kernels:
                if (k.backend, k.variant) == (backend, variant):
                    which = f"{backend}:{variant}" if variant else backend
                    raise ValueError(f"workload {self.name} has two kernels for {which} ({k.source} and {where(fn)})")
            made = UserKernel(self.name, backend, variant, fn, tuple(sorted(options.items())), where(fn))
            self._declare(made, backend, variant)
            return fn

        return register

    def kernel_build(self, backend: str, variant: str, build: Callable[[CellContext], Kernel], description: str = "",
                     **limits: Any) -> None:
        """Declare a kernel that needs more than a plain function (a compiled module, a
        server, a launcher with its own transfer): ``build(ctx)`` makes it in the worker (a
        :class:`~jitscope.core.backend.BuildRef` for the built-ins, so declaring imports no
        backend; a plugin file may pass its own function);
        ``limits`` are :class:`~jitscope.core.backend.Implementation`'s devices, dtypes,
        max_size... The registry reads these from the workload, so a workload's file is the
        one list of what runs it, whichever module holds the code."""
        self._declare(Implementation(self.name, backend, variant, build, description, **limits), backend, variant)

    def _declare(self, made: Implementation | UserKernel, backend: str, variant: str | None) -> None:
        if variant is not None and any((d.backend, d.variant) == (backend, variant) for d in self.declarations):
            raise ValueError(f"workload {self.name} declares two kernels for {backend}:{variant}")
        self.__dict__["_declarations"] = (*self.declarations, made)

    @property
    def declarations(self) -> tuple[Implementation | UserKernel, ...]:
        """Every kernel this workload declares, both forms, in declaration order."""
        return tuple(self.__dict__.get("_declarations", ()))

    @property
    def kernel_builds(self) -> tuple[Implementation, ...]:
        """The kernels declared with :meth:`kernel_build`, in declaration order."""
        return tuple(d for d in self.declarations if isinstance(d, Implementation))

    @property
    def function_kernels(self) -> tuple[UserKernel, ...]:
        """The plain-function kernels declared with :meth:`kernel`, in declaration order."""
        return tuple(d for d in self.declarations if isinstance(d, UserKernel))

    def kernel_for(self, backend: str, variant: str, exact: bool = False) -> UserKernel | None:
        """The function kernel bound to exactly this variant, else (unless ``exact``) the
        backend-wide one."""
        named = [k for k in self.function_kernels if k.backend == backend and k.variant == variant]
        wide = [] if exact else [k for k in self.function_kernels if k.backend == backend and k.variant is None]
        found = named or wide
        return found[0] if found else None

    def arguments_for(self, fn: Callable[..., Any], inputs: Inputs, params: dict[str, Any],
                      dtype: str = "") -> dict[str, Any]:
        """What a function kernel is called with: the inputs, each parameter its signature
        names, and ``dtype`` (the cell's, a string) where it names one that is neither."""
        extra = {k: v for k, v in params.items() if k != INPUTS_PARAM and k not in inputs and takes(fn, k)}
        if dtype and "dtype" not in inputs and "dtype" not in extra and takes(fn, "dtype", keywords=False):
            extra["dtype"] = dtype
        return {**inputs, **extra}

    # ---- parameters -----------------------------------------------------------------
    def resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with given values; unknown names are a user error."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key not in known:
                names = ", ".join(known) or "none"
                raise UserError(f"workload {self.name} has no parameter {key!r} (it has: {names})")
        resolved = {p.name: p.default for p in self.params}
        resolved.update(given)
        return resolved

    # ---- the spec -------------------------------------------------------------------
    @abstractmethod
    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        """Deterministic float64 NumPy inputs (untimed)."""

    @abstractmethod
    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        """The float64 NumPy answer the check compares against."""

    @abstractmethod
    def check(
        self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str
    ) -> Accuracy:
        """Compare an implementation's fetched result with the reference."""

    def flops(self, size: int, params: dict[str, Any]) -> float | None:
        """Floating-point operations of one call (None: not meaningful, e.g. ``nodes``)."""
        return None

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float | None:
        """Bytes one call must move in its fused form (None when ~0 or not meaningful)."""
        return None

    def memory_estimate(self, size: int, params: dict[str, Any]) -> int:
        """Peak bytes a single cell is expected to allocate; used to refuse sizes up front."""
        return 0

    def expected_error(self, size: int, params: dict[str, Any]) -> float | None:
        """The typical error of a correct implementation at this size (a statistical
        workload's standard error), drawn next to the measured errors; None: no such model."""
        return None

    def missing_implementation(self, backend: str, variant: str) -> str:
        """Why a cell is skipped when no implementation of this workload exists for it."""
        return f"{backend}:{variant} has no implementation of {self.name}"

    def preset_names(self) -> tuple[str, ...]:
        """The words ``-s`` takes for this workload."""
        return tuple(self.presets)

    def describe_presets(self) -> list[str]:
        """Each preset as ``jitscope workloads`` lists it: ``small 1e3,1e4`` (the one size style)."""
        return [f"{k} {','.join(fmt_size(v) for v in vals)}" for k, vals in self.presets.items()]

    def points(self, requested: Sequence[int | str] | None) -> list[tuple[int, dict[str, Any]]]:
        """The cells' (size, parameter values) for ``-s``: a number is a size, a word one of
        the presets (:meth:`preset_points`); nothing requested: :meth:`default_points`."""
        if not requested:
            return self.default_points()
        out: list[tuple[int, dict[str, Any]]] = []
        for token in requested:
            out.extend(self.preset_points(token) if isinstance(token, str) else [(token, {})])
        return out

    def default_points(self) -> list[tuple[int, dict[str, Any]]]:
        """The cells run when ``-s`` names none: the default sizes."""
        return [(size, {}) for size in self.default_sizes]

    def preset_points(self, token: str) -> list[tuple[int, dict[str, Any]]]:
        """``-s WORD``: one cell per size of :attr:`presets` (a user workload's presets may
        set parameters instead, ``jitscope.core.userkernels``)."""
        return [(size, {}) for size in self.preset(token, self.presets)]

    def preset(self, token: str, presets: Mapping[str, T]) -> T:
        """The preset ``token`` names, or the one error that says what ``-s`` takes."""
        if token not in presets:
            names = ", ".join(presets) or "none"
            raise UserError(f"size {token!r} is neither a number (1000, 10k, 1e6) nor a preset of {self.name} "
                            f"(presets: {names})")
        return presets[token]

    def cell_size(self, size: int, params: dict[str, Any]) -> int:
        """The size a cell is recorded with, from a point's size and its parameters."""
        return size

    def validate_size(self, size: int) -> None:
        """Raise UserError for a size this workload cannot take at all."""
        if size < 1:
            raise UserError(f"size {size} for {self.name} must be a positive integer")


def as_float(value: Any) -> float:
    """A backend scalar (NumPy, 0-d array, Python float) as a Python float."""
    if type(value) is float:  # a pure-Python kernel's answer: itself, without loading NumPy
        return value
    import numpy as np  # here, not at the top: the commands that only read results never load NumPy

    return float(np.asarray(value, dtype=np.float64).reshape(()))
