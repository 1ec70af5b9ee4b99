"""Starting a run that belongs to no terminal (``jitscope run --detach``, a run started in the app).

The run goes to a daemon process: ``python -m jitscope.cli_daemon JOB FD``, in a session of
its own (no controlling terminal, so no SIGHUP when the terminal or SSH connection goes),
with standard input from /dev/null and its output in the run's log. It runs the very same
path as a foreground ``jitscope run`` (same rows, same exports, the exit code as the last
line of the run's event record). The launcher waits only until the daemon has recorded the
run and written its id on a pipe (or an error line, or nothing because it died) and returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.paths import RunFiles

DAEMON_MODULE = "jitscope.cli_daemon"
START_TIMEOUT_S = 120.0  # loading the registry and probing the environment on a loaded machine


@dataclass(frozen=True)
class DetachJob:
    """Everything a detached run needs, as plain JSON (the daemon reads it from a file)."""

    selection: dict[str, Any]  # recorded_run.selection_record (with "workload_files")
    db_path: str
    command: str
    label: str = ""
    csv: str | None = None
    json_path: str | None = None
    md: str | None = None
    baseline: str | None = None
    plot: str | None = None  # a plot kind's name; None: no plot in the log
    compare_to: str | None = None
    fail_if_slower: float | None = None
    allow_unstable: bool = False
    resume: int | None = None  # run this run's unfinished cells into it (``jitscope run --resume``)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetachJob:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def pending_files(db_path: Path) -> tuple[Path, Path]:
    """A job file and a log for a run whose id is not known yet (the daemon renames the log
    to ``<id>.log`` once the run is recorded)."""
    folder = RunFiles.of(db_path, 0).folder
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"pending-{os.getpid()}-{secrets.token_hex(4)}"
    return folder / f"{stem}.job.json", folder / f"{stem}.log"


def launch_detached(job: DetachJob, *, timeout_s: float = START_TIMEOUT_S) -> int:
    """Start ``job`` in a daemon and return its run id once the run is recorded. A UserError
    says why it did not start (the daemon's own error line, or where its log is)."""
    try:
        job_file, log = pending_files(Path(job.db_path))
        job_file.write_text(json.dumps(job.to_json()), encoding="utf-8")
        job_file.chmod(0o600)
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise UserError(f"cannot start a detached run beside {job.db_path}: {exc.strerror or exc}") from None
    read_end, write_end = os.pipe()
    try:
        daemon = subprocess.Popen([sys.executable, "-m", DAEMON_MODULE, str(job_file), str(write_end), str(log)],
                                  stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, pass_fds=(write_end,),
                                  start_new_session=True, close_fds=True)
    except OSError as exc:
        os.close(read_end)
        raise UserError(f"cannot start a detached run: {exc.strerror or exc}") from None
    finally:
        os.close(write_end)
        os.close(log_fd)
    # The daemon is our child until we exit: reap it when it ends, or it would stay a zombie
    # that every reader takes for a live owner (the app follows its runs for hours).
    threading.Thread(target=daemon.wait, name="jitscope-daemon-reaper", daemon=True).start()
    return _read_run_id(read_end, log, timeout_s)


def _read_run_id(fd: int, log: Path, timeout_s: float) -> int:
    """The daemon's one line: ``run N``, or ``error: ...``; EOF means it died first."""
    import select

    data = b""
    try:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            raise UserError(f"the detached run has not reported its id after {timeout_s:.0f} s; it may still "
                            f"start: see `jitscope history` and its log {log}")
        while ready and not data.endswith(b"\n"):
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    line = data.decode("utf-8", "replace").strip()
    if line.startswith("run ") and line[4:].isdigit():
        return int(line[4:])
    if line.startswith("error: "):
        raise UserError(line[7:])
    with contextlib.suppress(OSError):
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        if tail:
            raise UserError(f"the detached run did not start: {tail[0]} (see {log})")
    raise UserError(f"the detached run did not start (see {log})")
