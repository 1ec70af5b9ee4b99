"""Turning a selection (workloads, backends, sizes, device, dtype...) into cells.

All validation that can happen before any work happens here, so bad input fails in
milliseconds with a clear message and nothing half-run.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jitscope.core.errors import UserError
from jitscope.core.model import DEVICES, DTYPES, CellSpec, as_axis
from jitscope.core.units import fmt_bytes

if TYPE_CHECKING:  # the registry imports every workload (NumPy): not for the CLI's defaults
    from jitscope.core.registry import Registry
    from jitscope.core.workload import Workload

DEFAULT_BUDGET_S = 1.0
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_SEED = 12345
# One call above this many flops takes hours even on a fast GPU (~1e14 flop/s): refusing it up
# front beats burning the whole timeout in a worker (e.g. -p epochs=1e26).
MAX_FLOPS_PER_CALL = 1e17


@dataclass
class Selection:
    """What the user picked, in the terms they typed (the CLI and the app build one)."""

    workloads: list[str]
    backends: list[tuple[str, str | None]]
    sizes: list[int] | None = None  # None: each workload's default sizes
    # -s S (a preset name) and -s crc16=1e6,1e7 (sizes meant for one workload): the words
    # and numbers typed, per workload name ("" for every workload); they take precedence
    # over ``sizes`` where given.
    size_requests: dict[str, list[int | str]] = field(default_factory=dict)
    # The sweep axes: every combination of device x dtype x thread count is a cell. One
    # value (a str, an int, None: what older callers and stored runs give) is read as a list
    # of one; threads ``[None]``: the libraries' own choice.
    device: list[str] = field(default_factory=lambda: ["cpu"])
    dtype: list[str] = field(default_factory=lambda: ["float64"])
    budget_s: float = DEFAULT_BUDGET_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    threads: list[int | None] = field(default_factory=lambda: [None])
    params: dict[str, str] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    processes: int | None = None  # worker processes per cell; None: default_processes(budget_s)

    def __post_init__(self) -> None:
        self.device = as_axis(self.device, "cpu")
        self.dtype = as_axis(self.dtype, "float64")
        self.threads = as_axis(self.threads, None)

    def axes(self) -> list[tuple[str, str, int | None]]:
        """Every (device, dtype, threads) the selection asks for, in that nesting order."""
        return list(itertools.product(self.device, self.dtype, self.threads))


@dataclass
class Plan:
    cells: list[CellSpec]
    workload_files: tuple[str, ...] = ()
    processes: int = 1  # worker processes per cell (--processes): the plan runs in this many rounds

    @property
    def groups(self) -> list[WorkerKey]:
        """(backend, device, threads) in run order: one worker process each."""
        return list(dict.fromkeys(worker_key(cell) for cell in self.cells))


# What one worker process runs: one backend on one device with one thread cap (the cap is
# set in the worker's environment before any import, so two thread counts never share one).
WorkerKey = tuple[str, str, "int | None"]


def worker_key(cell: CellSpec) -> WorkerKey:
    return (cell.backend, cell.device, cell.threads)


def plan_of(registry: Registry, cells: list[CellSpec]) -> Plan:
    """The cells as they run: each backend x device x thread count together (one worker
    process each), in the order the user gave them, with the ``-w`` files each worker loads."""
    order = {key: i for i, key in enumerate(dict.fromkeys(worker_key(c) for c in cells))}
    return Plan(cells=sorted(cells, key=lambda c: order[worker_key(c)]), workload_files=registry.workload_files)


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, else total physical memory; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def resolve_variants(registry: Registry, backends: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, variant in backends:
        registry.backend(name)  # an unknown name: one line that lists the known ones
        variants = registry.variants(name)
        if variant is None:
            chosen = [registry.default_variant(name)] if variants else []
        elif variant == "*":
            chosen = list(variants)
        elif variant not in variants:
            raise UserError(
                f"backend {name} has no variant {variant!r}; its variants: {', '.join(variants) or 'none'}"
            )
        else:
            chosen = [variant]
        for v in chosen:
            if (name, v) not in out:
                out.append((name, v))
    return out


def _requested(workload: Workload, sel: Selection) -> list[int | str] | None:
    """What ``-s`` asks of this workload: its own ``-s NAME=...``, else the common words
    and numbers, else the common sizes; None: its defaults."""
    own = sel.size_requests.get(workload.name)
    if own:
        return own
    common = sel.size_requests.get("")
    if common:  # a preset another selected workload has leaves this one at its defaults
        mine = [t for t in common if isinstance(t, int) or t in workload.preset_names()]
        return mine or None
    return list(sel.sizes) if sel.sizes else None


def _check_preset_words(workloads: list[Workload], sel: Selection) -> None:
    """A word in a common ``-s`` must be a preset of some selected workload (a typo is an
    error, not a silent default)."""
    for token in sel.size_requests.get("", []):
        if isinstance(token, str) and not any(token in w.preset_names() for w in workloads):
            have = list(dict.fromkeys(p for w in workloads for p in w.preset_names()))
            raise UserError(f"size {token!r} is neither a number (1000, 10k, 1e6) nor a preset of a selected "
                            f"workload (presets: {', '.join(have) or 'none'})")


def _workload_points(workload: Workload, sel: Selection, limit: int | None) -> list[tuple[int, tuple[tuple[str, Any], ...]]]:
    """Each (size, recorded parameters) of one workload, every one checked against the
    flop and memory limits before anything runs."""
    own = {p.name: p for p in workload.params}
    typed: dict[str, Any] = {k: own[k].parse(v) for k, v in sel.params.items() if k in own}
    out: list[tuple[int, tuple[tuple[str, Any], ...]]] = []
    for point, preset in workload.points(_requested(workload, sel)):
        given = {**preset, **typed}  # -p wins over a preset: the user typed it
        resolved = workload.resolve_params(given)
        size = workload.cell_size(point, resolved)
        workload.validate_size(size)
        _check_limits(workload, size, resolved, given, limit)
        recorded = resolved if workload.record_all_params else given
        out.append((size, tuple(sorted(recorded.items()))))
    return out


def _check_limits(workload: Workload, size: int, resolved: dict[str, Any], given: dict[str, Any],
                  limit: int | None) -> None:
    """A call of hours, or inputs larger than the memory there is: refused up front."""
    params_text = ", ".join(f"{k}={v}" for k, v in given.items())
    what = f"{workload.name} size {size}{' with ' + params_text if params_text else ''}"
    work = workload.flops(size, resolved)
    if work is not None and work > MAX_FLOPS_PER_CALL:
        raise UserError(
            f"{what} is about {work:.2g} floating-point operations per call (hours even on a fast GPU; the "
            f"limit is {MAX_FLOPS_PER_CALL:.0e}); choose a smaller size or parameter"
        )
    need = workload.memory_estimate(size, resolved)
    if limit and need > limit:
        raise UserError(f"{what} needs about {fmt_bytes(need)}, more than the {fmt_bytes(limit)} available; "
                        "choose a smaller size")


# The examples the messages suggest, per option.
_EXAMPLES = {"budget": "0.5", "timeout": "300"}


def check_seconds(value: float, option: str) -> None:
    """A budget or timeout no run can use (0, negative, inf, nan) refused, named the way the
    user typed it (``option``: ``--budget`` on the command line, ``budget`` in the app)."""
    if not (math.isfinite(value) and value > 0):
        example = _EXAMPLES.get(option.lstrip("-"), "1")
        raise UserError(f"{option} {value:g} must be a finite number of seconds above 0 (e.g. {option} {example})")


def check_options(*, budget_s: float, timeout_s: float, threads: int | None | Sequence[int | None], seed: int,
                  flag: str = "") -> None:
    """The one rule for a run's numeric options, whoever gathered them (the CLI checks them
    before loading any file, with ``flag="--"``; every plan checks them again)."""
    check_seconds(budget_s, f"{flag}budget")
    check_seconds(timeout_s, f"{flag}timeout")
    if budget_s >= timeout_s:
        raise UserError(f"{flag}budget {budget_s:g} s is not below {flag}timeout {timeout_s:g} s: every cell "
                        "would be killed before it finished sampling")
    for count in as_axis(threads, None):
        if count is not None and count < 1:
            raise UserError(f"{flag}threads {count} must be at least 1")
    if not 0 <= seed < 2**63:
        raise UserError(f"{flag}seed {seed} must be a whole number from 0 to 2**63-1")


MAX_PROCESSES = 100
DEFAULT_PROCESSES = 3
MIN_BUDGET_PER_PROCESS_S = 0.1  # the default takes several processes only where each gets this


def default_processes(budget_s: float) -> int:
    """The rule for ``--processes`` left out: 3 when each process still gets at least 0.1 s
    of sampling (a budget of 0.3 s or more), else 1 (runner/rounds.py: the budget is shared)."""
    return DEFAULT_PROCESSES if budget_s >= DEFAULT_PROCESSES * MIN_BUDGET_PER_PROCESS_S - 1e-12 else 1


def check_processes(processes: int | None, flag: str = "") -> None:
    """``--processes``: a whole number of worker processes per cell, 1 to ``MAX_PROCESSES``."""
    if processes is not None and not 1 <= processes <= MAX_PROCESSES:
        raise UserError(f"{flag}processes {processes} must be a whole number from 1 to {MAX_PROCESSES} "
                        f"(worker processes per cell, e.g. {flag}processes 3)")


def _check_selection(sel: Selection) -> None:
    """What needs no registry: something picked, a known device and dtype, usable numbers."""
    if not sel.workloads:
        raise UserError("no workload selected (use -w, e.g. -w linreg; see `jitscope workloads`)")
    if not sel.backends:
        raise UserError("no backend selected (use -b, e.g. -b numpy; see `jitscope backends`)")
    for device in sel.device:
        if device not in DEVICES:
            raise UserError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    for dtype in sel.dtype:
        if dtype not in DTYPES:
            raise UserError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    check_options(budget_s=sel.budget_s, timeout_s=sel.timeout_s, threads=sel.threads, seed=sel.seed)
    check_processes(sel.processes)


def _check_params_and_size_names(workloads: list[Workload], sel: Selection) -> None:
    """-p applies to every selected workload that has the parameter; one that none has is an
    error, as is ``-s NAME=...`` for a workload not selected."""
    known = {p.name for w in workloads for p in w.params}
    for key in sel.params:
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise UserError(f"no selected workload has a parameter {key!r} (parameters: {names})")
    unknown = [name for name in sel.size_requests if name and name not in sel.workloads]
    if unknown:
        raise UserError(f"-s {unknown[0]}=...: {unknown[0]} is not a selected workload "
                        f"(selected: {', '.join(sel.workloads)})")
    _check_preset_words(workloads, sel)


def build_plan(registry: Registry, sel: Selection, memory_limit: int | None = None) -> Plan:
    """Every cell of the selection, each checked, in run order; a UserError before any work.

    The order: one worker per backend x device x thread count, in the order given; within
    it, workload, size, then dtype."""
    _check_selection(sel)
    workloads = [registry.workload(name) for name in sel.workloads]
    pairs = resolve_variants(registry, sel.backends)
    _check_params_and_size_names(workloads, sel)
    limit = memory_limit if memory_limit is not None else available_memory_bytes()
    cells: list[CellSpec] = []
    for workload in workloads:
        for size, params in _workload_points(workload, sel, limit):
            cells.extend(CellSpec(workload=workload.name, backend=backend, variant=variant, device=device,
                                  dtype=dtype, size=size, params=params, budget_s=sel.budget_s,
                                  timeout_s=sel.timeout_s, threads=threads, seed=sel.seed)
                         for device, dtype, threads in sel.axes() for backend, variant in pairs)
    plan = plan_of(registry, cells)
    plan.processes = sel.processes if sel.processes is not None else default_processes(sel.budget_s)
    return plan
