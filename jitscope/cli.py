"""The ``jitscope`` command (Typer). ``jitscope`` alone opens the terminal app; the
subcommands run the same engine headless, for scripts, CI and SSH sessions.

Exit codes: 0 every cell ok or skipped with a reason; 1 some cell failed, crashed or timed
out (everything else still saved and exported); 2 bad arguments or unusable files; 130 when
interrupted (what finished is saved).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.text import Text

from jitscope.cli_compare import AllowUnstableOpt, CompareToOpt, FailIfSlowerOpt, compare
from jitscope.cli_select import select_sizes, select_workloads
from jitscope.cli_streams import GuardedStream, detach_on_hangup, terminal
from jitscope.core.errors import UserError
from jitscope.core.model import DEVICES, DTYPES
from jitscope.core.parsing import parse_backend_specs, parse_choices, parse_params, parse_threads
from jitscope.core.paths import DB_ENV, default_db_path
from jitscope.core.text import printable
from jitscope.core.version import __version__
from jitscope.plotkinds import DEFAULT_KIND, PlotKind, kind_named, kinds_help
from jitscope.runner.plan import (
    DEFAULT_BUDGET_S,
    DEFAULT_SEED,
    DEFAULT_TIMEOUT_S,
    Selection,
    check_options,
    check_processes,
)

# What a symbol the terminal's encoding cannot show becomes (PYTHONIOENCODING=ascii, a C
# locale): a readable ASCII stand-in, never a UnicodeEncodeError, and never one "?" for both
# ✓ and ✗ (that would erase what was observed).
_ASCII_STAND_INS = {"✓": "ok", "✗": "X", "±": "+-", "—": "-", "–": "-", "…": "...", "µ": "u", "×": "x", "→": "->"}


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_ASCII_STAND_INS.get(ch, "?") for ch in bad), exc.end


codecs.register_error("jitscope-stand-in", _stand_in)


def _usable_stdio() -> tuple[bool, bool]:
    """Make standard output and error safe to use, whatever the caller handed us; returns
    which of them was closed.

    A closed stream (``jitscope history >&-``) is opened on /dev/null, on its own descriptor:
    otherwise the next file we open (the database!) would take descriptor 1 or 2 and our
    printing would land in it. A stream whose encoding cannot show a symbol we print gets
    ASCII stand-ins (see ``_ASCII_STAND_INS``)."""
    closed = []
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name)
        closed.append(stream is None)
        if stream is None:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            stream = open(fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as we do
            setattr(sys, name, stream)
        if not (stream.encoding or "").lower().replace("-", "").startswith("utf"):
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(errors="jitscope-stand-in")
    return closed[0], closed[1]


def _width(stream: TextIO) -> int:
    """The width to draw for: ``COLUMNS``, else the terminal's own, else 160 for a pipe (CI
    logs, files: tables are not squeezed to 80 columns). A ``COLUMNS`` that is not a sensible
    number ("abc", "0") is ignored, never a crash or an empty screen."""
    text = os.environ.get("COLUMNS", "").strip()
    value = int(text) if text.isdigit() else 0
    if value > 0:
        return min(value, 10_000)
    if stream.isatty():
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except OSError:
            columns = 0
        return columns if columns > 0 else 80  # a terminal that says 0 wide (no size set): 80
    return 160


# markup=False: a plain string printed here is shown as it is. Much of what the CLI prints
# came from a user, a plugin or a worker (paths, labels, reasons, descriptions), and Rich
# would take ``[/]`` in it for markup and crash; styling goes through ``rich.text.Text``.
STDOUT_CLOSED, STDERR_CLOSED = _usable_stdio()
stdout_guard = GuardedStream(sys.stdout, 1, terminal)  # a terminal that goes away: see cli_streams
stderr_guard = GuardedStream(sys.stderr, 2, terminal)
console = Console(file=stdout_guard, highlight=False, markup=False, width=_width(sys.stdout))  # type: ignore[arg-type]
err_console = Console(file=stderr_guard, highlight=False, markup=False, width=_width(sys.stderr))  # type: ignore[arg-type]

app = typer.Typer(
    name="jitscope",
    help=(
        "Which Python numerical backend is fastest for this workload, on this machine, "
        "and is its answer still right?\n\n"
        "Run [bold]jitscope[/bold] alone for the terminal app, or [bold]jitscope run[/bold] headless:\n\n"
        "  jitscope run -w linreg -w mcpi -b python,numpy -s 2,10,100 --csv out.csv"
    ),
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=False,
)

# ---- shared option declarations -----------------------------------------------------------
WorkloadOpt = Annotated[
    list[str] | None,
    typer.Option("-w", "--workload", help="Workload name (linreg, mcpi, lu, nodes, or a plugin's), a workload file, or FILE.py:NAME for one of its workloads. Repeat or comma-separate."),
]
BackendOpt = Annotated[
    list[str] | None,
    typer.Option("-b", "--backend", help="Backend[:variant], comma-separated or repeated: -b numpy,numba:parallel. NAME:* runs every variant."),
]
SizeOpt = Annotated[
    list[str] | None,
    typer.Option("-s", "--size", help="Problem sizes or preset names, e.g. -s 2,10,100, -s 1e6, -s S,M; -s NAME=1e6,1e7 for one workload only. Default: each workload's default sizes."),
]
DeviceOpt = Annotated[list[str] | None, typer.Option("--device", metavar="DEV[,DEV]", help="cpu or cuda; several, comma-separated or repeated (--device cpu,cuda), make a cell each. Default: cpu.")]
DtypeOpt = Annotated[list[str] | None, typer.Option("--dtype", metavar="DTYPE[,DTYPE]", help="float64 or float32; both (--dtype float32,float64) make a cell each. Default: float64.")]
BudgetOpt = Annotated[float, typer.Option("--budget", help="Seconds of steady-state sampling per cell (finite, above 0).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds before a cell is killed and marked timeout (finite, above 0).")]
ThreadsOpt = Annotated[list[str] | None, typer.Option("--threads", metavar="N[,N...]", help="Threads for BLAS/OpenMP/Numba/torch... (set before any import in the worker); several (--threads 1,2,4) make a cell each, each count in a worker of its own. Default: the libraries' own choice.")]
ParamOpt = Annotated[list[str] | None, typer.Option("-p", "--param", help="Workload parameter key=value, e.g. -p epochs=100. Repeatable.")]
DbOpt = Annotated[Path | None, typer.Option("--db", help=f"Results database (default: per-user data dir, or ${DB_ENV}).")]
# One option per meaning: the kind to draw, or none. A bare ``--plot`` (the old flag) still
# means the default kind: see _bare_plot_means_default.
PlotOpt = Annotated[str, typer.Option("--plot", metavar="KIND", help=f"The plot after the table, one per workload: {kinds_help()}.")]
NoPlotOpt = Annotated[bool, typer.Option("--no-plot", help="Draw no plot (wins over --plot).")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    """One line on stderr. The message often quotes user input (``-w '[/]'``), so it is
    printed as plain text, never as markup, and without terminal control characters."""
    _print_error(message)
    return typer.Exit(code)


def _print_error(message: str) -> None:
    err_console.print(Text("jitscope: error: ", style="bold red") + Text(printable(message)), soft_wrap=True)


def _need_stdout(what: str) -> None:
    """A command whose product is what it prints refuses to run with standard output closed
    (``jitscope history >&-``): exit 0 with the output gone would tell a script it worked."""
    if STDOUT_CLOSED:
        raise _fail(f"standard output is closed; {what} has nowhere to go (redirect it: > file)")


def _warn_damaged(lines: list[str]) -> None:
    """Rows of the database that could not be read and were left out: one line each."""
    for line in lines:
        err_console.print(Text("warning: ", style="yellow") + Text(printable(line)), soft_wrap=True)


def _plot_kind(name: str, off: bool) -> PlotKind | None:
    """The kind ``--plot`` names (checked even with ``--no-plot``), None with ``--no-plot``."""
    try:
        kind = kind_named(name)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return None if off else kind


def _db(db: Path | None) -> Path:
    return db.expanduser() if db else default_db_path()


def _fresh_default(db: Path | None) -> bool:
    """A first look on a new machine: no ``--db`` and the default database not made yet is
    not an error but "no runs yet" and how to make one (True: said so). A ``--db`` path that
    does not exist stays an error: that is a typo, not a fresh start."""
    if db is not None or _db(None).exists():
        return False
    console.print(Text(printable(f"no runs yet (they will be saved in {_db(None)}): make one with "
                                 "`jitscope run -w mcpi -b numpy`, or open the app with `jitscope`")),
                  soft_wrap=True)  # never cut the command in two: it is meant to be copied
    return True


def _selection(
    workload: list[str] | None, backend: list[str] | None, size: list[str] | None, device: list[str] | None,
    dtype: list[str] | None, budget: float, timeout: float, threads: list[str] | None, param: list[str] | None,
    seed: int = DEFAULT_SEED, processes: int | None = None,
) -> tuple[Selection, list[str]]:
    # What Typer's types let through but no run can use: refused before any file is loaded.
    counts = parse_threads(threads or [], "--threads")
    check_options(budget_s=budget, timeout_s=timeout, threads=counts, seed=seed, flag="--")
    check_processes(processes, flag="--")
    names, files = select_workloads(workload)
    sizes, size_requests = select_sizes(size)
    sel = Selection(
        workloads=names,
        backends=parse_backend_specs(backend or []),
        sizes=sizes,
        size_requests=size_requests,
        device=parse_choices(device or [], DEVICES, "--device"),
        dtype=parse_choices(dtype or [], DTYPES, "--dtype"),
        budget_s=budget,
        timeout_s=timeout,
        threads=list(counts),
        params=parse_params(param or []),
        seed=seed,
        processes=processes,
    )
    return sel, files


# ---- the app (no subcommand) ------------------------------------------------------------------
@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    workload: WorkloadOpt = None,
    backend: BackendOpt = None,
    size: SizeOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    budget: BudgetOpt = DEFAULT_BUDGET_S,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_S,
    threads: ThreadsOpt = None,
    param: ParamOpt = None,
    db: DbOpt = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Open the terminal app; the options preselect its setup screen."""
    if version:
        console.print(f"jitscope {__version__}")
        raise typer.Exit(0)
    from jitscope.runner.workdirs import sweep_stale

    sweep_stale()  # worker folders a killed jitscope could not remove
    if ctx.invoked_subcommand is not None:
        _guard_subcommand(ctx)
        return
    try:
        sel, files = _selection(workload, backend, size, device, dtype, budget, timeout, threads, param)
        _check_preselection(sel, files, _db(db))
    except UserError as exc:
        raise _fail(str(exc)) from None
    try:
        from jitscope.ui.app import run_app
    except ImportError as exc:  # pragma: no cover - only while the UI is missing
        err_console.print(f"the terminal app is not available ({exc}); use `jitscope run` (see --help)")
        console.print(ctx.get_help())
        raise typer.Exit(2) from None
    preselect = sel if (sel.workloads or sel.backends or sel.sizes) else None
    raise typer.Exit(run_app(preselect, _db(db), files))


