"""From the Setup form to a plan: size presets, the values a user types, and :class:`RunRequest`.

Plain logic, no Textual, so it is tested without an app. It imports the planner
(``jitscope.runner.plan``, which loads the registry's modules and NumPy), so nothing on the
path to the app's first frame imports this module: the Setup form does, once the registry
has been loaded in the background.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from jitscope.core.errors import UserError
from jitscope.core.labels import impl_label
from jitscope.core.model import CellSpec
from jitscope.core.registry import Registry
from jitscope.runner.plan import Plan, Selection, build_plan, check_seconds, plan_of

DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class RunRequest:
    """What pressing r runs: the form as a Selection, its Plan, and the size preset chosen."""

    selection: Selection
    plan: Plan
    preset: str


# ---- size presets -----------------------------------------------------------------------
def preset_names(registry: Registry, workloads: Sequence[str]) -> list[str]:
    """``default`` first, then every preset any of the workloads defines."""
    names = [DEFAULT_PRESET]
    for w in workloads:
        workload = registry.workloads.get(w)
        for name in workload.presets if workload else ():
            if name not in names:
                names.append(name)
    return names


def preset_sizes(registry: Registry, workload: str, preset: str) -> list[int]:
    """The sizes ``preset`` gives ``workload``: its own preset of that name, else its
    default sizes (the ``default`` preset is always the default sizes)."""
    w = registry.workload(workload)
    if preset != DEFAULT_PRESET and preset in w.presets:
        return list(w.presets[preset])
    return list(w.default_sizes)


def compose_plan(registry: Registry, selection: Selection, preset: str = DEFAULT_PRESET) -> Plan:
    """A Plan for the selection; with no explicit sizes, each workload takes the preset's own
    sizes (a workload without that preset keeps its defaults). Raises UserError."""
    if selection.sizes or preset == DEFAULT_PRESET or len(selection.workloads) == 0:
        return build_plan(registry, selection)
    known = {p.name for name in selection.workloads for p in registry.workload(name).params}
    stray = sorted(set(selection.params) - known)
    if stray:  # the same message build_plan gives
        build_plan(registry, replace(selection, sizes=None))
    cells: list[CellSpec] = []
    for name in selection.workloads:
        own = {p.name for p in registry.workload(name).params}
        sub = replace(
            selection,
            workloads=[name],
            sizes=preset_sizes(registry, name, preset),
            params={k: v for k, v in selection.params.items() if k in own},
        )
        cells.extend(build_plan(registry, sub).cells)
    return plan_of(registry, cells)


# ---- backends as the form lists them ---------------------------------------------------------
def backend_choices(registry: Registry) -> list[tuple[str, str, str | None]]:
    """Every implementation the form lists: (label, backend, variant to request), in registry
    order. The label is the one every table and plot uses (:func:`impl_label`: ``numba``,
    ``numba:parallel``, ``torch:eager``); the default variant is requested by the bare name."""
    out: list[tuple[str, str, str | None]] = []
    for name, backend in registry.backends.items():
        default = registry.default_variant(name)
        for variant in registry.variants(name) or (backend.default_variant,):
            out.append((impl_label(name, variant), name, None if variant == default else variant))
    return out


def selection_labels(registry: Registry, name: str, variant: str | None) -> list[str]:
    """The form labels a Selection entry (``-b name[:variant]``, ``name:*``) stands for;
    empty when it names no backend or variant the registry knows."""
    if name not in registry.backends:
        return []
    default = registry.default_variant(name)
    variants = registry.variants(name) or (registry.backends[name].default_variant,)
    if variant == "*":
        chosen: Sequence[str] = variants
    elif variant is None:
        chosen = [default]
    elif variant in variants:
        chosen = [variant]
    else:
        return []
    return [impl_label(name, v) for v in chosen]


def backend_of(label: str) -> str:
    """The backend name of a form label (``numba:parallel`` -> ``numba``)."""
    return label.partition(":")[0]


# ---- the values typed into the form ------------------------------------------------------------
def seconds_text(value: float) -> str:
    """A number of seconds as the form shows it (``1``, ``0.5``, ``300``)."""
    return f"{value:g}"


def positive_seconds(text: str, what: str) -> float:
    """The seconds typed into the field ``what``, by the planner's rule (finite, above 0)."""
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not a number of seconds") from None
    check_seconds(value, what)
    return value


def whole_number(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UserError(f"{what} {text!r} is not a whole number") from None


def cost_model(registry: Registry) -> Callable[[CellSpec], float | None]:
    """A cell's cost in its workload's own model (floating-point operations of one call, with
    the cell's parameters), for the live run's ETA; None where the workload has no model or
    the parameters do not give one: the ETA then says it does not know."""
    def cost(spec: CellSpec) -> float | None:
        workload = registry.workloads.get(spec.workload)
        if workload is None:
            return None
        try:
            value = workload.flops(spec.size, workload.resolve_params(spec.params_dict))
        except Exception:  # a plugin's model that fails is no model, not a crash mid-run
            return None
        return float(value) if value is not None and math.isfinite(value) and value > 0 else None

    return cost
