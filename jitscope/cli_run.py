"""``jitscope run``: plan, run with live progress, save, report, export.

Order matters for "lose nothing": the database is opened and every export path checked
before the first cell runs; each cell is committed as it finishes (RecordedRun); exports are
written from whatever finished — even after a failure, Ctrl-C or SIGTERM — and before
anything is printed, so a terminal that went away cannot cost the files.

A hang-up is not a stop: SIGHUP, or a terminal whose writes fail (EIO), detaches the run in
place (jitscope.cli_streams): its output continues in the run's log, it finishes its sweep
and exits with its own code. An inherited SIG_IGN (``nohup``) stays ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from jitscope.cli_compare import compare_after_run, side_before_run
from jitscope.cli_streams import detach_on_hangup, terminal
from jitscope.cli_tables import choose_columns
from jitscope.core.columns import CLI_TABLE, Cell, headers, is_right, row_words
from jitscope.core.errors import UserError
from jitscope.core.labels import (
    cell_label,
    device_label,
    phase_word,
    resolve_label,
    result_label,
)
from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.paths import RunFiles
from jitscope.core.registry import Registry, load_registry
from jitscope.core.text import printable
from jitscope.core.units import fmt_seconds, fmt_size
from jitscope.plotkinds import PlotKind
from jitscope.results.export import ExportTargets
from jitscope.results.store import Store
from jitscope.results.summary import speedups
from jitscope.runner.events import (
    CellFinished,
    CellProgressed,
    RunWaited,
    WorkerReady,
    WorkerStarted,
)
from jitscope.runner.plan import Plan, Selection, build_plan
from jitscope.runner.recorded_run import RecordedRun
from jitscope.runner.signals import Interrupted, on_signals, pause_on_stop, stop_reason

STATUS_STYLE = {
    Status.OK: "green",
    Status.SKIPPED: "yellow",
    Status.FAILED: "bold red",
    Status.CRASHED: "bold red",
    Status.TIMEOUT: "bold red",
    Status.CANCELLED: "magenta",
}


def cell_title(result_or_spec: CellResult | CellSpec) -> str:
    spec = result_or_spec.spec if isinstance(result_or_spec, CellResult) else result_or_spec
    label = result_label(result_or_spec) if isinstance(result_or_spec, CellResult) else cell_label(spec)
    threads = f" threads={spec.threads}" if spec.threads is not None else ""
    return printable(f"{spec.workload} {label} {spec.dtype} size={fmt_size(spec.size)}{threads}")


def one_line(result: CellResult) -> Text:
    """A finished cell as one log line (printed as cells finish, also when not a TTY).
    Built from Text pieces, never markup: reasons come from workers and plugins."""
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
        text.append(f"  {printable(result.reason)}", style=style if result.status != Status.SKIPPED else "dim")
    return text


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (``kill``, a job scheduler) stop ``jitscope run`` alike
    (SIGHUP does not: a closed terminal detaches the run, see ``detach_on_hangup``).

    The first one while cells run raises :class:`Interrupted` in the main thread: the loop
    stops, the worker is killed, finished cells are kept. Every later one, and any that
    arrives once the exports are being written, is only remembered: the run's bookkeeping
    and its exports must not be cut short by a second Ctrl-C or a repeated SIGTERM. The exit
    code is 128 + the first signal. ``on_first(signum)`` is told of the first at once, before
    anything is raised: the cells it cuts are recorded as the exception unwinds.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_first: Callable[[int], None] | None = None) -> None:
        self.first: int | None = None
        self._raising = False
        self._on_first = on_first

    def __call__(self, signum: int) -> None:
        if self.first is None:
            self.first = signum
            if self._on_first is not None:
                self._on_first(signum)
        if self._raising:
            self._raising = False
            raise Interrupted(signum)

    def arm(self) -> None:
        """Cells are about to run: the first signal (or one already received) interrupts."""
        if self.first is not None:
            raise Interrupted(self.first)
        self._raising = True

    def hold(self) -> None:
        """From now on, signals are remembered, never raised."""
        self._raising = False


def check_baseline(baseline: str | None, registry: Registry, labels: Sequence[str]) -> str | None:
    """The label ``--baseline`` names, refused up front when no selected cell has it."""
    if baseline is None:
        return None
    defaults = {name: b.default_variant for name, b in registry.backends.items()}
    wanted = resolve_label(baseline, defaults)
    plain = sorted({label.split("@")[0] for label in labels})
    if wanted.split("@")[0] not in plain:
        raise UserError(f"--baseline {baseline!r} is not among the selected backends ({', '.join(plain)})")
    return wanted.split("@")[0]


@detach_on_hangup()  # from the first line: a hang-up while plugins load does not stop the run either
def execute_run(
    sel: Selection,
    files: Sequence[str],
    db_path: Path,
    *,
    csv: str | Path | None,
    json_path: str | Path | None,
    md: str | Path | None,
    baseline: str | None,
    label: str,
    plot: PlotKind | None,
    command: str,
    console: Console,
    err_console: Console,
    compare_to: str | None = None,
    fail_if_slower: float | None = None,
    allow_unstable: bool = False,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Plan, check every path, run with live progress, save each cell, export, report.
    ``on_start(run_id)``: called once the run is recorded (a detached run's daemon). The exit
    code is also the last line of the run's event record, for ``jitscope attach``.

    With an export to ``-`` (stdout), stdout carries that export alone and everything meant
    for a person goes to stderr."""
    registry, plan, baseline_label, reference, exports, human = prepare_run(
        sel, files, db_path, csv=csv, json_path=json_path, md=md, baseline=baseline, compare_to=compare_to,
        fail_if_slower=fail_if_slower, console=console, err_console=err_console)
    rec = RecordedRun(plan, registry, db_path, selection=sel, command=command, label=label, workload_files=files,
                      on_start=on_start, cancel_signal=CancelRequest.SIGNAL.name, exit_follows=True)
    return _drive(rec, exports, db_path, human, err_console, baseline_label, plot,
                  Gate(reference, fail_if_slower, allow_unstable))


