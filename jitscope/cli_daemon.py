"""The process a detached run lives in: ``python -m jitscope.cli_daemon JOB FD LOG``.

Started by ``runner.detach.launch_detached`` in a session of its own, its output already in
a log. It runs ``cli_run.execute_run`` (``execute_resume`` for a job with ``resume``) exactly
as a foreground ``jitscope run`` does (the same signals: SIGTERM interrupts, SIGUSR1
cancels), tells the launcher the run's id on the pipe ``FD`` once the run is recorded (or
``error: ...`` for a refusal), renames its log to the run's own (``RunFiles.log``) and exits
with the run's exit code. Runs started in the app are such daemons too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from rich.console import Console

from jitscope.core.errors import UserError
from jitscope.core.paths import RunFiles
from jitscope.plotkinds import kind_named
from jitscope.runner.detach import DetachJob
from jitscope.runner.recorded_run import selection_from_record


class Launcher:
    """The pipe back to the launcher: one line, then closed."""

    def __init__(self, fd: int, log: Path, db_path: Path) -> None:
        self.fd: int | None = fd
        self.log = log
        self.db_path = db_path

    def say(self, line: str) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):  # the launcher went away: nobody to tell
            os.write(self.fd, (line + "\n").encode("utf-8", "replace"))
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = None

    def started(self, run_id: int) -> None:
        with contextlib.suppress(OSError):
            self.log.rename(RunFiles.of(self.db_path, run_id).log)
        self.say(f"run {run_id}")


def run_job(job: DetachJob, launcher: Launcher) -> int:
    from jitscope.cli_run import execute_resume, execute_run

    console = Console(file=sys.stdout, highlight=False, markup=False, width=120)
    plot = kind_named(job.plot) if job.plot else None
    if job.resume is not None:  # `jitscope run --resume N --detach`, History's resume key
        return execute_resume(str(job.resume), Path(job.db_path), csv=job.csv, json_path=job.json_path, md=job.md,
                              baseline=job.baseline, plot=plot, console=console, err_console=console,
                              on_start=launcher.started)
    sel = selection_from_record(job.selection)
    files = [str(f) for f in job.selection.get("workload_files", [])]
    return execute_run(
        sel, files, Path(job.db_path), csv=job.csv, json_path=job.json_path, md=job.md, baseline=job.baseline,
        label=job.label, plot=plot, command=job.command,
        console=console, err_console=console, compare_to=job.compare_to, fail_if_slower=job.fail_if_slower,
        allow_unstable=job.allow_unstable, on_start=launcher.started,
    )


def main(argv: list[str]) -> int:
    job_file, fd_text, log = argv
    job_path = Path(job_file)
    job = DetachJob.from_json(json.loads(job_path.read_text(encoding="utf-8")))
    with contextlib.suppress(OSError):
        job_path.unlink()
    launcher = Launcher(int(fd_text), Path(log), Path(job.db_path))
    try:
        code = run_job(job, launcher)
    except UserError as exc:
        print(f"jitscope: error: {exc}", flush=True)
        launcher.say(f"error: {exc}")
        return 2
    launcher.say("error: the run ended before it was recorded")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
