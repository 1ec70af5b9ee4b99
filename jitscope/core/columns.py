"""The columns of a result, declared once: every table and file of results derives from here.

Each :class:`Column` says where its value lives in a :class:`CellResult` (so the CSV writer
takes it and the CSV reader puts it back), how that value is read back from CSV text, and
how it is shown to a person in each human view (:class:`Shown`: header and words). Each
:class:`View` says which columns it shows, in which order, and which of them are the answer
that stays at any width. The CSV is the declaration order; JSON is the model's own
``to_json`` (every field of every part) plus the device label of the ``device`` column.

The observation columns are not written out here: they are the fields of
:class:`Observations`, in its order, read back by each field's type; only their human views
are declared below (``_OBSERVED_SHOWN``).

Adding a column: one :class:`Column` here (and its name in the views that show it), plus the
place that fills the value (a field of the model, set by the worker), plus its name in
README's CSV column list (a test holds that list to the CSV). An observation is a field of
:class:`Observations` (plus its words in ``_OBSERVED_SHOWN`` if a table shows it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jitscope.core.labels import cell_threads, impl_label, result_device, split_device_label
from jitscope.core.model import CellResult, Observations, Status
from jitscope.core.text import printable
from jitscope.core.units import fmt_bytes, fmt_number, fmt_ratio, fmt_seconds, fmt_size

UNKNOWN = "unknown"
MAX_WHOLE = 2**63 - 1  # what SQLite (and every size, seed and run id) can hold

# Where a column's value lives in a CellResult ("run": in the run, not in the cell; "people":
# words made for people from several fields or from the other rows, never in the CSV).
SPEC, STATS, ACCURACY, RESULT, INFO, OBSERVED = "spec", "stats", "accuracy", "result", "info", "observed"
RUN, PEOPLE = "run", "people"


@dataclass(frozen=True)
class Cell:
    """One result as a table row sees it: the result, and what depends on the other rows."""

    result: CellResult
    speedup: float | None = None
    label: str = ""  # the backend as the app names it (an overlay adds the run's tag)
    note: int | None = None  # the number of the CLI's note under the table about this cell


@dataclass(frozen=True)
class Shown:
    """A column in one human view: its header and its words for a cell."""

    header: str
    text: Callable[[Cell], str]


@dataclass(frozen=True)
class Column:
    """One column of a result. ``part``/``attr``: where the value lives (``spec.size``,
    ``stats.median``...); ``of`` overrides that for a value made from several fields;
    ``read`` turns the CSV text (``""`` when empty or absent) back into the value, or is None
    for a column not read back (run-level ones)."""

    name: str
    part: str
    attr: str = ""
    of: Callable[[CellResult], Any] | None = None
    read: Callable[[str, str], Any] | None = None
    required: bool = False  # a CSV without it is not a jitscope CSV
    right: bool = False  # a number: right-aligned in the tables
    shown: Mapping[str, Shown] = field(default_factory=dict)  # view name -> how that view shows it

    @property
    def csv(self) -> bool:
        """In the CSV (and read back from it): everything but the words made for people."""
        return self.part != PEOPLE

    @property
    def field_name(self) -> str:
        return self.attr or self.name

    def value(self, result: CellResult) -> Any:
        """The value written to the CSV (``None``: empty)."""
        if self.of is not None:
            return self.of(result)
        if self.part in (RUN, PEOPLE):  # not the cell's own (the CSV writer fills the run's)
            return None
        holder = result if self.part == RESULT else getattr(result, self.part)
        if holder is None:
            return None
        if isinstance(holder, dict):
            return holder.get(self.field_name)
        return getattr(holder, self.field_name)


@dataclass(frozen=True)
class View:
    """A human view of results: the columns it shows in order; ``answer``: those kept at any
    width; ``answer_when``: columns that join the answer when a rule about the cells holds;
    ``optional``: the rest, the most useful first (the CLI drops from the end to fit)."""

    name: str
    order: tuple[str, ...]
    answer: tuple[str, ...] = ()
    answer_when: Mapping[str, Callable[[Sequence[CellResult]], bool]] = field(default_factory=dict)
    optional: tuple[str, ...] = ()

    def answer_for(self, results: Sequence[CellResult]) -> tuple[str, ...]:
        """The answer columns for these cells."""
        return (*self.answer, *(name for name, holds in self.answer_when.items() if holds(results)))


# ---- reading CSV text back ----------------------------------------------------------------
def _text(text: str, _name: str) -> str:
    return text


def _text_or_none(text: str, _name: str) -> str | None:
    return text or None


def optional_float(text: str | None) -> float | None:
    return float(text) if text not in ("", None) else None


def _float_or_none(text: str, _name: str) -> float | None:
    return optional_float(text)


def _float_or_zero(text: str, _name: str) -> float:
    return optional_float(text) or 0.0


def _float(text: str, _name: str) -> float:
    return float(text)


def _flag(text: str, _name: str) -> bool:
    return text == "true"


def whole(text: str | None, what: str, minimum: int) -> int:
    """A whole number from ``minimum`` to 2**63-1, else a ValueError naming ``what``."""
    try:
        value = int(text or "")
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= MAX_WHOLE:
        raise ValueError(f"{what} {text!r} is not a whole number from {minimum} to 2**63-1")
    return value


def seconds(text: str, name: str) -> float | None:
    """A duration column: empty, or a finite number of seconds not below 0."""
    value = optional_float(text)
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} {text!r} is not a duration in seconds")
    return value


def _seconds_or_zero(text: str, name: str) -> float:
    return seconds(text, name) or 0.0


def _count(text: str, name: str) -> int:
    return whole(text or "0", name, 0)


def _params(text: str, _name: str) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted(tuple(kv.split("=", 1)) for kv in text.split(";") if "=" in kv))


def _observation_reader(f: dataclasses.Field[Any]) -> Callable[[str, str], Any]:
    """An Observations field read back by its type; empty (not observed, or a CSV from an
    older jitscope) is None: the field's default."""
    kind = str(f.type)  # "float | None", "int | None", "str" (postponed annotations)

    def read(text: str, _name: str) -> Any:
        if not text:
            return None
        if kind == "bool":
            return text == "true"
        if kind.startswith("int"):
            return int(float(text))
        if kind.startswith("float"):
            return float(text)
        return text

    return read