@dataclasses.dataclass(frozen=True)
class Gate:
    """``--compare-to``'s side (None: no gate), ``--fail-if-slower`` and ``--allow-unstable``."""

    reference: Any = None
    fail_if_slower: float | None = None
    allow_unstable: bool = False


def _drive(rec: RecordedRun, exports: ExportTargets, db_path: Path, human: Console, err_console: Console,
           baseline_label: str | None, plot: PlotKind | None, gate: Gate) -> int:
    """Run ``rec`` to its end under the run's signals (SIGUSR1 cancels, the others stop),
    export, report, gate; the exit code also ends the run's event record."""
    code = 2  # what the record says if something below raises (a refused export: one line, exit 2)
    cancel = CancelRequest(rec)
    with on_signals(cancel, (CancelRequest.SIGNAL,)):  # until the exit line: a late SIGUSR1 must not kill us
        try:
            stops = StopSignals(on_first=lambda signum: rec.say_why(stop_reason(signum)))
            with on_signals(stops, StopSignals.SIGNALS), pause_on_stop(rec.supervisor):  # Ctrl-Z pauses the worker too
                code = _run_and_report(rec, stops, exports, db_path, human, baseline_label, plot)
            code = _after_run(rec, cancel, stops, code, gate.reference, gate.fail_if_slower, gate.allow_unstable,
                              human, err_console)
            return code
        finally:
            rec.record_exit(code)


def _after_run(rec: RecordedRun, cancel: CancelRequest, stops: StopSignals, code: int, reference: Any,
               fail_if_slower: float | None, allow_unstable: bool, human: Console, err_console: Console) -> int:
    """The exit code once the sweep is over: the comparison gate (not after a stop), or the
    code of a cancel by ``jitscope cancel``."""
    if reference is not None and code in (0, 1) and rec.run_id is not None and not cancel.requested:
        gated = compare_after_run(reference, rec.run_id, rec.ordered_results(), rec.environment, fail_if_slower,
                                  allow_unstable, human, err_console)
        code = max(code, gated)
    if cancel.requested and stops.first is None and rec.run_id is not None:
        code = cancel.exit_code(human)
    return code


