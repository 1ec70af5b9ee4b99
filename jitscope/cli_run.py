"""``jitscope run``: plan, run with live progress, save, report, export.

Order matters for "lose nothing": the database is opened and every export path checked
before the first cell runs; each cell is committed as it finishes (RecordedRun); exports are
written from whatever finished, even after a failure or Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, Status
from jitscope.core.registry import load_registry
from jitscope.plots import fmt_seconds, fmt_size, render, series_label, time_series
from jitscope.results.export import check_writable, write_exports
from jitscope.results.store import Store
from jitscope.results.summary import speedups
from jitscope.runner.events import (
    CellFinished,
    CellProgressed,
    RunWaited,
    WorkerReady,
    WorkerStarted,
)
from jitscope.runner.plan import Selection, build_plan
from jitscope.runner.session import RecordedRun

STATUS_STYLE = {
    Status.OK: "green",
    Status.SKIPPED: "yellow",
    Status.FAILED: "bold red",
    Status.CRASHED: "bold red",
    Status.TIMEOUT: "bold red",
    Status.CANCELLED: "magenta",
}


def cell_title(result_or_spec: CellResult | object) -> str:
    spec = getattr(result_or_spec, "spec", result_or_spec)
    variant = "" if spec.variant == "default" else f":{spec.variant}"
    device = "" if spec.device == "cpu" else f"@{spec.device}"
    return f"{spec.workload} {spec.backend}{variant}{device} {spec.dtype} size={spec.size}"


def one_line(result: CellResult) -> Text:
    """A finished cell as one log line (printed as cells finish, also when not a TTY)."""
    style = STATUS_STYLE[result.status]
    text = Text()
    text.append(f"{result.status.value:>9} ", style=style)
    text.append(cell_title(result))
    if result.status == Status.OK and result.stats:
        text.append(f"  median {fmt_seconds(result.stats.median)}")
        if result.compile_s is not None:
            text.append(f"  compile {fmt_seconds(result.compile_s)}", style="dim")
        if result.accuracy:
            text.append(f"  err {result.accuracy.error:.2g}", style="dim")
    if result.reason:
        text.append(f"  {result.reason}", style=style if result.status != Status.SKIPPED else "dim")
    return text


def execute_run(
    sel: Selection,
    files: Sequence[str],
    db_path: Path,
    *,
    csv: Path | None,
    json_path: Path | None,
    md: Path | None,
    baseline: str | None,
    label: str,
    plot: bool,
    command: str,
    console: Console,
) -> int:
    registry = load_registry(files)
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/] {problem}", soft_wrap=True)
    plan = build_plan(registry, sel)
    for path in (csv, json_path, md):
        if path:
            check_writable(path)
    Store(db_path).close()  # a foreign/unreadable database fails here, before any work

    rec = RecordedRun(plan, registry, db_path, selection=sel, command=command, label=label)
    total = len(plan.cells)
    interrupted = False
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    gen = rec.events()
    with progress:
        task = progress.add_task("starting", total=total)
        try:
            for event in gen:
                if isinstance(event, CellFinished):
                    progress.advance(task)
                    progress.console.print(one_line(event.result), soft_wrap=True)
                elif isinstance(event, CellProgressed):
                    pct = f" {event.fraction:.0%}" if event.phase.value == "measuring" else ""
                    progress.update(task, description=f"{cell_title(event.spec)} [dim]{event.phase.value}{pct}[/]")
                elif isinstance(event, WorkerStarted):
                    progress.update(task, description=f"starting {event.backend} worker ({event.device})")
                elif isinstance(event, WorkerReady):
                    version = event.info.get("version", "?")
                    progress.console.print(f"[dim]{event.backend} {version} ready on {event.device}[/]")
                elif isinstance(event, RunWaited):
                    progress.console.print(f"[yellow]{event.message}[/]")
        except KeyboardInterrupt:
            interrupted = True
            rec.cancel()
            gen.close()
    results = rec.ordered_results()
    if results:
        print_report(console, results, baseline, plot)
    try:
        written = write_exports(results, {**rec.run_record(), "started": ""}, csv_path=csv, json_path=json_path, md_path=md)
    except UserError as exc:  # e.g. the disk filled up during the run: the store has it all
        raise UserError(f"{exc}; the results are saved as run {rec.run_id}: `jitscope export {rec.run_id} --db {db_path} ...`") from None
    for path in written:
        console.print(f"wrote {path}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no cells"
    console.print(f"{summary}; saved as run {rec.run_id} in {db_path}")
    if interrupted:
        console.print("[magenta]interrupted: what finished is saved[/]")
        return 130
    return 0 if all(r.status.is_success for r in results) else 1


def report_table(results: Sequence[CellResult], baseline: str | None, width: int = 120) -> tuple[Table, list[str]]:
    """The summary table, plus numbered notes (reasons, single-sample and stability flags)
    printed under it so the table itself stays narrow enough for an 80-column terminal."""
    # One device per CLI run, so --baseline names a backend[:variant] without '@device'.
    ups = speedups(results, baseline, [series_label(r).split('@')[0] for r in results])
    dtypes = {r.spec.dtype for r in results}
    devices = {r.spec.device for r in results}
    table = Table(
        title=f"speed-up vs {baseline or 'the fastest'}; error ✓ within tolerance; ~ unstable (IQR > 10% of median)",
        title_justify="left",
        box=None if width < 110 else box.SIMPLE_HEAD,
        pad_edge=False,
    )
    compact = width < 110  # an 80-column terminal: keep the columns that answer the question
    table.add_column("workload", no_wrap=True)
    table.add_column("backend", no_wrap=True)
    if len(devices) > 1:
        table.add_column("device", no_wrap=True)
    if len(dtypes) > 1:
        table.add_column("dtype", no_wrap=True)
    columns = ("size", "status", "median", "±IQR", "compile", "GFLOP/s", "error", "speed-up")
    for col in columns:
        if compact and col in ("±IQR", "GFLOP/s"):
            continue
        table.add_column(col, justify="left" if col == "status" else "right", no_wrap=True)
    notes: list[str] = []
    for r, up in zip(results, ups, strict=True):
        s = r.spec
        variant = s.backend if s.variant == "default" else f"{s.backend}:{s.variant}"
        row: list[str | Text] = [s.workload, variant]
        if len(devices) > 1:
            row.append(s.device)
        if len(dtypes) > 1:
            row.append(s.dtype)
        err = ""
        if r.accuracy:
            err = f"{r.accuracy.error:.2g} {'✓' if r.accuracy.accurate else '✗'}"
        note_parts = [p for p in (r.reason, str(r.info.get("note", ""))) if p]
        status = Text(r.status.value, style=STATUS_STYLE[r.status])
        if note_parts:
            notes.append(f"{cell_title(r)}: {'; '.join(note_parts)}")
            status.append(f"[{len(notes)}]", style="dim")
        median = ""
        if r.stats:
            median = fmt_seconds(r.stats.median) + ("~" if r.stats.unstable else "")
        cells: dict[str, str | Text] = {
            "size": fmt_size(s.size),
            "status": status,
            "median": median,
            "±IQR": fmt_seconds(r.stats.iqr) if r.stats else "",
            "compile": fmt_seconds(r.compile_s) if r.compile_s is not None else "",
            "GFLOP/s": f"{r.gflops:.3g}" if r.gflops else "",
            "error": err,
            "speed-up": f"{up:.2f}x" if up else "",
        }
        row += [cells[c] for c in columns if not (compact and c in ("±IQR", "GFLOP/s"))]
        table.add_row(*row)
    return table, notes


def print_report(console: Console, results: Sequence[CellResult], baseline: str | None, plot: bool) -> None:
    table, notes = report_table(results, baseline, console.width)
    console.print(table)
    for i, note in enumerate(notes, start=1):
        console.print(f"[dim][{i}][/] {note}", soft_wrap=True, highlight=False, markup=True)
    if not plot:
        return
    width = min(max(console.width, 40), 120)
    for workload, series in time_series(results).items():
        if not any(len(s.x) for s in series):
            continue
        chart = render(series, title=f"{workload}: median time per call", xlabel="size", ylabel="seconds",
                       width=width, height=18, yfmt=fmt_seconds, color=console.is_terminal and not console.no_color)
        console.print(Text.from_ansi(chart))
