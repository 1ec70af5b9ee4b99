"""Loading two sides (stored runs or exported files), matching their cells, and the
comparison's rows for the table and the exports. The statistics are in core/compare.py.

A side is a run id, ``latest``, ``latest~N`` (N runs before the latest) or a file a
jitscope exported: a ``--json`` export (raw samples kept: full statistics) or a ``--csv``
(medians only: a ratio and no verdict). Cells are matched by workload, backend:variant,
size, dtype, device, threads and params; a cell on one side only is listed, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitscope.core.compare import (
    DEFAULT_THRESHOLD,
    Change,
    Samples,
    Verdict,
    compare_medians,
    compare_samples,
)
from jitscope.core.errors import UserError
from jitscope.core.labels import impl_label
from jitscope.core.model import CellCoords, CellResult, Status
from jitscope.results.export import read_csv, read_json
from jitscope.results.store import Store, parse_run_id

METHOD = ("ratio = median(B)/median(A); 95% CI: percentile bootstrap of the ratio of medians; "
          "p: two-sided Mann-Whitney U; significant: p < 0.05 and the CI excludes 1")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its cells and what is known of where they ran ("" unknown)."""

    label: str  # "run 3", or the file's path
    cells: tuple[CellResult, ...]
    host: str = ""
    python: str = ""

    @classmethod
    def of_run(cls, label: str, cells: Iterable[CellResult], environment: dict[str, Any]) -> Side:
        return cls(label, tuple(cells), str(environment.get("host") or ""), str(environment.get("python") or ""))


def is_run_reference(text: str) -> bool:
    """``3``, ``latest`` or ``latest~2``: a stored run, not a file."""
    return text.isdigit() or text == "latest" or (text.startswith("latest~") and text[7:].isdigit())


def load_side(text: str, db_path: Path) -> Side:
    """A run of the database or an exported file; every problem is one UserError."""
    if is_run_reference(text):
        with Store(db_path, create=False) as store:
            run_id = _resolve(store, text)
            record = store.run(run_id)
            return Side.of_run(f"run {run_id}", store.cells(run_id), record.environment)
    path = Path(text).expanduser()
    if not path.exists():
        raise UserError(f"{text!r} is neither a run (an id, latest, latest~1) nor an existing file")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a jitscope CSV or JSON export")
    if _looks_like_json(path):
        cells, run = read_json(path)
        return Side.of_run(str(path), cells, dict(run.get("environment") or {}))
    cells, host = read_csv(path)
    return Side(str(path), tuple(cells), host)


def _looks_like_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip().startswith(b"{")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


def _resolve(store: Store, text: str) -> int:
    if not text.startswith("latest"):
        return store.run(parse_run_id(text)).id  # refuses an unknown id
    back = int(text[7:] or 0)
    runs = store.runs(limit=back + 1)
    if len(runs) <= back:
        raise UserError(f"{text}: {store.path} holds {len(runs)} run(s)" if runs else f"no runs in {store.path} yet")
    return runs[back].id


@dataclass(frozen=True, order=True)
class CellKey(CellCoords):
    """What makes two cells the same measurement: the same coordinates, threads and
    parameters (budget, timeout and seed may differ)."""

    threads: str  # "" when the libraries chose
    params: tuple[tuple[str, str], ...]

    @property
    def params_text(self) -> str:
        return ";".join(f"{k}={v}" for k, v in self.params)

    @property
    def title(self) -> str:
        extra = (f" threads={self.threads}" if self.threads else "") + (f" {self.params_text}" if self.params else "")
        return f"{self.workload} {impl_label(self.backend, self.variant)} {self.device} {self.dtype} size={self.size}{extra}"


def key_of(result: CellResult, ignore_params: Iterable[str] = ()) -> CellKey:
    """The match key; ``ignore_params`` are left out (to compare across a parameter on purpose)."""
    s, skip = result.spec, set(ignore_params)
    threads = result.info.get("threads", s.threads)
    return CellKey(**s.coords(), threads="" if threads in (None, "") else str(threads),
                   params=tuple((str(k), str(v)) for k, v in sorted(s.params) if k not in skip))


