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

from jitscope.core.declaration import ParamSpec as ParamSpec
from jitscope.core.declaration import check_dtypes, check_presets, param_of
from jitscope.core.declaration import param as param
from jitscope.core.implementation import UserKernel
from jitscope.core.lazy import loaded_numpy
from jitscope.core.model import Accuracy
from jitscope.core.units import fmt_size
from jitscope.core.workload import INPUTS_PARAM as INPUTS_PARAM
from jitscope.core.workload import Inputs, Param, Workload
from jitscope.core.workload import takes as takes

# Norm-wise relative error allowed by default: float64 keeps ~16 digits, float32 ~7; a
# reduction over n elements loses about log2(n) bits more, fastmath reorders sums.
DEFAULT_TOLERANCE = {"float64": 1e-9, "float32": 1e-4}

Check = Callable[..., Any]


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
    if callable_by_name(fn, available):
        return fn(**{name: available[name] for name in _named_parameters(fn) or ()})
    return fn(*positional)


def callable_by_name(fn: Callable[..., Any], available: Mapping[str, Any]) -> bool:
    """Whether :func:`call_with` calls ``fn`` by name from ``available`` (every name its
    signature takes is there), rather than positionally."""
    wanted = _named_parameters(fn)
    return wanted is not None and all(name in available for name in wanted)


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


class UserWorkload:
    """What ``jitscope.workload(...)`` returns: the declaration of a workload, its float64
    reference and its kernels; the built-in workloads are declared with it too.
    :attr:`workload` is the engine's view of it.

    ``params`` are named values with defaults, or :func:`jitscope.param` with help text and
    bounds (set with ``-p``, passed to ``inputs`` and to any kernel, reference, check or cost
    function whose signature names them); ``presets`` name several of them at once, or a list
    of sizes (``-s S``); ``dtypes`` the float dtypes the kernels are meant for;
    ``fresh_inputs`` asks for a new copy of the inputs before every timed call (in-place
    kernels), outside the timed region. ``record_defaults=False``: a cell records only the
    parameters given (the built-ins: their defaults are the installed version's);
    ``input_modes=False``: no ``-p inputs=resident|fresh`` (kernels that move their own
    inputs, as the built-ins' compiled ones do)."""

    def __init__(  # noqa: PLR0913 - the public keywords
        self,
        name: str,
        *,
        inputs: Callable[..., Mapping[str, Any]],
        sizes: tuple[int, ...] | list[int] = (),
        params: Mapping[str, Any] | None = None,
        presets: Mapping[str, Mapping[str, Any] | Sequence[int]] | None = None,
        size: Callable[..., int] | None = None,
        flops: Callable[..., float] | None = None,
        bytes: Callable[..., float] | None = None,  # noqa: A002 - the public keyword
        memory: Callable[..., float] | None = None,
        tolerance: float | Mapping[str, float] | None = None,
        check: Check | None = None,
        expected_error: Callable[..., float] | None = None,
        dtypes: tuple[str, ...] | list[str] | None = None,
        fresh_inputs: bool = False,
        description: str = "",
        size_label: str = "n",
        result_form: str = "",
        record_defaults: bool = True,
        input_modes: bool = True,
    ) -> None:
        _check_functions(name, inputs=inputs, flops=flops, bytes=bytes, memory=memory, size=size, check=check,
                         expected_error=expected_error)
        if fresh_inputs and not input_modes:
            raise ValueError(f"workload {name}: fresh_inputs=True needs the inputs= modes (input_modes=False)")
        self.name = name
        self.inputs = inputs
        self.sizes = tuple(int(s) for s in sizes)
        self.params = tuple(param_of(name, k, v) for k, v in (params or {}).items())
        self.presets = check_presets(name, presets or {}, {p.name for p in self.params})
        self.size = size
        self.flops = flops
        self.bytes = bytes
        self.memory = memory
        self.tolerance = tolerance
        self.check = check
        self.expected_error = expected_error
        self.dtypes = check_dtypes(name, dtypes)
        self.fresh_inputs = bool(fresh_inputs)
        self.description = description
        self.size_label = size_label
        self.result_form = result_form
        self.record_defaults = bool(record_defaults)
        self.input_modes = bool(input_modes)
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

    def kernel_build(self, backend: str, variant: str, build: Callable[..., Any], description: str = "",
                     **limits: Any) -> None:
        """A kernel that needs more than a plain function (:meth:`Workload.kernel_build`):
        the built-ins' compiled kernels, each with its own transfer."""
        self.workload.kernel_build(backend, variant, build, description, **limits)

    @property
    def kernels(self) -> list[UserKernel]:
        return list(self.workload.function_kernels)

    def kernel_for(self, backend: str, variant: str, exact: bool = False) -> UserKernel | None:
        """The kernel bound to exactly this variant, else (unless ``exact``) the backend-wide one."""
        return self.workload.kernel_for(backend, variant, exact)

    def __repr__(self) -> str:
        return f"<jitscope workload {self.name!r}: {len(self.kernels)} kernel(s)>"


