"""Checking what a ``jitscope.workload(...)`` call declares: its parameters (a plain default,
or :func:`param` with help text and bounds), its presets (parameter values, or a list of
sizes) and its dtypes. Refused at load, with the workload's name, so a mistake in a file is
one line naming it rather than a failure halfway through a run.

Split from :mod:`jitscope.core.userkernels` (which turns a declaration into the engine's
view of it) so that each module has one job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.workload import INPUTS_PARAM, Param

RESERVED = (INPUTS_PARAM, "n", "rng")  # names the engine gives inputs= itself


@dataclass(frozen=True)
class ParamSpec:
    """What :func:`param` returns: a parameter's default and what ``jitscope workloads``
    and ``-p`` say and check about it. Its name is the key it is given in ``params=``."""

    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def param(default: Any, *, help: str = "", minimum: float | None = None,  # noqa: A002 - the public keyword
          maximum: float | None = None, choices: Sequence[str] = ()) -> ParamSpec:
    """``params={"epochs": jitscope.param(20, help="epochs per call", minimum=1)}``: a
    parameter with help text (listed by ``jitscope workloads``) and bounds or allowed words
    (``-p`` outside them is refused with one line, exit 2). A plain value in ``params=`` is
    the same with no help and no bounds."""
    return ParamSpec(default, help, minimum, maximum, tuple(choices))


def param_of(workload: str, name: str, declared: Any) -> Param:
    """A declared parameter as the ``-p`` machinery knows it (its kind from the default),
    its default within its own bounds."""
    if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
        raise ValueError(f"workload {workload}: parameter name {name!r} is not usable "
                         f"(a Python identifier other than {', '.join(RESERVED)})")
    spec = declared if isinstance(declared, ParamSpec) else ParamSpec(declared)
    default = spec.default
    if isinstance(default, bool) or not isinstance(default, (int, float, str)):
        raise TypeError(f"workload {workload}: parameter {name}={default!r} must default to an int, float or str")
    made = Param(name, default, spec.help or f"{workload}'s parameter", kind=type(default),
                 minimum=spec.minimum, maximum=spec.maximum, choices=spec.choices)
    try:
        made.parse(str(default))
    except UserError as exc:
        raise ValueError(f"workload {workload}: the default of {exc}") from None
    return made


Preset = dict[str, Any] | tuple[int, ...]


def check_presets(name: str, presets: Mapping[str, Any], known: set[str]) -> dict[str, Preset]:
    """A preset is a dict of parameter values (and ``n``, a size): one cell; or a list of
    sizes: one cell each. Refused at load when it names anything the workload does not
    declare, or a size that is not a positive whole number."""
    out: dict[str, Preset] = {}
    for preset, values in presets.items():
        if isinstance(values, Mapping):
            unknown = [k for k in values if k not in known and k != "n"]
            if unknown:
                raise ValueError(f"workload {name}: preset {preset!r} sets {', '.join(map(str, unknown))}, "
                                 f"not a declared parameter (params: {', '.join(sorted(known)) or 'none'})")
            out[str(preset)] = dict(values)
        elif _is_sizes(values):
            out[str(preset)] = tuple(int(v) for v in values)
        else:
            raise TypeError(f"workload {name}: preset {preset!r} must be a dict of parameter values "
                            "or a list of sizes (positive whole numbers)")
    return out


def _is_sizes(values: Any) -> bool:
    return (isinstance(values, (list, tuple)) and bool(values)
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values))


def check_dtypes(name: str, dtypes: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    from jitscope.core.model import DTYPES

    chosen = tuple(dtypes) if dtypes is not None else DTYPES
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise ValueError(f"workload {name}: dtypes={chosen!r}: each must be one of {', '.join(DTYPES)}")
    return chosen