def _guard_subcommand(ctx: typer.Context) -> None:
    """Ctrl-C or SIGTERM before a run's cells start (loading plugins, planning), or a stop
    signal in another command: stop there, exit 128 + signal (see main), and never let a
    plugin loader take the Ctrl-C for the plugin's own KeyboardInterrupt. `jitscope run`
    handles them itself while cells run; for it SIGHUP is no stop at all, from here on: a
    hang-up detaches the run (cli_streams). The app has its own handling."""
    from jitscope.runner.signals import STOP_SIGNALS, on_signals, raise_interrupted

    run = ctx.invoked_subcommand == "run"
    stops = tuple(s for s in STOP_SIGNALS if not (run and s == signal.SIGHUP))
    ctx.with_resource(on_signals(raise_interrupted, (signal.SIGINT, *stops)))
    if run:
        ctx.with_resource(detach_on_hangup())


def _check_preselection(sel: Selection, files: list[str], db_path: Path) -> None:
    """Names and files the user typed are checked now (one line, exit 2); a bare `jitscope`
    has nothing to check and the app loads the registry after its first frame, so the
    command's first frame costs no NumPy, backends or entry points. A foreign or unreadable
    database is refused before the UI starts."""
    from jitscope.results.store import Store

    if files or sel.workloads or sel.backends:
        from jitscope.core.registry import load_registry

        registry = load_registry(files)
        for name in sel.workloads:
            registry.workload(name)
        for name, _variant in sel.backends:
            registry.backend(name)
    Store(db_path).close()


