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

import copy
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.implementation import UserKernel
from jitscope.core.model import Accuracy
from jitscope.core.workload import INPUTS_PARAM as INPUTS_PARAM
from jitscope.core.workload import Inputs, Param, Workload
from jitscope.core.workload import takes as takes

# Norm-wise relative error allowed by default: float64 keeps ~16 digits, float32 ~7; a
# reduction over n elements loses about log2(n) bits more, fastmath reorders sums.
DEFAULT_TOLERANCE = {"float64": 1e-9, "float32": 1e-4}

Check = Callable[[Any, Any], Any]


def _parts(value: Any) -> list[Any]:
    """A result as a flat list of parts: a tuple is unpacked, anything else (an array, a
    scalar, a list of numbers) is one part that NumPy reads as an array."""
    if isinstance(value, tuple):
        return [p for item in value for p in _parts(item)]
    return [value]


def relative_error(result: Any, reference: Any) -> tuple[float, str]:
    """Norm-wise relative error ``||r - ref|| / ||ref||`` (absolute where ``ref`` is all
    zeros), the worst over the parts of a tuple result; integer and boolean parts compared
    exactly; with a detail for a mismatch."""
    got, want = _parts(result), _parts(reference)
    if len(got) != len(want):
        return math.inf, f"returned {len(got)} value(s), the reference {len(want)}"
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        error, detail = _part_error(i, g, w)
        if detail:
            return error, detail
        worst = max(worst, error)
    return worst, ""


def _part_error(i: int, got: Any, want: Any) -> tuple[float, str]:
    """One part's error: exact for an integer or boolean reference (a checksum off by 5 is
    wrong, whatever a float tolerance says), else norm-wise relative; a NaN or inf where the
    reference has the same value counts as equal."""
    import numpy as np  # here: importing this module (every command does) must not load NumPy

    try:
        a = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return math.inf, f"result part {i} is not numeric ({type(got).__name__})"
    ref = np.asarray(want)
    b = np.asarray(want, dtype=np.float64)
    if a.shape != b.shape:
        if a.size != b.size:
            return math.inf, f"result shape {a.shape} differs from the reference's {b.shape}"
        a = a.reshape(b.shape)
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(b) & (a == b))
    if ref.dtype.kind in "biu":
        wrong = int(np.count_nonzero(~((a == b) | same_special)))
        if wrong:
            return math.inf, (f"integer/boolean result differs from the reference in {wrong} of {b.size} "
                              "element(s) (compared exactly)")
        return 0.0, ""
    if not np.all(np.isfinite(a) | same_special):
        return math.inf, "result has NaN or inf where the reference has none"
    keep = ~same_special
    scale = float(np.linalg.norm(b[keep]))
    diff = float(np.linalg.norm((a - b)[keep]))
    return (diff / scale if scale > 0 else diff), ""


INPUT_MODES = ("resident", "fresh")


def call_with(fn: Callable[..., Any], available: Mapping[str, Any], positional: tuple[Any, ...] = ()) -> Any:
    """Call ``fn`` with the values its signature names (``lambda n, rng``, ``lambda nx, ny,
    rng``, ``lambda steps``); a function naming anything else is called positionally with
    ``positional`` (the historical ``(n, rng)``/``(n)`` forms under other names)."""
    wanted = _named_parameters(fn)
    if wanted is not None and all(name in available for name in wanted):
        return fn(**{name: available[name] for name in wanted})
    return fn(*positional)