def prepare_run(sel: Selection, files: Sequence[str], db_path: Path, *, csv: str | Path | None,
                json_path: str | Path | None, md: str | Path | None, baseline: str | None,
                compare_to: str | None, fail_if_slower: float | None, console: Console,
                err_console: Console) -> tuple[Registry, Plan, str | None, Any, ExportTargets, Console]:
    """Everything checked before a cell runs (names, sizes, baseline, export paths, the
    database, the run to compare to): a UserError (one line, exit 2) for bad input. ``jitscope
    run --detach`` calls it too, so a detached run refuses exactly what the foreground does,
    before anything starts."""
    registry = load_registry(files)
    exports = ExportTargets(csv=csv, json=json_path, md=md)
    human = err_console if exports.uses_stdout else console
    for problem in registry.problems:
        human.print(Text("warning: ", style="yellow") + Text(printable(problem)), soft_wrap=True)
    plan = build_plan(registry, sel)
    baseline_label = check_baseline(baseline, registry, [cell_label(c) for c in plan.cells])
    exports.check(db_path, inputs=[*files, *registry.workload_files])
    Store(db_path, writable=True).close()  # a foreign/corrupt/read-only database fails here, before any work
    reference = side_before_run(compare_to, fail_if_slower, db_path)
    return registry, plan, baseline_label, reference, exports, human


class CancelRequest:
    """SIGUSR1 means "cancelled by the user" (``jitscope cancel``, from any terminal): the
    sweep stops as the app's cancel stops it (the worker is killed, finished cells kept, the
    run recorded ``cancelled``), then exports and the report follow as usual. The cancel runs
    in a thread of its own: the supervisor takes a lock that the interrupted main thread may
    hold. Exit code 128 + SIGUSR1 (138): the run did not measure everything it was asked to,
    and it was stopped on purpose, not by a failing cell (1) or a stop signal (130, 143)."""

    SIGNAL = signal.SIGUSR1

    def __init__(self, rec: RecordedRun) -> None:
        self.rec = rec
        self.requested = False

    def __call__(self, signum: int) -> None:
        if not self.requested:
            self.requested = True
            threading.Thread(target=self.rec.cancel, name="jitscope-cancel", daemon=True).start()

    def exit_code(self, human: Console) -> int:
        with contextlib.suppress(OSError):
            human.print(Text("cancelled (jitscope cancel): what finished is saved", style="magenta"))
        return 128 + int(self.SIGNAL)


@detach_on_hangup()  # a resumed run in the foreground is a foreground run: a hang-up detaches it
def execute_resume(run: str, db_path: Path, *, csv: str | Path | None, json_path: str | Path | None,
                   md: str | Path | None, baseline: str | None, plot: PlotKind | None, console: Console,
                   err_console: Console, on_start: Callable[[int], None] | None = None) -> int:
    """``jitscope run --resume RUN``: the run's unfinished cells, run again into the same run
    (runner/resume.py says which, and refuses what cannot be resumed), with the same live
    progress, report and exports as a run; the report and exports hold the whole run.
    ``on_start(run_id)``: as for :func:`execute_run` (a detached resume's daemon)."""
    from jitscope.runner.resume import prepare

    exports = ExportTargets(csv=csv, json=json_path, md=md)
    human = err_console if exports.uses_stdout else console
    ready = prepare(db_path, run)
    if ready.registry is None or ready.continuation is None:
        if exports.paths:
            _export_stored(exports, db_path, ready.run_id, human)
        human.print(Text(f"run {ready.run_id} has no unfinished cells"))
        return 0
    for line in ready.warnings:
        human.print(Text("warning: ", style="yellow") + Text(printable(line)), soft_wrap=True)
    baseline_label = check_baseline(baseline, ready.registry, [cell_label(c) for c in ready.full_plan.cells])
    exports.check(db_path, inputs=list(ready.files))
    rec = RecordedRun(ready.plan, ready.registry, db_path, selection=ready.selection, command=ready.command,
                      resume=ready.continuation, cancel_signal=CancelRequest.SIGNAL.name, exit_follows=True,
                      on_start=on_start)
    return _drive(rec, exports, db_path, human, err_console, baseline_label, plot, Gate())