# ---- run --------------------------------------------------------------------------------------
# What may come with --resume: where the run is, and how to show and export it; everything
# else would change the run's selection, which a resumed run keeps.
_RESUME_ALLOWS = frozenset({"resume", "db", "csv", "json_path", "md", "baseline", "plot", "no_plot", "detach"})


def _refuse_with_resume(ctx: typer.Context) -> None:
    """One line naming the first option that cannot be given with ``--resume``."""
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)  # by name: Typer may bring its own Click's enum
        if name not in _RESUME_ALLOWS and source is not None and source.name != "DEFAULT":
            typed = "/".join(getattr(param, "opts", [name]))
            raise UserError(f"{typed} cannot be given with --resume: a resumed run keeps its own selection "
                            "(with --resume: --db, --csv, --json, --md, --baseline, --plot, --no-plot, --detach)")


ProcessesOpt = Annotated[int | None, typer.Option("--processes", help=(
    "Worker processes per cell (1 to 100): the cells run in this many rounds, a fresh worker per backend each "
    "round, and --budget is shared between them. Default: 3 when --budget is 0.3 s or more, else 1. The "
    "interval then covers what changes from process to process."))]
DetachOpt = Annotated[bool, typer.Option("--detach", help="Run in the background, in no terminal (its output in a log): print the run id and return at once. Follow it with `jitscope attach`, stop it with `jitscope cancel`.")]
ResumeOpt = Annotated[str | None, typer.Option("--resume", metavar="RUN", help=(
    "Run again only the cells of run RUN (an id or 'latest') that did not finish: cancelled, interrupted, "
    "timeout, crashed, never started. They join the same run, with its own selection (no -w, -b, -s... "
    "with it). ok, skipped and failed cells are kept: failed is a final answer (the kernel raised or "
    "answered wrong). Exports hold the whole run."))]