# ---- words for people ---------------------------------------------------------------------
def fmt_time(value: float | None) -> str:
    """Seconds for a table or a detail line; ``-`` when nothing was measured."""
    return fmt_seconds(value) if value is not None and value > 0 else "-"


def _md_time(value: float | None) -> str:
    return fmt_seconds(value) if value is not None else ""


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else ""


def fmt_error(result: CellResult) -> str:
    """The error and whether it is within the workload's tolerance, in characters (✓/✗), not
    in colour alone: ``NO_COLOR`` and a copied screen keep it."""
    acc = result.accuracy
    if acc is None:
        return "-"
    return f"{fmt_number(acc.error)} {'✓' if acc.accurate else '✗'}"


def _cli_error(r: CellResult) -> str:
    return f"{r.accuracy.error:.2g} {'✓' if r.accuracy.accurate else '✗'}" if r.accuracy else ""


def _cli_median(r: CellResult) -> str:
    return fmt_seconds(r.stats.median) + ("~" if r.stats.unstable else "") if r.stats else ""


def _md_median(r: CellResult) -> str:
    return _md_time(r.median_s) + (" ~" if r.stats and r.stats.unstable else "")


def _app_peak(r: CellResult) -> str:
    return (fmt_bytes(r.peak_memory_bytes) or UNKNOWN) if r.stats is not None else "-"


CLI, APP, MD, MD_OBSERVED = "cli", "app", "md", "md_observed"


def _md_both(header: str, text: Callable[[Cell], str]) -> dict[str, Shown]:
    """The same words in both Markdown tables (the cell's identity)."""
    shown = Shown(header, text)
    return {MD: shown, MD_OBSERVED: shown}