def _export_stored(exports: ExportTargets, db_path: Path, run_id: int, human: Console) -> None:
    """A run with nothing left to resume is still exported when asked: all its cells."""
    exports.check(db_path)
    with Store(db_path, create=False) as store:
        record = store.run(run_id)
        results = store.cells(run_id)
    run_info = {"id": run_id, "environment": record.environment, "command": record.command, "started": record.started}
    for where in exports.write(results, run_info):
        human.print(Text(printable(f"wrote {where}")))


def _run_and_report(rec: RecordedRun, stops: StopSignals, exports: ExportTargets, db_path: Path, human: Console,
                    baseline_label: str | None, plot: PlotKind | None) -> int:
    """The sweep with live progress, then exports, then the report (signals: StopSignals)."""
    failure = _sweep(rec, stops, human)
    if rec.run_id is None:  # stopped before the run was recorded: nothing ran, nothing to export
        return _nothing_ran(failure, stops, human)
    results = rec.ordered_results()
    written = _export_or_explain(rec, exports, results, failure, db_path)
    with contextlib.suppress(OSError):  # a reader that went away (a closed pipe) costs nothing more
        _print_outcome(human, rec, results, written, db_path, baseline_label, plot, stops.first)
    if stops.first is not None:
        return 128 + int(stops.first)
    return 0 if all(r.status.is_success for r in results) else 1


def _sweep(rec: RecordedRun, stops: StopSignals, human: Console) -> UserError | None:
    """Run every cell with live progress until done, a signal (``stops.first`` says which)
    or a store that refuses a cell (returned: the cells saved so far are kept). A stopped
    sweep kills its worker and is recorded interrupted."""
    failure: UserError | None = None
    gen = rec.events()
    try:
        try:
            stops.arm()
            _show_progress(_logging_to_its_file(gen, rec), len(rec.plan.cells), human)
        finally:
            stops.hold()  # a signal landing before this line still raises into the except below
    except Interrupted:
        pass  # stops.first says which signal
    except KeyboardInterrupt:  # SIGINT where our handler could not be installed
        stops.first = stops.first or signal.SIGINT
    except UserError as exc:  # the store could not take a cell (full disk...): stop, keep what is saved
        failure = exc
    if stops.first is not None or failure is not None:
        rec.cancel(interrupted=True, reason=stop_reason(stops.first) if stops.first is not None else None)
        gen.close()  # kills a worker still running; the run is recorded interrupted
    return failure


def _logging_to_its_file(events: Iterator[object], rec: RecordedRun) -> Iterator[object]:
    """The run's events; once the run is recorded (its first event), a terminal that goes
    away hands its output to the run's log (``RunFiles.log``, made only then)."""
    for event in events:
        if terminal.log is None and rec.run_id is not None:
            terminal.log_to(RunFiles.of(rec.db_path, rec.run_id).log)
        yield event