@app.command()
def run(
    ctx: typer.Context,
    workload: WorkloadOpt = None,
    backend: BackendOpt = None,
    size: SizeOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    budget: BudgetOpt = DEFAULT_BUDGET_S,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_S,
    threads: ThreadsOpt = None,
    param: ParamOpt = None,
    csv: Annotated[str | None, typer.Option("--csv", help="Write the results as tidy CSV (one row per cell); '-' for stdout (then stdout holds only the CSV).")] = None,
    json_path: Annotated[str | None, typer.Option("--json", help="Write the results, raw samples and environment as JSON; '-' for stdout.")] = None,
    md: Annotated[str | None, typer.Option("--md", help="Write a Markdown table; '-' for stdout.")] = None,
    db: DbOpt = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Speed-ups relative to this backend[:variant] (default: the fastest cell).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for every input.")] = DEFAULT_SEED,
    processes: ProcessesOpt = None,
    label: Annotated[str, typer.Option("--label", help="A label stored with the run (shown in history).")] = "",
    plot: PlotOpt = DEFAULT_KIND.name,
    no_plot: NoPlotOpt = False,
    compare_to: CompareToOpt = None,
    fail_if_slower: FailIfSlowerOpt = None,
    allow_unstable: AllowUnstableOpt = False,
    detach: DetachOpt = False,
    resume: ResumeOpt = None,
) -> None:
    """Measure workloads x backends x sizes, save every cell, print a table and a plot.

    Example: [bold]jitscope run -w linreg -w mcpi -w lu -w nodes -b python,numpy[/bold]
    """
    from jitscope.cli_run import execute_run

    if STDOUT_CLOSED and "-" in (csv, json_path, md):
        _need_stdout("the export to '-'")
    try:
        kind = _plot_kind(plot, no_plot)
        if resume is not None:
            _refuse_with_resume(ctx)
            raise typer.Exit(_resume(resume, _db(db), detach, csv=csv, json_path=json_path, md=md,
                                     baseline=baseline, plot=kind))
        sel, files = _selection(workload, backend, size, device, dtype, budget, timeout, threads, param, seed,
                                processes)
        command = shlex.join(["jitscope", *sys.argv[1:]])
        if detach:
            raise typer.Exit(_detached(sel, files, dict(
                db_path=str(_db(db).absolute()), command=command, label=label, csv=csv, json_path=json_path, md=md,
                baseline=baseline, plot=kind.name if kind else None, compare_to=compare_to,
                fail_if_slower=fail_if_slower, allow_unstable=allow_unstable)))
        code = execute_run(
            sel, files, _db(db), csv=csv, json_path=json_path, md=md, baseline=baseline, label=label, plot=kind,
            command=command, console=console, err_console=err_console,
            compare_to=compare_to, fail_if_slower=fail_if_slower, allow_unstable=allow_unstable,
        )
    except UserError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