@dataclass(frozen=True)
class Pair:
    """A matched pair (or a cell of one side only). ``why_not``: why no verdict could be
    given ("" when comparable); ``caveat``: what was compared anyway."""

    key: CellKey
    a: CellResult | None
    b: CellResult | None
    change: Change | None = None
    why_not: str = ""
    caveat: str = ""

    @property
    def verdict(self) -> str:
        if self.a is None:
            return "only in B"
        if self.b is None:
            return "only in A"
        if self.why_not:
            return Verdict.NOT_COMPARABLE.value
        return self.change.verdict.value if self.change else Verdict.NO_VERDICT.value

    @property
    def note(self) -> str:
        parts = [self.why_not, self.change.note if self.change else "", self.caveat]
        return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class CompareOptions:
    threshold: float = DEFAULT_THRESHOLD
    allow_unstable: bool = False
    ignore_params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    pairs: tuple[Pair, ...]
    options: CompareOptions = field(default_factory=CompareOptions)

    def slower_than(self, pct: float) -> list[Pair]:
        """The pairs the CI gate fails on: comparable, significantly slower, by more than pct %."""
        return [p for p in self.pairs if not p.why_not and p.change and p.change.slower_by_more_than(pct)]


def compare_sides(a: Side, b: Side, options: CompareOptions | None = None) -> Comparison:
    opts = options or CompareOptions()
    pairs = [_pair(key, ra, rb, a, b, opts) for key, ra, rb in match(a.cells, b.cells, opts.ignore_params)]
    return Comparison(a, b, tuple(pairs), opts)


def match(a: Sequence[CellResult], b: Sequence[CellResult],
          ignore_params: Iterable[str] = ()) -> list[tuple[CellKey, CellResult | None, CellResult | None]]:
    """Pairs in A's order, then B's cells that A lacks. A key repeated on a side (two
    CSVs concatenated) pairs in order of appearance; the surplus is listed one-sided."""
    skip = tuple(ignore_params)
    pending: dict[CellKey, list[CellResult]] = {}
    for result in b:
        pending.setdefault(key_of(result, skip), []).append(result)
    out: list[tuple[CellKey, CellResult | None, CellResult | None]] = []
    for result in a:
        key = key_of(result, skip)
        queue = pending.get(key)
        out.append((key, result, queue.pop(0) if queue else None))
    out += [(key, None, result) for key, queue in pending.items() for result in queue]
    return out


def _pair(key: CellKey, ra: CellResult | None, rb: CellResult | None, a: Side, b: Side,
          opts: CompareOptions) -> Pair:
    if ra is None or rb is None:
        return Pair(key, ra, rb)
    change = _change(ra, rb, a, b, opts.threshold)
    why_not = "; ".join(_differences(ra, rb, a, b) + _unfit(ra, rb, opts.allow_unstable))
    caveat = ""
    if opts.allow_unstable and any(r.stats and r.stats.unstable for r in (ra, rb)):
        caveat = "unstable, compared anyway (--allow-unstable)"
    return Pair(key, ra, rb, change, why_not, caveat)


def _change(ra: CellResult, rb: CellResult, a: Side, b: Side, threshold: float) -> Change | None:
    if ra.median_s is None or rb.median_s is None:
        return None
    missing = [side.label for side, r in ((a, ra), (b, rb)) if not r.raw_samples]
    if missing:
        return compare_medians(ra.median_s, rb.median_s, f"no raw samples in {' and '.join(missing)}: medians only")
    # Grouped by worker process where the run kept the groups (--processes): then, with two
    # or more processes on both sides, the process is the unit (core/compare.py).
    return compare_samples(Samples(ra.grouped_samples()), Samples(rb.grouped_samples()), threshold)


def _differences(ra: CellResult, rb: CellResult, a: Side, b: Side) -> list[str]:
    """What differs between where the two cells ran (only where both sides recorded it)."""
    found = []
    for what, va, vb in (("host", a.host, b.host), ("python", a.python, b.python),
                         (f"{ra.spec.backend} version", ra.info.get("backend_version"), rb.info.get("backend_version"))):
        if va and vb and str(va) != str(vb):
            found.append(f"{what} differs ({va} vs {vb})")
    return found