# How the observation columns (generated from Observations' fields) are shown, by field.
_OBSERVED_SHOWN: dict[str, dict[str, Shown]] = {
    "startup_s": {MD_OBSERVED: Shown("start-up", lambda c: _md_time(c.result.observed.startup_s))},
    "compiled": {
        CLI: Shown("compiled", lambda c: c.result.observed.compiled if c.result.stats else ""),
        APP: Shown("compiled", lambda c: c.result.observed.compiled if c.result.stats is not None else "-"),
        MD: Shown("compiled", lambda c: c.result.observed.compiled),
    },
    "cache": {MD: Shown("cache", lambda c: c.result.observed.cache)},
    "graph_breaks": {MD_OBSERVED: Shown("graph breaks", lambda c: _number(c.result.observed.graph_breaks, "d"))},
    "peak_host_bytes": {MD_OBSERVED: Shown("peak host", lambda c: fmt_bytes(c.result.observed.peak_host_bytes))},
    "peak_device_bytes": {MD_OBSERVED: Shown("peak device", lambda c: fmt_bytes(c.result.observed.peak_device_bytes))},
    "cpu_util": {
        CLI: Shown("cpu", lambda c: _number(c.result.observed.cpu_util, ".2g")),
        MD_OBSERVED: Shown("cpu util", lambda c: _number(c.result.observed.cpu_util, ".2f")),
    },
    "cpu_contention": {MD_OBSERVED: Shown("cpu contention", lambda c: _number(c.result.observed.cpu_contention, ".0%"))},
    "dtype_used": {MD_OBSERVED: Shown("dtype used", lambda c: c.result.observed.dtype_used)},
}
_LEFT_OBSERVATIONS = {"compiled", "cache", "dtype_used", "simulated"}


def _observation_columns() -> tuple[Column, ...]:
    """One column per Observations field, in its order: the dataclass is the declaration."""
    return tuple(
        Column(f.name, OBSERVED, read=_observation_reader(f), right=f.name not in _LEFT_OBSERVATIONS,
               shown=_OBSERVED_SHOWN.get(f.name, {}))
        for f in dataclasses.fields(Observations)
    )


def _spec_threads(r: CellResult) -> Any:
    return r.info.get("threads", r.spec.threads)


def _threads_text(r: CellResult) -> str:
    value = _spec_threads(r)
    return "default" if value is None else str(value)