def _resume(resume: str, db_path: Path, detach: bool, *, csv: str | None, json_path: str | None, md: str | None,
            baseline: str | None, plot: PlotKind | None) -> int:
    """``run --resume RUN`` here, or (``--detach``) in a run of its own in the background."""
    if detach:
        from jitscope.cli_follow import start_detached_resume

        return start_detached_resume(resume, db_path, csv=csv, json_path=json_path, md=md, baseline=baseline,
                                     plot=plot, console=console, err_console=err_console)
    from jitscope.cli_run import execute_resume

    return execute_resume(resume, db_path, csv=csv, json_path=json_path, md=md, baseline=baseline, plot=plot,
                          console=console, err_console=err_console)


def _detached(sel: Selection, files: list[str], options: dict[str, Any]) -> int:
    """``run --detach``: the same checks as a run here, then the run in the background
    (``options``: the rest of the DetachJob, as ``jitscope run`` was given it)."""
    from jitscope.cli_follow import start_detached
    from jitscope.runner.detach import DetachJob
    from jitscope.runner.recorded_run import selection_record

    job = DetachJob(selection=selection_record(sel, workload_files=files), **options)
    return start_detached(job, sel, files, console, err_console)


# ---- listings -------------------------------------------------------------------------------
@app.command()
def backends(
    names: Annotated[list[str] | None, typer.Argument(help="Only these backends (e.g. `jitscope backends numba torch`): only they are probed.", show_default=False)] = None,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Start each installed backend in a worker to report its runtime version and devices (slower).")] = True,
    workload_file: Annotated[list[str] | None, typer.Option("-w", "--workload-file", help="Also load this workload/backend plugin file.")] = None,
) -> None:
    """Every backend, installed or not: version, devices, variants, and why it is unavailable."""
    _need_stdout("the list")
    from jitscope.cli_info import print_backends

    try:
        print_backends(console, probe=probe, files=workload_file or [], only=names or [])
    except UserError as exc:
        raise _fail(str(exc)) from None