def _unfit(ra: CellResult, rb: CellResult, allow_unstable: bool) -> list[str]:
    """Cells whose numbers cannot carry a verdict: not ok, no median, or unstable."""
    found = []
    for side, r in (("A", ra), ("B", rb)):
        if r.status is not Status.OK or r.median_s is None:
            found.append(f"{side} is {r.status.value}" + (f" ({r.reason})" if r.reason else ""))
        elif r.stats and r.stats.unstable and not allow_unstable:
            found.append(f"{side} is unstable ({r.stats.unstable_reason or 'see README'})")
    return found


# ---- rows for the exports ------------------------------------------------------------------
COLUMNS = (
    "workload", "backend", "variant", "device", "dtype", "size", "threads", "params",
    "a", "b", "status_a", "status_b", "median_a_s", "median_b_s", "samples_a", "samples_b",
    "processes_a", "processes_b", "ratio", "ci_low", "ci_high", "p_value", "significant", "verdict", "note",
)


def rows(comparison: Comparison) -> list[dict[str, Any]]:
    return [_row(p, comparison.a.label, comparison.b.label) for p in comparison.pairs]


def _row(p: Pair, label_a: str, label_b: str) -> dict[str, Any]:
    k, c = p.key, p.change
    return {
        "workload": k.workload, "backend": k.backend, "variant": k.variant, "device": k.device, "dtype": k.dtype,
        "size": k.size, "threads": k.threads, "params": k.params_text, "a": label_a, "b": label_b,
        "status_a": p.a.status.value if p.a else None, "status_b": p.b.status.value if p.b else None,
        "median_a_s": p.a.median_s if p.a else None, "median_b_s": p.b.median_s if p.b else None,
        "samples_a": len(p.a.raw_samples) if p.a else None, "samples_b": len(p.b.raw_samples) if p.b else None,
        "processes_a": p.a.processes if p.a else None, "processes_b": p.b.processes if p.b else None,
        "ratio": c.ratio if c else None, "ci_low": c.ci_low if c else None, "ci_high": c.ci_high if c else None,
        "p_value": c.p_value if c else None, "significant": c.significant if c else None,
        "verdict": p.verdict, "note": p.note,
    }


def to_csv(comparison: Comparison) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(comparison):
        writer.writerow({k: "" if v is None else str(v).lower() if isinstance(v, bool) else v for k, v in row.items()})
    return buf.getvalue()


def to_json(comparison: Comparison) -> str:
    payload = {"format": "jitscope-compare", "version": 1, "a": comparison.a.label, "b": comparison.b.label,
               "threshold": comparison.options.threshold, "method": METHOD, "pairs": rows(comparison)}
    return json.dumps(payload, indent=2, allow_nan=True)


def fmt_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}x"


def fmt_interval(change: Change | None) -> str:
    if change is None or change.ci_low is None or change.ci_high is None:
        return ""
    return f"[{change.ci_low:.3f}, {change.ci_high:.3f}]"


def fmt_p(change: Change | None) -> str:
    if change is None or change.p_value is None:
        return ""
    return "<0.001" if change.p_value < 0.001 else f"{change.p_value:.3f}"


def to_markdown(comparison: Comparison) -> str:
    from jitscope.core.units import fmt_seconds

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# jitscope compare: A = {comparison.a.label}, B = {comparison.b.label}", "",
        f"Method: {METHOD}; verdict needs a change above {comparison.options.threshold:.0%}.", "",
        "| cell | A median | B median | B/A | 95% CI | p | verdict | note |",
        "|---|---:|---:|---:|---|---:|---|---|",
    ]
    for p in comparison.pairs:
        ma = fmt_seconds(p.a.median_s) if p.a and p.a.median_s is not None else ""
        mb = fmt_seconds(p.b.median_s) if p.b and p.b.median_s is not None else ""
        lines.append(f"| {cell(p.key.title)} | {ma} | {mb} | {fmt_ratio(p.change.ratio if p.change else None)} "
                     f"| {fmt_interval(p.change)} | {fmt_p(p.change)} | {p.verdict} | {cell(p.note)} |")
    return "\n".join(lines) + "\n"