def _show_progress(events: Iterator[object], total: int, human: Console) -> None:
    """The progress bar (on a terminal) and a line per finished cell and started worker.
    The bar stops drawing once the terminal is gone (the log gets the lines only)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=human,
        transient=True,
        disable=not human.is_terminal,
    )
    with progress:
        task = progress.add_task("starting", total=total)
        for event in events:
            if terminal.gone and progress.live.is_started:
                progress.stop()
            _show_event(progress, task, event)


def _show_event(progress: Progress, task: TaskID, event: object) -> None:
    """One runner event on the progress bar, or as a line above it."""
    if isinstance(event, CellFinished):
        progress.advance(task)
        progress.console.print(one_line(event.result), soft_wrap=True)
    elif isinstance(event, CellProgressed):
        pct = f" {event.fraction:.0%}" if event.phase.value == "measuring" else ""
        progress.update(task, description=f"{cell_title(event.spec)} {phase_word(event.phase)}{pct}")
    elif isinstance(event, WorkerStarted):
        progress.update(task, description=f"starting {event.backend} worker ({event.device})")
    elif isinstance(event, WorkerReady):
        progress.console.print(Text(worker_line(event.backend, event.device, event.info, event.threads), style="dim"))
    elif isinstance(event, RunWaited):
        progress.console.print(Text(printable(event.message), style="yellow"))


def _nothing_ran(failure: UserError | None, stops: StopSignals, human: Console) -> int:
    """Stopped before the run was recorded: the store's refusal, else the signal's exit code."""
    if failure is not None:
        raise failure
    with contextlib.suppress(OSError):
        human.print(Text("interrupted before any cell ran; nothing was saved", style="magenta"))
    return 128 + int(stops.first or signal.SIGINT)


def _export_or_explain(rec: RecordedRun, exports: ExportTargets, results: Sequence[CellResult],
                       failure: UserError | None, db_path: Path) -> list[Path]:
    """Write the exports first (a closed terminal must not cost the files); after a refused
    cell or export, one UserError that says what was kept and where."""
    written: list[Path] = []
    export_error: UserError | None = None
    try:
        written = exports.write(results, {**rec.run_record(), "started": ""})
    except UserError as exc:
        export_error = exc
    if failure is not None or export_error is not None:
        raise UserError(_what_was_kept(rec, failure, export_error, written, db_path))
    return written


def _print_outcome(human: Console, rec: RecordedRun, results: Sequence[CellResult], written: list[Path],
                   db_path: Path, baseline_label: str | None, plot: PlotKind | None, signum: int | None) -> None:
    """The table (and plots, unless a signal stopped the run), where the exports went, the
    count of each status, where the run is saved, and which signal stopped it."""
    if results:
        print_report(human, results, baseline_label, plot if signum is None else None, rec.registry)
    for path in written:
        human.print(Text(printable(f"wrote {path}")))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no cells"
    human.print(Text(printable(f"{summary}; saved as run {rec.run_id} in {db_path}")))
    if signum is not None:
        human.print(Text(f"interrupted by {signal.Signals(signum).name}: what finished is saved", style="magenta"))


def _what_was_kept(rec: RecordedRun, failure: UserError | None, export_error: UserError | None,
                   written: list[Path], db_path: Path) -> str:
    """The one line after a run the disk (or a path) refused: why, how far the sweep really
    got, which cells are in the database, and where every measured cell it did not take is
    (the export, else a recovery file named here)."""
    total = len(rec.plan.cells)
    saved = [r for r in rec.results.values() if r.status != Status.CANCELLED]
    parts = []
    if failure is not None:
        parts.append(f"{failure}; the sweep stopped after {rec.finished_count} of {total} cells")
    parts.append(f"{len(saved)} measured cells are saved as run {rec.run_id} in {db_path}")
    if export_error is not None:
        parts.append(str(export_error))
    unsaved = rec.unsaved()
    if unsaved:
        names = ", ".join(cell_title(r) for r in unsaved)
        if written:
            where = " and ".join(map(str, written))
        else:
            recovery = write_recovery(rec.ordered_results(), rec.run_record())
            where = str(recovery) if recovery else "nowhere: no folder would take a recovery file"
        parts.append(f"not saved in the database but measured: {names}; written to {where}")
    elif written:
        parts.append(f"written to {', '.join(map(str, written))}")
    elif saved:
        parts.append(f"`jitscope export {rec.run_id} --db {db_path} --csv PATH` writes them elsewhere")
    return "; ".join(parts)


def write_recovery(results: Sequence[CellResult], run: dict[str, Any]) -> Path | None:
    """Every measured cell as CSV in the first folder that takes it (the temp dir, jitscope's
    own folder, home, the current folder): a new file of our own, never through someone
    else's name (mkstemp)."""
    from jitscope.core.paths import data_dir
    from jitscope.results.export import rows_for, to_csv

    text = to_csv(rows_for(results, run.get("id"), str(run.get("environment", {}).get("host", ""))))
    for folder in (lambda: Path(tempfile.gettempdir()), data_dir, Path.home, Path.cwd):
        try:
            fd, name = tempfile.mkstemp(prefix=f"jitscope-run-{run.get('id')}-recovered-", suffix=".csv", dir=folder())
        except (OSError, UserError):
            continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(name)
            continue
        return Path(name)
    return None