def _named_parameters(fn: Callable[..., Any]) -> list[str] | None:
    """The names ``fn`` takes as keywords; None when it takes ``*args`` or its signature is
    unknown (then it is called positionally)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in sig.parameters.values()}
    if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.POSITIONAL_ONLY in kinds:
        return None
    return [p.name for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]


def _param_of(workload: str, name: str, default: Any) -> Param:
    """A declared parameter as the ``-p`` machinery knows it (its kind from the default)."""
    if not isinstance(name, str) or not name.isidentifier() or name in (INPUTS_PARAM, "n", "rng"):
        raise ValueError(f"workload {workload}: parameter name {name!r} is not usable "
                         f"(a Python identifier other than {INPUTS_PARAM}, n, rng)")
    if isinstance(default, bool) or not isinstance(default, (int, float, str)):
        raise TypeError(f"workload {workload}: parameter {name}={default!r} must default to an int, float or str")
    return Param(name, default, f"{workload}'s parameter", kind=type(default))


class UserWorkload:
    """What ``jitscope.workload(...)`` returns: the declaration of a user's workload, its
    float64 reference and its kernels. :attr:`workload` is the engine's view of it.

    ``params`` are named values with defaults (set with ``-p``, recorded with every cell,
    passed to ``inputs`` and to any kernel or reference whose signature names them);
    ``presets`` name several of them at once (``-s S``); ``dtypes`` the float dtypes the
    kernels are meant for; ``fresh_inputs`` asks for a new copy of the inputs before every
    timed call (in-place kernels), outside the timed region."""

    def __init__(  # noqa: PLR0913 - the public keywords
        self,
        name: str,
        *,
        inputs: Callable[..., Mapping[str, Any]],
        sizes: tuple[int, ...] | list[int] = (),
        params: Mapping[str, Any] | None = None,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        size: Callable[..., int] | None = None,
        flops: Callable[..., float] | None = None,
        bytes: Callable[..., float] | None = None,  # noqa: A002 - the public keyword
        memory: Callable[..., float] | None = None,
        tolerance: float | Mapping[str, float] | None = None,
        check: Check | None = None,
        dtypes: tuple[str, ...] | list[str] | None = None,
        fresh_inputs: bool = False,
        description: str = "",
        size_label: str = "n",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"jitscope.workload needs a name, got {name!r}")
        if not callable(inputs):
            raise TypeError(f"workload {name}: inputs= must be a function (n, rng) -> dict of arrays")
        for what, fn in (("flops", flops), ("bytes", bytes), ("memory", memory), ("size", size), ("check", check)):
            if fn is not None and not callable(fn):
                raise TypeError(f"workload {name}: {what}= must be a function")
        self.name = name
        self.inputs = inputs
        self.sizes = tuple(int(s) for s in sizes)
        self.params = tuple(_param_of(name, k, v) for k, v in (params or {}).items())
        self.presets = _check_presets(name, presets or {}, {p.name for p in self.params})
        self.size = size
        self.flops = flops
        self.bytes = bytes
        self.memory = memory
        self.tolerance = tolerance
        self.check = check
        self.dtypes = _check_dtypes(name, dtypes)
        self.fresh_inputs = bool(fresh_inputs)
        self.description = description
        self.size_label = size_label
        self.reference_fn: Callable[..., Any] | None = None
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
        that runs a plain function); ``@w.kernel("numba", "parallel")``: that variant only.
        The same decorator as a built-in workload's (:meth:`Workload.kernel`)."""
        return self.workload.kernel(backend, variant, **options)

    @property
    def kernels(self) -> list[UserKernel]:
        return list(self.workload.function_kernels)

    def kernel_for(self, backend: str, variant: str, exact: bool = False) -> UserKernel | None:
        """The kernel bound to exactly this variant, else (unless ``exact``) the backend-wide one."""
        return self.workload.kernel_for(backend, variant, exact)

    def __repr__(self) -> str:
        return f"<jitscope workload {self.name!r}: {len(self.kernels)} kernel(s)>"


def _check_presets(name: str, presets: Mapping[str, Mapping[str, Any]], known: set[str]) -> dict[str, dict[str, Any]]:
    """Presets name parameter values (and ``n``, a size): refused at load when they name
    anything the workload does not declare."""
    out: dict[str, dict[str, Any]] = {}
    for preset, values in presets.items():
        if not isinstance(values, Mapping):
            raise TypeError(f"workload {name}: preset {preset!r} must be a dict of parameter values")
        unknown = [k for k in values if k not in known and k != "n"]
        if unknown:
            raise ValueError(f"workload {name}: preset {preset!r} sets {', '.join(map(str, unknown))}, "
                             f"not a declared parameter (params: {', '.join(sorted(known)) or 'none'})")
        out[str(preset)] = dict(values)
    return out