# ---- the table's words: shared by `jitscope compare` and the app's Compare screen -------------
# A symbol before each verdict that says something, so it reads without colour (NO_COLOR, a
# pipe, a colour-blind reader); the other verdicts are words alone.
VERDICT_SYMBOL = {"slower": "▲", "faster": "▼", "no significant change": "=", "not comparable": "?"}
# The tone each verdict is drawn in (the CLI maps it to a Rich style, the app to its theme).
VERDICT_TONE = {"slower": "error", "faster": "success", "not comparable": "warning",
                "no verdict": "muted", "only in A": "muted", "only in B": "muted"}
KEY_EXTRAS = ("device", "dtype", "threads", "params")  # key columns shown only where they vary
VALUE_COLUMNS = ("A", "B", "B/A", "95% CI", "p", "verdict")


def verdict_words(verdict: str) -> str:
    """``▲ slower``: the verdict with its symbol (where it has one)."""
    symbol = VERDICT_SYMBOL.get(verdict)
    return f"{symbol} {verdict}" if symbol else verdict


def varying_extras(comparison: Comparison) -> list[str]:
    """The key columns beyond workload, backend and size that differ between pairs."""
    return [c for c in KEY_EXTRAS if len({key_value(p.key, c) for p in comparison.pairs}) > 1]


def table_columns(comparison: Comparison) -> list[str]:
    return ["workload", "backend", *varying_extras(comparison), "size", *VALUE_COLUMNS]


def key_value(key: CellKey, column: str) -> str:
    """A key column as the table shows it."""
    return key.params_text if column == "params" else str(getattr(key, column))


def table_title(comparison: Comparison) -> str:
    return (f"A = {comparison.a.label}, B = {comparison.b.label}; ratio B/A (above 1: B slower), 95% CI, "
            f"Mann-Whitney p; a verdict needs a change above {comparison.options.threshold:.0%}")


@dataclass(frozen=True)
class TableRow:
    """One pair as the table shows it: ``values`` by column name (of :func:`table_columns`),
    plain text; ``verdict`` the bare word (for its tone); ``note`` what the table footnotes."""

    pair: Pair
    values: dict[str, str]
    verdict: str
    note: str


def table_rows(comparison: Comparison) -> list[TableRow]:
    from jitscope.core.units import fmt_size

    extras = varying_extras(comparison)
    out = []
    for p in comparison.pairs:
        k, c = p.key, p.change
        values = {"workload": k.workload, "backend": impl_label(k.backend, k.variant),
                  **{col: key_value(k, col) for col in extras}, "size": fmt_size(k.size),
                  "A": median_text(p.a), "B": median_text(p.b), "B/A": fmt_ratio(c.ratio if c else None),
                  "95% CI": fmt_interval(c), "p": fmt_p(c), "verdict": verdict_words(p.verdict)}
        out.append(TableRow(p, values, p.verdict, p.note))
    return out


def median_text(result: CellResult | None) -> str:
    """A side's median, ``~`` after it when the cell was flagged unstable."""
    from jitscope.core.units import fmt_seconds

    if result is None or result.median_s is None:
        return ""
    return fmt_seconds(result.median_s) + ("~" if result.stats and result.stats.unstable else "")


def verdict_counts(comparison: Comparison) -> str:
    """``2 slower, 4 no significant change``: the line under the table."""
    counts: dict[str, int] = {}
    for p in comparison.pairs:
        counts[p.verdict] = counts.get(p.verdict, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in counts.items()) or "no cells on either side"


def require_scipy() -> None:
    """The statistics are SciPy's; without it, one clear line rather than a traceback."""
    import importlib.util

    if importlib.util.find_spec("scipy") is None:
        raise UserError("comparing runs needs SciPy for its statistics: pip install 'jitscope[compare]'")