def _check_functions(name: object, **functions: Any) -> None:
    """The name is a non-empty string and each function keyword given is callable."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"jitscope.workload needs a name, got {name!r}")
    if not callable(functions.pop("inputs")):
        raise TypeError(f"workload {name}: inputs= must be a function (n, rng) -> dict of arrays")
    for what, fn in functions.items():
        if fn is not None and not callable(fn):
            raise TypeError(f"workload {name}: {what}= must be a function")


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
        sized = {k: v for k, v in user.presets.items() if isinstance(v, tuple)}
        self.presets = {"default": user.sizes, **sized} if user.sizes and "default" not in sized else sized
        self.params = user.params
        if user.input_modes:
            mode = "fresh" if user.fresh_inputs else "resident"
            self.params += (Param(INPUTS_PARAM, mode, "resident: moved in once, reused by every call; "
                                  "fresh: a new copy before each timed call (untimed)", kind=str, choices=INPUT_MODES),)
        self.result_form = user.result_form or "what the reference returns (array, scalar or tuple)"
        self.dtypes = user.dtypes
        # Every cell carries every parameter, defaults included, unless the declaration says
        # the defaults go without saying (record_defaults=False: the built-ins).
        self.record_all_params = user.record_defaults

    # ---- sizes, presets and parameters --------------------------------------------------
    def preset_names(self) -> tuple[str, ...]:
        return tuple(self.user.presets)

    def describe_presets(self) -> list[str]:
        """``small 1e3,1e4`` for a list of sizes, ``fine nx=200 steps=50`` for parameter values."""
        return [f"{k} {_describe_preset(values)}" for k, values in self.user.presets.items()]

    def default_points(self) -> list[tuple[int, dict[str, Any]]]:
        """The declared sizes, else one cell at the parameters' defaults (a workload with
        neither has no default cells: ``-s`` must say)."""
        declared: list[tuple[int, dict[str, Any]]] = [(s, {}) for s in self.user.sizes]
        return declared or ([(0, {})] if self.user.params else [])

    def preset_points(self, token: str) -> list[tuple[int, dict[str, Any]]]:
        """``-s S``: the preset's sizes, or its parameters (and ``n`` if it sets one)."""
        preset = self.preset(token, self.user.presets)
        if isinstance(preset, tuple):
            return [(size, {}) for size in preset]
        values = dict(preset)
        n = values.pop("n", 0)
        return [(int(n), values)]

    def cell_size(self, size: int, params: dict[str, Any]) -> int:
        """The number in the size column: ``n`` where the workload is sized by it, else
        ``size=(params)``, else the product of the whole-number parameters (a grid's
        points times its steps: the work a call does). A point's 0 ("sized by its
        parameters") ends here: the cell's size is then checked as any other
        (:meth:`Workload.validate_size`, at least 1)."""
        if size:
            return size
        if self.user.size is not None:
            return int(call_with(self.user.size, params))
        whole = [v for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool) and k != INPUTS_PARAM]
        return max(1, math.prod(whole))

    def _available(self, size: int, params: dict[str, Any]) -> dict[str, Any]:
        named = {k: v for k, v in params.items() if k != INPUTS_PARAM}
        return {"n": size, **named}

    # ---- inputs, reference, check ---------------------------------------------------------
    def make_inputs(self, size: int, params: dict[str, Any], seed: int) -> Inputs:
        """``inputs=`` called with what its signature names (``n``, ``rng``, ``seed``, the
        parameters); the NumPy generator made only for a function that takes it, so inputs
        of plain numbers load no NumPy."""
        fn = self.user.inputs
        available: dict[str, Any] = {"seed": seed, **self._available(size, params)}
        if not callable_by_name(fn, available):  # it takes rng, or is called (n, rng)
            import numpy as np

            available["rng"] = np.random.default_rng(seed)
        made = call_with(fn, available, (size, available.get("rng")))
        if not isinstance(made, Mapping):
            raise TypeError(f"{self.name}: inputs(n, rng) returned a {type(made).__name__}, not a dict of named arrays")
        return self._as_inputs(made)

    def _as_inputs(self, made: Mapping[Any, Any]) -> Inputs:
        np = loaded_numpy()
        out: Inputs = {}
        for key, value in made.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise TypeError(f"{self.name}: input name {key!r} is not a valid keyword argument")
            if np is not None and isinstance(value, np.ndarray) and value.dtype.kind == "f":
                value = np.ascontiguousarray(value, dtype=np.float64)  # float64 truth; backends cast
            out[key] = value
        return out

    def reference(self, inputs: Inputs, size: int, params: dict[str, Any]) -> Any:
        """The reference on its own copy of the inputs: a reference that works in place must
        not hand the kernels its result as their input."""
        fn = self.user.reference_fn
        if fn is None:
            raise TypeError(f"workload {self.name} has no @{self.name}.reference: nothing to check kernels against")
        np = loaded_numpy()
        own = {k: (v.copy() if np is not None and isinstance(v, np.ndarray) else copy.deepcopy(v))
               for k, v in inputs.items()}
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
        """``check=`` called with what its signature names (``result``, ``reference``, ``n``,
        ``dtype``, ``inputs``, the parameters; else positionally with the first two): an
        :class:`Accuracy` as it is, a bool or an error against the tolerance; without
        ``check=``, the norm-wise relative error."""
        tolerance = self.tolerance(dtype)
        if self.user.check is not None:
            available = {**self._available(size, params), "dtype": dtype, "inputs": inputs,
                         "result": result, "reference": reference}
            return _verdict(call_with(self.user.check, available, (result, reference)), tolerance)
        import numpy as np

        error, detail = relative_error(result, reference)
        exact = all(np.asarray(part).dtype.kind in "biu" for part in _parts(reference))
        if exact:
            return Accuracy(error, "exact", 0.0, error == 0.0, detail)
        return Accuracy(error, "rel_error_norm", tolerance, bool(math.isfinite(error) and error <= tolerance), detail)

    # ---- the cost model -------------------------------------------------------------------
    def _cost(self, fn: Callable[..., Any] | None, size: int, params: dict[str, Any]) -> float | None:
        return float(call_with(fn, self._available(size, params), (size,))) if fn is not None else None

    def flops(self, size: int, params: dict[str, Any]) -> float | None:
        return self._cost(self.user.flops, size, params)

    def expected_error(self, size: int, params: dict[str, Any]) -> float | None:
        return self._cost(self.user.expected_error, size, params)

    def bytes_moved(self, size: int, params: dict[str, Any], itemsize: int) -> float | None:
        """``bytes=`` at this itemsize: a function naming ``itemsize`` counts it itself;
        any other counts float64 traffic (as the inputs are made), float32 moving half."""
        fn = self.user.bytes
        if fn is not None and takes(fn, "itemsize", keywords=False):
            return float(call_with(fn, {**self._available(size, params), "itemsize": itemsize}, (size, itemsize)))
        moved = self._cost(fn, size, params)
        return moved * itemsize / 8 if moved is not None else None

    def memory_estimate(self, size: int, params: dict[str, Any]) -> int:
        """``memory=`` if declared; else three times ``bytes=`` (the inputs, the reference's
        own copy and the kernel's); else unknown (0: nothing refused)."""
        declared = self._cost(self.user.memory, size, params)
        if declared is not None:
            return int(declared)
        moved = self.bytes_moved(size, params, 8)
        return int(3 * moved) if moved is not None else 0

    def author_hint(self, backend: str) -> str:
        """Why a cell of a backend the file wrote no kernel for is skipped, in the words its
        author needs (the registry says it for a ``-w`` file's workload)."""
        return f"{self.name} has no {backend} kernel (no @{self.name}.kernel({backend!r}) in its file)"


def _describe_preset(values: Any) -> str:
    if isinstance(values, tuple):
        return ",".join(fmt_size(v) for v in values)
    return " ".join(f"{p}={v}" for p, v in values.items())


def _verdict(verdict: Any, tolerance: float) -> Accuracy:
    """What a ``check=`` returned, as the record's accuracy: an :class:`Accuracy` as it is;
    a bool a pass or a fail; a number an error held against the tolerance."""
    if isinstance(verdict, Accuracy):
        return verdict
    np = loaded_numpy()
    if isinstance(verdict, bool) or (np is not None and isinstance(verdict, np.bool_)):
        return Accuracy(0.0 if verdict else math.inf, "check", tolerance, bool(verdict),
                        "" if verdict else "the workload's check= returned False")
    error = float(verdict)
    return Accuracy(error, "check", tolerance, bool(math.isfinite(error) and error <= tolerance))
