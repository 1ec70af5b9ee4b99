"""What a workload is: inputs, a float64 reference, an accuracy check and a cost model.

A workload knows nothing about backends. Implementations (in ``jitscope.backends`` or in a
plugin) receive the workload's float64 NumPy inputs and return a result in the workload's
documented *result form*, which :meth:`Workload.check` compares with :meth:`reference`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jitscope.core.errors import UserError
from jitscope.core.model import Accuracy
from jitscope.core.units import fmt_size

if TYPE_CHECKING:
    from collections.abc import Callable

    from jitscope.core.backend import CellContext, Kernel
    from jitscope.core.implementation import Implementation

Inputs = dict[str, Any]


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

    # ---- kernels ----------------------------------------------------------------------
    def kernel_build(self, backend: str, variant: str, build: Callable[[CellContext], Kernel], description: str = "",
                     **limits: Any) -> None:
        """Declare one of this workload's kernels: ``build(ctx)`` makes it in the worker (a
        :class:`~jitscope.core.backend.BuildRef` for the built-ins, so declaring imports no
        backend; a plugin file may pass its own function);
        ``limits`` are :class:`~jitscope.core.backend.Implementation`'s devices, dtypes,
        max_size... The registry adds these with the workload, so a workload's file is the
        one list of what runs it, whichever backend module holds the code."""
        from jitscope.core.implementation import Implementation

        if any((i.backend, i.variant) == (backend, variant) for i in self.kernel_builds):
            raise ValueError(f"workload {self.name} declares two kernels for {backend}:{variant}")
        made = Implementation(self.name, backend, variant, build, description, **limits)
        self.__dict__["_kernel_builds"] = (*self.kernel_builds, made)

    @property
    def kernel_builds(self) -> tuple[Implementation, ...]:
        """The kernels declared with :meth:`kernel_build`, in declaration order."""
        return tuple(self.__dict__.get("_kernel_builds", ()))

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
        :attr:`presets` (its sizes); nothing requested: the default sizes. A user workload's
        presets set parameters instead (``jitscope.core.userkernels``)."""
        out: list[tuple[int, dict[str, Any]]] = []
        for token in requested or self.default_sizes:
            if isinstance(token, str):
                if token not in self.presets:
                    names = ", ".join(self.presets) or "none"
                    raise UserError(f"size {token!r} is neither a number (1000, 10k, 1e6) nor a preset of {self.name} "
                                f"(presets: {names})")
                out.extend((size, {}) for size in self.presets[token])
            else:
                out.append((token, {}))
        return out

    def cell_size(self, size: int, params: dict[str, Any]) -> int:
        """The size a cell is recorded with, from a point's size and its parameters."""
        return size

    def validate_size(self, size: int) -> None:
        """Raise UserError for a size this workload cannot take at all."""
        if size < 1:
            raise UserError(f"size {size} for {self.name} must be a positive integer")


def as_float(value: Any) -> float:
    """A backend scalar (NumPy, 0-d array, Python float) as a Python float."""
    import numpy as np  # here, not at the top: the commands that only read results never load NumPy

    return float(np.asarray(value, dtype=np.float64).reshape(()))