@app.command()
def workloads(
    matrix: Annotated[bool, typer.Option("--matrix", help="Print the workload x backend:variant coverage table.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="With --matrix: print it as a Markdown table (for the README).")] = False,
    workload_file: Annotated[list[str] | None, typer.Option("-w", "--workload-file", help="Also load this workload plugin file.")] = None,
) -> None:
    """Every workload: what size means, default sizes, parameters, and who implements it."""
    _need_stdout("the list")
    from jitscope.cli_info import print_matrix, print_workloads

    try:
        if matrix:
            print_matrix(console, markdown=markdown, files=workload_file or [])
        else:
            print_workloads(console, files=workload_file or [])
    except UserError as exc:
        raise _fail(str(exc)) from None


@app.command()
def history(
    db: DbOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many runs.", min=1)] = 20,
) -> None:
    """Past runs, newest first."""
    _need_stdout("the history")
    from jitscope.cli_info import print_history

    if _fresh_default(db):
        return
    try:
        _warn_damaged(print_history(console, _db(db), limit))
    except UserError as exc:
        raise _fail(str(exc)) from None


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="Run id from `jitscope history`, or 'latest'.")],
    db: DbOpt = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Speed-ups relative to this backend[:variant].")] = None,
    plot: PlotOpt = DEFAULT_KIND.name,
    no_plot: NoPlotOpt = False,
) -> None:
    """Print a stored run's table (and plot) again."""
    _need_stdout("the table")
    from jitscope.cli_run import print_report
    from jitscope.core.registry import load_registry
    from jitscope.results.store import Store, resolve_run_id

    try:
        kind = _plot_kind(plot, no_plot)
    except UserError as exc:
        raise _fail(str(exc)) from None
    if run_id == "latest" and _fresh_default(db):
        return
    try:
        with Store(_db(db), create=False) as store:
            rid = resolve_run_id(store, run_id)
            results = store.cells(rid)
            record = store.run(rid)
            _warn_damaged(store.damaged)
        console.print(Text(printable(f"run {rid} — {record.started} on {record.host} ({record.state})")))
        registry = load_registry() if baseline is not None or (kind is not None and kind.reference) else None
        label = None
        if baseline is not None and registry is not None:
            from jitscope.cli_run import check_baseline
            from jitscope.core.labels import cell_label

            label = check_baseline(baseline, registry, [cell_label(r.spec) for r in results])
        print_report(console, results, label, kind, registry)
    except UserError as exc:
        raise _fail(str(exc)) from None


@app.command()
def export(
    run_id: Annotated[str, typer.Argument(help="Run id from `jitscope history`, or 'latest'.")],
    csv: Annotated[str | None, typer.Option("--csv", help="CSV path, or '-' for stdout.")] = None,
    json_path: Annotated[str | None, typer.Option("--json", help="JSON path (with raw samples), or '-' for stdout.")] = None,
    md: Annotated[str | None, typer.Option("--md", help="Markdown path, or '-' for stdout.")] = None,
    db: DbOpt = None,
) -> None:
    """Write a stored run as CSV, JSON and/or Markdown."""
    from jitscope.results.export import ExportTargets
    from jitscope.results.store import Store, resolve_run_id

    if not (csv or json_path or md):
        raise _fail("say where to write: --csv PATH, --json PATH and/or --md PATH")
    if STDOUT_CLOSED and "-" in (csv, json_path, md):
        _need_stdout("the export to '-'")
    try:
        targets = ExportTargets(csv=csv, json=json_path, md=md)
        targets.check(_db(db))
        with Store(_db(db), create=False) as store:
            rid = resolve_run_id(store, run_id)
            record = store.run(rid)
            results = store.cells(rid)
            _warn_damaged(store.damaged)
        run_info = {"id": rid, "environment": record.environment, "command": record.command, "started": record.started}
        human = err_console if targets.uses_stdout else console
        for where in targets.write(results, run_info):
            human.print(Text(printable(f"wrote {where}")))
    except UserError as exc:
        raise _fail(str(exc)) from None
    if len(results) < record.cell_count:  # written, but without the damaged rows: a script must know
        raise typer.Exit(1)