def worker_line(backend: str, device: str, info: dict[str, Any], threads: int | None = None) -> str:
    """``numba 0.61.0 ready on cpu with 2 threads; start-up 0.47 s; harness floor 85ns``
    (start-up and floor as the worker measured them; the thread cap where one was set)."""
    shown = device_label(device, device in (info.get("simulated_devices") or ()))
    text = f"{backend} {info.get('version', '?')} ready on {shown}" + (f" with {threads} threads" if threads else "")
    startup = info.get("startup_s")
    if isinstance(startup, (int, float)):
        text += f"; start-up {fmt_seconds(float(startup))}"
    floor = (info.get("harness_floor") or {}).get("resident_s")
    if isinstance(floor, (int, float)):
        text += f"; harness floor {fmt_seconds(float(floor))}"  # an empty kernel through the timing loop
    return printable(text)


def _notes_and_cells(results: Sequence[CellResult], ups: Sequence[float | None]) -> tuple[list[str], list[Cell]]:
    """Each cell's reason and note, numbered, for under the table; the cells point at them."""
    notes: list[str] = []
    cells: list[Cell] = []
    for r, up in zip(results, ups, strict=True):
        note_parts = [printable(p) for p in (r.reason, str(r.info.get("note", ""))) if p]
        number = None
        if note_parts:
            notes.append(f"{cell_title(r)}: {'; '.join(note_parts)}")
            number = len(notes)
        cells.append(Cell(r, speedup=up, note=number))
    return notes, cells


def report_table(results: Sequence[CellResult], baseline: str | None, width: int = 120) -> tuple[Table, list[str]]:
    """The summary table, plus numbered notes (reasons, single-sample and stability flags)
    printed under it so the table itself stays narrow enough for the terminal. Its columns
    are the CLI view of jitscope.core.columns: the answer always, the rest while they fit."""
    labels = [cell_label(r.spec) for r in results]
    ups = speedups(results, baseline, [label.split("@")[0] for label in labels])
    notes, cells = _notes_and_cells(results, ups)
    all_headers = headers(CLI_TABLE)
    rows = [dict(zip(all_headers, row_words(CLI_TABLE, cell), strict=True)) for cell in cells]
    chosen = choose_columns(rows, headers(CLI_TABLE, CLI_TABLE.answer_for(results)), headers(CLI_TABLE, CLI_TABLE.optional), width)
    columns = [c for c in all_headers if c in chosen]
    title = f"speed-up vs {baseline or 'the fastest'}; ✓ within tolerance; ~ unstable (see README)"
    table = Table(title=Text(title), title_justify="left", box=None if width < 110 else box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for col in columns:
        table.add_column(col, justify="right" if is_right(col, CLI_TABLE) else "left", overflow="fold")
    for r, row in zip(results, rows, strict=True):
        table.add_row(*(Text(row[col], style=STATUS_STYLE[r.status] if col == "status" else "") for col in columns))
    return table, notes


def print_report(console: Console, results: Sequence[CellResult], baseline: str | None, plot: PlotKind | None,
                 registry: Registry | None = None) -> None:
    """The table, its notes, then one ``plot`` chart per workload (None: no plot)."""
    table, notes = report_table(results, baseline, console.width)
    console.print(table)
    for i, note in enumerate(notes, start=1):
        console.print(Text(f"[{i}] ", style="dim") + Text(note), soft_wrap=True)
    if plot is not None:
        from jitscope.cli_plots import print_plots

        print_plots(console, results, plot, baseline, registry)
