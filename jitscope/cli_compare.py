"""``jitscope compare A B``: did it get faster? And the CI gate (``--fail-if-slower``), also
used by ``jitscope run --compare-to``.

Exit codes: 0 no gate or nothing over it; 1 some matched cell significantly slower by more
than ``--fail-if-slower`` per cent (each named on stderr); 2 unusable input (an unknown run,
an unreadable or foreign file, a bad option).

Only Typer and Rich at import time: the store, the exports and SciPy load when the command
runs (``jitscope --help`` stays fast).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from jitscope.core.model import CellResult
    from jitscope.results.compare import Comparison, Pair, Side

# The Rich style of each verdict's tone (results.compare.VERDICT_TONE; the app uses its theme's).
TONE_STYLE = {"error": "bold red", "success": "green", "warning": "yellow", "muted": "dim"}

CompareToOpt = Annotated[str | None, typer.Option(
    "--compare-to", help="After the run, compare it with this run (id, latest, latest~1) or exported CSV/JSON file.")]
FailIfSlowerOpt = Annotated[float | None, typer.Option(
    "--fail-if-slower", metavar="PCT",
    help="Exit 1 when a matched cell is significantly slower than the other side by more than PCT per cent.")]

AllowUnstableOpt = Annotated[bool, typer.Option(
    "--allow-unstable", help="Give a verdict for cells flagged unstable too (marked in the note); by default they are not comparable.")]


def compare(
    a: Annotated[str, typer.Argument(help="The reference: a run id, latest, latest~1, or a CSV/JSON file jitscope exported.")],
    b: Annotated[str, typer.Argument(help="The candidate, the same ways (ratio = B/A; above 1 is slower).")],
    fail_if_slower: FailIfSlowerOpt = None,
    threshold: Annotated[float, typer.Option("--threshold", metavar="PCT", help="Smallest change, in per cent, that gets a faster/slower verdict.")] = 5.0,
    allow_unstable: AllowUnstableOpt = False,
    ignore_param: Annotated[list[str] | None, typer.Option("--ignore-param", metavar="KEY", help="Match cells whatever this workload parameter is (e.g. compare epochs=20 with epochs=24). Repeatable.")] = None,
    csv: Annotated[str | None, typer.Option("--csv", help="Write the comparison as CSV; '-' for stdout.")] = None,
    json_path: Annotated[str | None, typer.Option("--json", help="Write the comparison as JSON; '-' for stdout.")] = None,
    md: Annotated[str | None, typer.Option("--md", help="Write the comparison as Markdown; '-' for stdout.")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Results database holding the runs (default: as for run).")] = None,
) -> None:
    """Compare two runs cell by cell: medians, ratio B/A with a 95% interval, p-value, verdict.

    Example: [bold]jitscope compare latest~1 latest --fail-if-slower 10[/bold]
    """
    from jitscope.cli import _db, _fail, console, err_console
    from jitscope.core.errors import UserError

    try:
        code = run_compare(a, b, _db(db), fail_if_slower=fail_if_slower, threshold=threshold,
                           allow_unstable=allow_unstable, ignore_params=tuple(ignore_param or ()),
                           exports=(csv, json_path, md), console=console, err_console=err_console)
    except UserError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


def check_percent(value: float | None, option: str) -> None:
    from jitscope.core.errors import UserError

    if value is not None and not (math.isfinite(value) and value >= 0):
        raise UserError(f"{option} {value:g} must be a finite percentage of 0 or more (e.g. {option} 10)")


def run_compare(a: str, b: str, db_path: Path, *, fail_if_slower: float | None, threshold: float,
                allow_unstable: bool, ignore_params: tuple[str, ...], exports: tuple[str | None, str | None, str | None],
                console: Console, err_console: Console) -> int:
    """Load both sides, compare, print and write, apply the gate; returns the exit code."""
    from jitscope.results.compare import CompareOptions, compare_sides, load_side, require_scipy
    from jitscope.results.export import ExportTargets

    check_percent(fail_if_slower, "--fail-if-slower")
    check_percent(threshold, "--threshold")
    targets = ExportTargets(*exports)
    targets.check(db_path)
    side_a, side_b = load_side(a, db_path), load_side(b, db_path)
    require_scipy()
    comparison = compare_sides(side_a, side_b, CompareOptions(threshold / 100, allow_unstable, ignore_params))
    human = err_console if targets.uses_stdout else console
    write_comparison(comparison, targets.csv, targets.json, targets.md, human)
    print_comparison(human, comparison)
    return gate(comparison, fail_if_slower, err_console)


def write_comparison(comparison: Comparison, csv: str | Path | None, json_path: str | Path | None,
                     md: str | Path | None, human: Console) -> None:
    from jitscope.core.text import printable
    from jitscope.results import compare as rc
    from jitscope.results.export import write_text

    for path, render in ((csv, rc.to_csv), (json_path, rc.to_json), (md, rc.to_markdown)):
        if path:
            where = write_text(path, render(comparison))
            if str(where) != "/dev/stdout":
                human.print(Text(printable(f"wrote {where}")))


def gate(comparison: Comparison, pct: float | None, err_console: Console) -> int:
    """Exit 1, naming each cell, when a comparable cell is significantly slower by > pct %."""
    if pct is None:
        return 0
    from jitscope.core.text import printable

    failing = comparison.slower_than(pct)
    for pair in failing:
        assert pair.change is not None
        err_console.print(Text(printable(
            f"slower by {pair.change.change_pct:.1f}% (> {pct:g}%, p {_p_text(pair)}): {pair.key.title}")),
            style="bold red", soft_wrap=True)
    if failing:
        err_console.print(Text(f"{len(failing)} cell(s) significantly slower than {comparison.a.label} "
                               f"by more than {pct:g}%"), soft_wrap=True)
        return 1
    return 0


def _p_text(pair: Pair) -> str:
    from jitscope.results.compare import fmt_p

    text = fmt_p(pair.change)
    return text if text.startswith("<") else f"= {text}"


def comparison_table(comparison: Comparison, width: int) -> tuple[Table, list[str]]:
    """The table (only the key columns that vary), and numbered notes printed below it. Its
    columns and words are results.compare's, which the app's Compare screen shows too."""
    from jitscope.core.text import printable
    from jitscope.results.compare import (
        KEY_EXTRAS,
        VERDICT_TONE,
        table_columns,
        table_rows,
        table_title,
    )

    table = Table(title=Text(printable(table_title(comparison))), title_justify="left",
                  box=None if width < 110 else box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    columns = table_columns(comparison)
    for col in columns:
        table.add_column(col, justify="left" if col in ("workload", "backend", "verdict", *KEY_EXTRAS) else "right",
                         overflow="fold")
    notes: list[str] = []
    for row in table_rows(comparison):
        verdict = Text(row.values["verdict"], style=TONE_STYLE.get(VERDICT_TONE.get(row.verdict, ""), ""))
        if row.note:
            notes.append(printable(f"{row.pair.key.title}: {row.note}"))
            verdict.append(f" [{len(notes)}]", style="dim")
        table.add_row(*[Text(printable(row.values[c])) for c in columns[:-1]], verdict)
    return table, notes


def print_comparison(console: Console, comparison: Comparison) -> None:
    from jitscope.results.compare import verdict_counts

    table, notes = comparison_table(comparison, console.width)
    console.print(table)
    for i, note in enumerate(notes, start=1):
        console.print(Text(f"[{i}] ", style="dim") + Text(note), soft_wrap=True)
    console.print(Text(verdict_counts(comparison)))


# ---- jitscope run --compare-to ---------------------------------------------------------------
def side_before_run(compare_to: str | None, fail_if_slower: float | None, db_path: Path) -> Side | None:
    """Checked and loaded before any cell runs (``latest`` is then the run before this one):
    an unknown run or unreadable file costs no sweep."""
    from jitscope.core.errors import UserError

    if compare_to is None:
        if fail_if_slower is not None:
            raise UserError("--fail-if-slower needs --compare-to RUN|FILE: what would the run be slower than?")
        return None
    # Only now: a plain run needs none of the comparison code.
    from jitscope.results.compare import load_side, require_scipy

    check_percent(fail_if_slower, "--fail-if-slower")
    side = load_side(compare_to, db_path)
    require_scipy()
    return side


def compare_after_run(reference: Side, run_id: int, results: Sequence[CellResult], environment: dict[str, Any],
                      fail_if_slower: float | None, allow_unstable: bool, human: Console, err_console: Console) -> int:
    """The just-finished run as B against the reference as A: the table, then the gate."""
    from jitscope.results.compare import CompareOptions, Side, compare_sides

    comparison = compare_sides(reference, Side.of_run(f"run {run_id}", results, environment),
                               CompareOptions(allow_unstable=allow_unstable))
    print_comparison(human, comparison)
    return gate(comparison, fail_if_slower, err_console)