@app.command("import")
def import_csv(
    path: Annotated[Path, typer.Argument(help="A CSV written by jitscope (e.g. on another machine).")],
    label: Annotated[str, typer.Option("--label", help="Label for the imported run (default: the CSV's host).")] = "",
    db: DbOpt = None,
) -> None:
    """Import another machine's CSV as a run, to compare or overlay it in the app."""
    from jitscope.results.export import read_csv
    from jitscope.results.store import Store

    try:
        results, host = read_csv(path)
        with Store(_db(db)) as store:
            rid = store.import_cells(results, label=label or host or path.name,
                                     environment={"host": host, "imported_from": str(path)}, command=f"import {path}")
        console.print(Text(printable(f"imported {len(results)} cells from {path} as run {rid}")))
    except UserError as exc:
        raise _fail(str(exc)) from None


app.command()(compare)


@app.command()
def attach(
    run_id: Annotated[str, typer.Argument(help="Run id, or 'latest' (the newest running run, else the newest run).")] = "latest",
    db: DbOpt = None,
    events: Annotated[bool, typer.Option("--events", help="Print the run's record as JSON lines as they come (for a viewer elsewhere: ssh host jitscope attach --events).")] = False,
) -> None:
    """Follow a run's live progress from any terminal (Ctrl-C leaves the viewer; the run goes on).

    Exits with the run's own exit code once it ends.
    """
    from jitscope.cli_follow import attach_run

    try:
        code = attach_run(_db(db), run_id, console, err_console, raw=events)
    except UserError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


@app.command()
def cancel(
    run_id: Annotated[str, typer.Argument(help="Run id, or 'latest' (the newest running run).")],
    db: DbOpt = None,
) -> None:
    """Stop a running run (started with --detach or in another terminal); finished cells are kept."""
    from jitscope.cli_follow import cancel_run

    try:
        code = cancel_run(_db(db), run_id, console)
    except UserError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


def _bare_plot_means_default(args: list[str]) -> list[str]:
    """``--plot`` with no kind after it (the last word, or an option next) is ``--plot`` of the
    default kind, as the old ``--plot/--no-plot`` flag meant: Typer has no option whose value
    may be left out. A word after it is its kind (``show --plot 3`` is an unknown kind)."""
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--plot" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append(DEFAULT_KIND.name)
    return out


def main() -> None:
    """Console-script entry point. A stop signal ends the command with 128 + its number
    (130 for Ctrl-C), the shell's convention, without a traceback."""
    from typer.exceptions import Abort, TyperException

    from jitscope.runner.signals import Interrupted

    if len(sys.argv) == 1:
        sys.exit(_open_app_directly())
    sys.argv[1:] = _bare_plot_means_default(sys.argv[1:])
    try:
        # Not standalone: Click's errors come here, to be one line rather than Typer's box.
        code = app(standalone_mode=False, prog_name="jitscope")
    except Interrupted as exc:
        sys.exit(128 + exc.signum)
    except UserError as exc:  # raised where no command catches it (the app's callback, Typer's parsing)
        _print_error(str(exc))
        sys.exit(2)
    except TyperException as exc:  # Click's usage errors (bad option, missing argument...)
        _print_error(_usage_line(exc))
        sys.exit(getattr(exc, "exit_code", 2))
    except Abort:  # end of input at a prompt: Click's own exit status
        _print_error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_line(exc: Exception) -> str:
    """A bad option or argument in one line, with where to read the right ones: the rule for
    every error the command prints (``--threads two``, an unknown ``--nope``, a missing id)."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see: {ctx.command_path} -h)" if ctx is not None else message


def _open_app_directly() -> int:
    """A bare ``jitscope``: the app, without Typer's parsing (Typer 0.29 builds a pydantic
    adapter per option, ~80 ms before anything draws). Does what the callback does when it
    has no option to check: sweep stale worker folders, refuse an unusable database with
    one line and exit 2, open the app (which loads the registry after its first frame)."""
    from jitscope.results.store import Store
    from jitscope.runner.workdirs import sweep_stale
    from jitscope.ui.app import run_app

    sweep_stale()
    try:
        db = _db(None)
        Store(db).close()
    except UserError as exc:
        _print_error(str(exc))
        return 2
    return run_app(None, db, [])


if __name__ == "__main__":
    main()