# Every column, in CSV order.
COLUMNS: tuple[Column, ...] = (
    Column("run_id", RUN),
    Column("workload", SPEC, read=_text, required=True, shown={
        CLI: Shown("workload", lambda c: printable(c.result.spec.workload)),
        APP: Shown("workload", lambda c: c.result.spec.workload),
        **_md_both("workload", lambda c: c.result.spec.workload)}),
    Column("backend", SPEC, read=_text, required=True, shown={
        CLI: Shown("backend", lambda c: printable(impl_label(c.result.spec.backend, c.result.spec.variant))),
        APP: Shown("backend", lambda c: c.label),
        **_md_both("backend", lambda c: f"{c.result.spec.backend}:{c.result.spec.variant}")}),
    Column("variant", SPEC, read=_text, required=True),
    # "cuda (simulated)" from numba's CUDA simulator; the simulated column says it again
    Column("device", SPEC, of=result_device, read=lambda t, _n: split_device_label(t)[0], required=True, shown={
        CLI: Shown("device", lambda c: result_device(c.result)),
        **_md_both("device", lambda c: result_device(c.result))}),
    Column("dtype", SPEC, read=_text, required=True, shown={
        CLI: Shown("dtype", lambda c: c.result.spec.dtype),
        **_md_both("dtype", lambda c: c.result.spec.dtype)}),
    Column("size", SPEC, read=lambda t, n: whole(t, n, 1), required=True, right=True, shown={
        CLI: Shown("size", lambda c: fmt_size(c.result.spec.size)),
        APP: Shown("size", lambda c: fmt_size(c.result.spec.size)),
        **_md_both("size", lambda c: str(c.result.spec.size))}),
    Column("status", RESULT, of=lambda r: r.status.value, read=lambda t, _n: Status(t), required=True, shown={
        CLI: Shown("status", lambda c: c.result.status.value + (f"[{c.note}]" if c.note else "")),
        APP: Shown("status", lambda c: c.result.status.value),
        MD: Shown("status", lambda c: c.result.status.value)}),
    Column("reason", RESULT, read=_text, shown={
        APP: Shown("reason", lambda c: c.result.reason),
        MD: Shown("reason", lambda c: _md(c.result.reason))}),
    Column("first_call_s", RESULT, read=seconds, right=True),
    Column("compile_s", RESULT, read=seconds, right=True, shown={
        CLI: Shown("compile", lambda c: fmt_seconds(c.result.compile_s) if c.result.compile_s is not None else ""),
        APP: Shown("compile", lambda c: fmt_time(c.result.compile_s)),
        MD: Shown("compile", lambda c: _md_time(c.result.compile_s))}),
    Column("transfer_s", RESULT, read=seconds, right=True),
    Column("median_s", STATS, "median", read=seconds, right=True, shown={
        CLI: Shown("median", lambda c: _cli_median(c.result)),
        APP: Shown("median", lambda c: fmt_time(c.result.median_s)),
        MD: Shown("median", lambda c: _md_median(c.result))}),
    Column("iqr_s", STATS, "iqr", read=_seconds_or_zero, right=True, shown={
        CLI: Shown("±IQR", lambda c: fmt_seconds(c.result.stats.iqr) if c.result.stats else ""),
        APP: Shown("IQR", lambda c: fmt_time(c.result.stats.iqr) if c.result.stats else "-")}),
    Column("min_s", STATS, "min", read=_seconds_or_zero, right=True),
    Column("mean_s", STATS, "mean", read=_seconds_or_zero, right=True),
    Column("stdev_s", STATS, "stdev", read=_seconds_or_zero, right=True),
    Column("ci_low_s", STATS, "ci_low", read=_seconds_or_zero, right=True),
    Column("ci_high_s", STATS, "ci_high", read=_seconds_or_zero, right=True),
    Column("samples", STATS, read=_count, right=True),
    Column("loops", STATS, read=_count, right=True),
    Column("unstable", STATS, read=_flag),
    Column("unstable_reason", STATS, read=_text, shown={
        MD_OBSERVED: Shown("unstable because", lambda c: _md(c.result.stats.unstable_reason if c.result.stats else ""))}),
    Column("error", ACCURACY, read=_float, right=True, shown={
        CLI: Shown("error", lambda c: _cli_error(c.result)),
        APP: Shown("error", lambda c: fmt_error(c.result)),
        MD: Shown("error", lambda c: f"{c.result.accuracy.error:.3g}" if c.result.accuracy else "")}),
    Column("error_metric", ACCURACY, "metric", read=_text),
    Column("tolerance", ACCURACY, read=_float_or_zero, right=True),
    Column("accurate", ACCURACY, read=_flag, shown={
        MD: Shown("accurate", lambda c: ("yes" if c.result.accuracy.accurate else "NO") if c.result.accuracy else "")}),
    Column("gflops", RESULT, read=_float_or_none, right=True, shown={
        CLI: Shown("GFLOP/s", lambda c: f"{c.result.gflops:.3g}" if c.result.gflops else "")}),
    Column("gbs", RESULT, read=_float_or_none, right=True),
    Column("threads", INFO, of=_spec_threads, read=_text_or_none, right=True, shown={
        CLI: Shown("threads", lambda c: _threads_text(c.result)),
        **_md_both("threads", lambda c: _threads_text(c.result))}),
    Column("backend_version", INFO, read=_text_or_none),
    Column("host", RUN),
    # what was observed (jitscope.core.model.Observations, one column per field)
    *_observation_columns(),
    # the fairness record and context
    Column("rng", INFO, read=_text_or_none),
    Column("sync", INFO, read=_text_or_none),
    Column("params", SPEC, of=lambda r: ";".join(f"{k}={v}" for k, v in r.spec.params), read=_params),
    Column("kernel_options", INFO, read=_text_or_none),
    Column("seed", SPEC, read=lambda t, n: whole(t or "0", n, 0)),
    Column("budget_s", SPEC, read=lambda t, n: seconds(t, n) or 1.0),
    Column("note", INFO, read=_text_or_none),
    # only for people: made from the other rows or from several fields
    Column("peak", PEOPLE, right=True, shown={
        CLI: Shown("peak mem", lambda c: fmt_bytes(c.result.peak_memory_bytes)),
        APP: Shown("peak mem", lambda c: _app_peak(c.result)),
        MD: Shown("peak memory", lambda c: fmt_bytes(c.result.peak_memory_bytes))}),
    Column("speed_up", PEOPLE, right=True, shown={
        CLI: Shown("speed-up", lambda c: fmt_ratio(c.speedup) if c.speedup else ""),
        APP: Shown("speed-up", lambda c: f"{c.speedup:.2f}x" if c.speedup is not None else "-")}),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
IN_CSV: tuple[Column, ...] = tuple(c for c in COLUMNS if c.csv)
CSV_NAMES: tuple[str, ...] = tuple(c.name for c in IN_CSV)
REQUIRED_CSV: frozenset[str] = frozenset(c.name for c in IN_CSV if c.required)

# The terminal's summary table (``jitscope run``/``show``): the answer always, the rest while
# they fit; device and dtype join the answer when the cells differ in them (a simulated
# device is always named: its timings are not a real device's).
CLI_TABLE = View(
    CLI,
    order=("workload", "backend", "device", "dtype", "threads", "size", "status", "median_s", "iqr_s", "compiled",
           "compile_s", "peak", "cpu_util", "gflops", "error", "speed_up"),
    answer=("workload", "backend", "size", "status", "median_s"),
    answer_when={
        "device": lambda rs: len({result_device(r) for r in rs}) > 1 or any(r.observed.simulated for r in rs),
        "dtype": lambda rs: len({r.spec.dtype for r in rs}) > 1,
        "threads": lambda rs: len({cell_threads(r) for r in rs}) > 1,
    },
    optional=("speed_up", "error", "compiled", "compile_s", "peak", "iqr_s", "cpu_util", "gflops"),
)
# The app's Results table: the answer first (what ran, its median, speed-up and error ✓/✗:
# what fits 60 columns), the details after (scroll right, or read the cell details).
APP_TABLE = View(
    APP,
    order=("workload", "backend", "size", "median_s", "speed_up", "error", "status", "iqr_s", "compile_s",
           "compiled", "peak", "reason"),
    answer=("workload", "backend", "size", "median_s", "speed_up", "error"),
)
# The Markdown export: the results, then the rest of what was observed about each cell that ran.
MD_RESULTS = View(MD, order=("workload", "backend", "device", "dtype", "threads", "size", "status", "median_s", "compiled",
                             "compile_s", "cache", "peak", "error", "accurate", "reason"))
MD_OBSERVATIONS = View(MD_OBSERVED, order=("workload", "backend", "device", "dtype", "threads", "size", "startup_s", "graph_breaks",
                                           "peak_host_bytes", "peak_device_bytes", "cpu_util", "cpu_contention",
                                           "dtype_used", "unstable_reason"))
VIEWS = (CLI_TABLE, APP_TABLE, MD_RESULTS, MD_OBSERVATIONS)


def shown_in(view: View, name: str) -> Shown:
    return BY_NAME[name].shown[view.name]


def headers(view: View, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The headers of ``names`` (default: the whole view), in the view's order."""
    return tuple(shown_in(view, n).header for n in (view.order if names is None else names))


def row_words(view: View, cell: Cell) -> list[str]:
    """A cell's words in each column of ``view``, in its order."""
    return [shown_in(view, n).text(cell) for n in view.order]


def is_right(header: str, view: View) -> bool:
    """Whether the column under ``header`` in ``view`` is a number (right-aligned)."""
    return next(BY_NAME[n].right for n in view.order if shown_in(view, n).header == header)


def _check_views() -> None:
    """Every name a view lists is a column that view knows how to show (at import: a typo in
    a view fails every test, not one screen)."""
    for view in VIEWS:
        for name in (*view.order, *view.answer, *view.answer_when, *view.optional):
            if view.name not in BY_NAME[name].shown:
                raise AssertionError(f"view {view.name} lists {name!r}, which has no words for it")
        if len(set(headers(view))) != len(view.order):
            raise AssertionError(f"view {view.name} has two columns under one header")
    if APP_TABLE.order[: len(APP_TABLE.answer)] != APP_TABLE.answer:  # what fits a narrow screen
        raise AssertionError("the app's Results table shows its answer columns first")


_check_views()
