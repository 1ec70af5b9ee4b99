"""``jitscope run --detach``, ``jitscope attach`` and ``jitscope cancel``: runs that outlive
the terminal that started them, and viewers that are only readers of a run's record.

A viewer (``attach``) never writes: it follows the run's event record
(``runner.followed_run``), shows it with the same display as ``jitscope run``, and leaves on
Ctrl-C, SIGHUP or SIGTERM without touching the run. ``cancel`` asks the run's own process to
stop (SIGUSR1), only after proving that process is the run's owner (pid and start time).
"""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path

from rich.console import Console
from rich.text import Text

from jitscope.cli_run import _show_progress, prepare_run, print_report
from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, Status
from jitscope.core.paths import RunFiles, default_db_path
from jitscope.core.text import printable
from jitscope.plotkinds import PlotKind
from jitscope.results.store import Store, parse_run_id
from jitscope.runner.detach import DetachJob, launch_detached
from jitscope.runner.followed_run import FollowedRun
from jitscope.runner.plan import Selection
from jitscope.runner.signals import STOP_SIGNALS, Interrupted, on_signals, raise_interrupted

CANCEL_WAIT_S = 30.0


def _db_words(db_path: Path) -> str:
    """`` --db PATH`` where the run is not in the default database, for commands we print."""
    return "" if db_path.absolute() == default_db_path().absolute() else f" --db {shlex.quote(str(db_path))}"


def start_detached(job: DetachJob, sel: Selection, files: list[str], console: Console, err_console: Console) -> int:
    """Check everything the foreground run would check, then start the daemon and say how
    to follow it. Returns 0 once the run is recorded (it goes on alone)."""
    if "-" in (job.csv, job.json_path, job.md):
        raise UserError("--detach with an export to '-': a detached run has no standard output; give a file path")
    db_path = Path(job.db_path)
    prepare_run(sel, files, db_path, csv=job.csv, json_path=job.json_path, md=job.md, baseline=job.baseline,
                compare_to=job.compare_to, fail_if_slower=job.fail_if_slower, console=console,
                err_console=err_console)
    return _started(launch_detached(job), db_path, console)


def start_detached_resume(run: str, db_path: Path, *, csv: str | None, json_path: str | None, md: str | None,
                          baseline: str | None, plot: PlotKind | None, console: Console, err_console: Console) -> int:
    """``jitscope run --resume RUN --detach``: what resuming would refuse is refused here,
    before anything starts; the warnings are printed; then the resume runs in a daemon (a
    run with nothing left is said and exported here, at once, as without --detach)."""
    from jitscope.cli_run import execute_resume
    from jitscope.runner.resume import prepare

    if "-" in (csv, json_path, md):
        raise UserError("--detach with an export to '-': a detached run has no standard output; give a file path")
    ready = prepare(db_path, run)
    if ready.registry is None or not ready.todo:
        return execute_resume(str(ready.run_id), db_path, csv=csv, json_path=json_path, md=md, baseline=baseline,
                              plot=plot, console=console, err_console=err_console)
    for line in ready.warnings:
        console.print(Text("warning: ", style="yellow") + Text(printable(line)), soft_wrap=True)
    job = DetachJob(selection={}, db_path=str(db_path.absolute()), command=ready.command, csv=csv,
                    json_path=json_path, md=md, baseline=baseline, plot=plot.name if plot else None,
                    resume=ready.run_id)
    return _started(launch_detached(job), db_path, console)


def _started(run_id: int, db_path: Path, console: Console) -> int:
    where = _db_words(db_path)
    console.print(Text(printable(f"run {run_id} started in the background (it goes on when this terminal closes)")))
    console.print(Text(printable(f"  follow it:  jitscope attach {run_id}{where}")), soft_wrap=True)
    console.print(Text(printable(f"  stop it:    jitscope cancel {run_id}{where}")), soft_wrap=True)
    console.print(Text(printable(f"  its log:    {RunFiles.of(db_path, run_id).log}")), soft_wrap=True)
    return 0