def _check_dtypes(name: str, dtypes: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    from jitscope.core.model import DTYPES

    chosen = tuple(dtypes) if dtypes is not None else DTYPES
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise ValueError(f"workload {name}: dtypes={chosen!r}: each must be one of {', '.join(DTYPES)}")
    return chosen


def workload(name: str, **kwargs: Any) -> UserWorkload:
    """Declare a workload from plain functions; see :class:`UserWorkload` and the README."""
    return UserWorkload(name, **kwargs)


class FunctionWorkload(Workload):
    """The engine's view of a :class:`UserWorkload` (inputs, reference, check, cost model)."""

    record_all_params = True  # every cell carries every parameter, defaults included

    def __init__(self, user: UserWorkload) -> None:
        self.user = user
        self.name = user.name
        self.description = user.description or f"user kernel {user.name}"
        self.size_label = user.size_label
        self.default_sizes = user.sizes
        self.presets = {"default": user.sizes} if user.sizes else {}
        mode = "fresh" if user.fresh_inputs else "resident"
        self.params = (*user.params, Param(INPUTS_PARAM, mode, "resident: moved in once, reused by every call; "
                                           "fresh: a new copy before each timed call (untimed)",
                                           kind=str, choices=INPUT_MODES))
        self.result_form = "what the reference returns (array, scalar or tuple)"
        self.dtypes = user.dtypes

    # ---- sizes, presets and parameters --------------------------------------------------
    def preset_names(self) -> tuple[str, ...]:
        return tuple(self.user.presets)

    def describe_presets(self) -> list[str]:
        return [f"{k} {' '.join(f'{p}={v}' for p, v in values.items())}" for k, values in self.user.presets.items()]

    def points(self, requested: Sequence[int | str] | None) -> list[tuple[int, dict[str, Any]]]:
        """``-s 1e6`` sizes ``n``; ``-s S`` the preset's parameters (and ``n`` if it sets one);
        nothing: the declared sizes, else one cell at the parameters' defaults (a workload
        with neither has no default cells, as before: ``-s`` must say)."""
        if not requested:
            declared: list[tuple[int, dict[str, Any]]] = [(s, {}) for s in self.user.sizes]
            return declared or ([(0, {})] if self.user.params else [])
        out: list[tuple[int, dict[str, Any]]] = []
        for token in requested:
            if isinstance(token, int):
                out.append((token, {}))
                continue
            if token not in self.user.presets:
                names = ", ".join(self.user.presets) or "none"
                raise UserError(f"size {token!r} is neither a number (1000, 10k, 1e6) nor a preset of {self.name} "
                                f"(presets: {names})")
            values = dict(self.user.presets[token])
            n = values.pop("n", 0)
            out.append((int(n), values))
        return out

    def cell_size(self, size: int, params: dict[str, Any]) -> int:
        """The number in the size column: ``n`` where the workload is sized by it, else
        ``size=(params)``, else the product of the whole-number parameters (a grid's
        points times its steps: the work a call does)."""
        if size:
            return size
        if self.user.size is not None:
            return int(call_with(self.user.size, params))
        whole = [v for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool) and k != INPUTS_PARAM]
        return max(1, math.prod(whole))

    def _available(self, size: int, params: dict[str, Any]) -> dict[str, Any]:
        named = {k: v for k, v in params.items() if k != INPUTS_PARAM}
        return {"n": size, **named}

    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        import numpy as np

        rng = np.random.default_rng(seed)
        made = call_with(self.user.inputs, {**self._available(size, params), "rng": rng}, (size, rng))
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
        """The reference on its own copy of the inputs: a reference that works in place must
        not hand the kernels its result as their input."""
        fn = self.user.reference_fn
        if fn is None:
            raise TypeError(f"workload {self.name} has no @{self.name}.reference: nothing to check kernels against")
        import numpy as np

        own = {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)) for k, v in inputs.items()}
        result = fn(**self.arguments_for(fn, own, params))
        if result is None:
            raise TypeError(f"the @{self.name}.reference returned None: return the result (an in-place "
                            "reference must return the array it updated)")
        return result

    def tolerance(self, dtype: str) -> float:
        tol = self.user.tolerance
        if isinstance(tol, Mapping):
            return float(tol.get(dtype, DEFAULT_TOLERANCE.get(dtype, 1e-4)))
        if tol is not None:
            return float(tol)
        return DEFAULT_TOLERANCE.get(dtype, 1e-4)

    def check(self, result: Any, reference: Any, inputs: Inputs, size: int, params: dict[str, Any], dtype: str) -> Accuracy:
        import numpy as np

        tolerance = self.tolerance(dtype)
        if self.user.check is not None:
            verdict = self.user.check(result, reference)
            if isinstance(verdict, (bool, np.bool_)):
                return Accuracy(0.0 if verdict else math.inf, "check", tolerance, bool(verdict),
                                "" if verdict else "the workload's check= returned False")
            error = float(verdict)
            return Accuracy(error, "check", tolerance, bool(math.isfinite(error) and error <= tolerance))
        error, detail = relative_error(result, reference)
        exact = all(np.asarray(part).dtype.kind in "biu" for part in _parts(reference))
        if exact:
            return Accuracy(error, "exact", 0.0, error == 0.0, detail)
        return Accuracy(error, "rel_error_norm", tolerance, bool(math.isfinite(error) and error <= tolerance), detail)

    def _cost(self, fn: Callable[..., Any] | None, size: int, params: dict[str, Any]) -> float | None:
        return float(call_with(fn, self._available(size, params), (size,))) if fn is not None else None

    def flops(self, size: int, params: dict[str, Any]) -> float | None:
        return self._cost(self.user.flops, size, params)

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float | None:
        # bytes= counts float64 traffic (as the inputs are made); float32 moves half of it.
        moved = self._cost(self.user.bytes, size, params)
        return moved * itemsize / 8 if moved is not None else None

    def memory_estimate(self, size: int, params: dict[str, Any]) -> int:
        """``memory=`` if declared; else three times ``bytes=`` (the inputs, the reference's
        own copy and the kernel's); else unknown (0: nothing refused)."""
        declared = self._cost(self.user.memory, size, params)
        if declared is not None:
            return int(declared)
        moved = self._cost(self.user.bytes, size, params)
        return int(3 * moved) if moved is not None else 0

    def validate_size(self, size: int) -> None:
        """0 stands for "sized by its parameters" (no ``n``)."""
        if size < 0:
            raise UserError(f"size {size} for {self.name} must be a positive integer")

    def missing_implementation(self, backend: str, variant: str) -> str:
        """Why a cell of a backend the file wrote no kernel for is skipped."""
        return f"{self.name} has no {backend} kernel (no @{self.name}.kernel({backend!r}) in its file)"