def _resolve(db_path: Path, text: str, *, running_only: bool) -> tuple[int, str]:
    """The run ``text`` names and its state. ``latest``: the newest running run, else (unless
    ``running_only``) the newest run."""
    with Store(db_path, create=False) as store:
        if text != "latest":
            rid = parse_run_id(text)
            return rid, store.run(rid).state
        runs = store.runs()
    running = [r for r in runs if r.state == "running"]
    if running:
        return running[0].id, running[0].state
    if running_only or not runs:
        raise UserError(f"no running run in {db_path} (see `jitscope history`)")
    return runs[0].id, runs[0].state


def attach_run(db_path: Path, text: str, console: Console, err_console: Console, *, raw: bool = False) -> int:
    """Follow a run to its end and exit with its exit code (see module docstring)."""
    run_id, state = _resolve(db_path, text, running_only=False)
    followed = FollowedRun(db_path, run_id)
    try:
        with on_signals(raise_interrupted, (signal.SIGINT, *STOP_SIGNALS)):
            if raw:
                return _print_lines(followed, console, err_console)
            return _watch(followed, state, console, err_console)
    except (Interrupted, KeyboardInterrupt):
        where = _db_words(db_path)
        err_console.print(Text(printable(f"left the viewer; run {run_id} goes on (look again: jitscope attach "
                                         f"{run_id}{where}; stop it: jitscope cancel {run_id}{where})")),
                          soft_wrap=True)
        return 130


def _print_lines(followed: FollowedRun, console: Console, err_console: Console) -> int:
    """``--events``: the record as it is, one JSON object a line, flushed each."""
    out = console.file
    for line in followed.lines():
        out.write(json.dumps(line) + "\n")
        out.flush()
    return _end_code(followed, err_console)


def _watch(followed: FollowedRun, state: str, console: Console, err_console: Console) -> int:
    run_id = followed.run_id
    if state == "running":
        console.print(Text(printable(f"attached to run {run_id} (Ctrl-C leaves the viewer; the run goes on)"),
                           style="dim"))
    followed.read_header()  # a run that already ended is replayed the same way, at once
    _show_progress(followed.events(), followed.planned or 0, console)
    for _ in followed.lines():  # to the exit line (exports are written after the last cell)
        pass
    results = followed.ordered_results()
    if results:
        print_report(console, results, None, None)
    final = followed.state()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no cells"
    console.print(Text(printable(f"{summary}; run {run_id} is {final}")))
    if followed.exit_code is None and not followed.abandoned:
        return _code_from_cells(final, results)
    return _end_code(followed, err_console)


def _end_code(followed: FollowedRun, err_console: Console) -> int:
    """The run's own exit code; 1 (and one line saying what to do) for an abandoned run."""
    if followed.exit_code is not None:
        return followed.exit_code
    pid = followed.header.get("pid", "?")
    err_console.print(Text(printable(
        f"run {followed.run_id} was abandoned: its process (pid {pid}) died before the run ended; the cells it "
        f"finished are saved (jitscope show {followed.run_id}); run the rest again")), soft_wrap=True)
    return 1


def _code_from_cells(state: str, results: list[CellResult]) -> int:
    """A run with no exit code on record (started by the app, or before records existed)."""
    if state != "finished":
        return 1
    return 0 if all(r.status.is_success for r in results) else 1


def cancel_run(db_path: Path, text: str, console: Console) -> int:
    """Ask a running run to stop, wait (bounded) for it to end, and say what was kept."""
    run_id, state = _resolve(db_path, text, running_only=True)
    if state != "running":
        raise UserError(f"run {run_id} is not running (it is {state})")
    followed = FollowedRun(db_path, run_id)
    followed.cancel()
    console.print(Text(printable(f"asked run {run_id} to cancel (pid {followed.header.get('pid')}); "
                                 "waiting for it to end...")))
    for _ in followed.lines(timeout_s=CANCEL_WAIT_S):
        pass
    if followed.exit_code is None and not followed.abandoned:
        console.print(Text(printable(f"run {run_id} has not ended after {CANCEL_WAIT_S:.0f} s; "
                                     f"follow it with: jitscope attach {run_id}{_db_words(db_path)}")))
        return 1
    results = followed.ordered_results()
    kept = sum(1 for r in results if r.status != Status.CANCELLED)
    console.print(Text(printable(f"run {run_id} is {followed.state()}: kept {kept} finished cells "
                                 f"of {followed.planned or len(results)}")))
    return 0
