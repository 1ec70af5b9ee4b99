"""Issue 19 items 4 and 6: signals mean what users expect for a foreground ``jitscope run``.

A hang-up (SIGHUP, or a terminal that is simply gone: writes fail with EIO) is not a request
to stop: the run detaches in place, its output goes on in the run's log, and it finishes with
its own exit code. An inherited SIG_IGN (nohup) stays ignored. SIGINT and SIGTERM still stop,
and the cells they cut say which signal cut them, never "cancelled by the user".
Through the real command, with real ptys and real signals.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cli_support import start_jitscope, wait_for_cells
from kernel_files import doubling_file

from jitscope.core.paths import RunFiles
from jitscope.results.store import Store

# Six cells of ~0.2 s each: after the first, about a second of run left to close the terminal
# in. (Under 0.3 s a cell is measured in one worker process, not three: less work, and each
# cell's line comes as soon as it is measured.)
SIX = ["-w", "mcpi", "-b", "numpy", "-s", "1000,2000,3000,4000,5000,6000", "--budget", "0.2", "--no-plot"]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _runs(db: Path) -> list[tuple[str, int]]:
    with Store(db, create=False) as store:
        return [(r.state, r.cell_count) for r in store.runs()]


def _own_terminal(sub: int, ignore_hangup: bool) -> Callable[[], None]:
    """In the child: a new session whose controlling terminal is the pty (a terminal window
    or an SSH session), so that closing the pty's other side hangs it up."""
    import fcntl
    import termios

    def setup() -> None:
        os.setsid()
        fcntl.ioctl(sub, termios.TIOCSCTTY, 0)
        if ignore_hangup:  # `nohup` / `trap '' HUP`: SIG_IGN is inherited
            signal.signal(signal.SIGHUP, signal.SIG_IGN)

    return setup


def _run_in_a_terminal_that_closes(tmp_path: Path, ignore_hangup: bool) -> tuple[subprocess.Popen[bytes], Path, Path, bytes]:
    """Start the run on a pty, wait until its first cell is printed, close the terminal;
    returns what the terminal showed too."""
    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *SIX, "--db", str(db), "--csv", str(out)],
                            stdin=sub, stdout=sub, stderr=sub, env={**os.environ, "COLUMNS": "100"},
                            preexec_fn=_own_terminal(sub, ignore_hangup))
    os.close(sub)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while b" median " not in seen and time.monotonic() < deadline:  # the first cell finished
            seen += os.read(main, 65536)
    except OSError:
        pass
    assert b" median " in seen, seen.decode(errors="replace")
    os.close(main)  # the terminal window closes / the SSH connection drops
    return proc, db, out, seen


def _assert_finished_with_its_log(proc: subprocess.Popen[bytes], db: Path, out: Path, why: str, shown: bytes) -> None:
    assert proc.wait(timeout=120) == 0  # the run's own code (every cell ok), not 129
    assert _runs(db) == [("finished", 6)]
    assert [r["status"] for r in _csv_rows(out)] == ["ok"] * 6
    log = RunFiles.of(db, 1).log
    text = log.read_text(encoding="utf-8")
    assert why in text and "the run goes on" in text, text
    assert "saved as run 1" in text and f"wrote {out}" in text, text  # the rest of the output...
    for size in ("2e3", "3e3", "4e3", "5e3", "6e3"):  # ...every line the terminal did not show
        assert f"size={size}  median" in text or f"size={size}  median".encode() in shown, text
    assert "\x1b[" not in text, text  # plain text, not a terminal's escape codes
    assert "Traceback" not in text, text


def test_sighup_of_a_foreground_run_detaches_it_and_the_run_finishes(tmp_path: Path) -> None:
    proc, db, out, shown = _run_in_a_terminal_that_closes(tmp_path, ignore_hangup=False)
    _assert_finished_with_its_log(proc, db, out, "SIGHUP", shown)


def test_a_terminal_gone_without_a_signal_switches_the_output_to_the_log(tmp_path: Path) -> None:
    """`... & disown`, then the terminal closes: no SIGHUP reaches the run, its writes fail
    with EIO. The run must go on, and say so in its log, not stop silently."""
    proc, db, out, shown = _run_in_a_terminal_that_closes(tmp_path, ignore_hangup=True)
    _assert_finished_with_its_log(proc, db, out, "the terminal is gone", shown)


def test_an_inherited_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    """`nohup jitscope run ...`: jitscope must not install its own handler over SIG_IGN."""
    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *SIX, "--db", str(db), "--csv", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    wait_for_cells(db, 1)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _runs(db) == [("finished", 6)]
    assert [r["status"] for r in _csv_rows(out)] == ["ok"] * 6
    assert not RunFiles.of(db, 1).log.exists()  # not even taken for a hang-up: it was ignored


# A cell cut by SIGINT or SIGTERM names the signal, never "cancelled by the user": checked on
# the same run as the rest of what a stop signal keeps, in
# test_guarantees.py::test_a_signal_keeps_finished_cells_marks_interrupted_and_writes_exports
# (one run each signal, not two).


def test_a_hang_up_leaves_an_export_to_a_pipe_where_it_was(tmp_path: Path) -> None:
    """`jitscope run ... --csv - | consumer` in a terminal that closes: the terminal's output
    (stderr) moves to the log, stdout is still the pipe and holds the whole CSV, nothing else."""
    db = tmp_path / "r.db"
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *SIX, "--db", str(db), "--csv", "-"],
                            stdin=sub, stdout=subprocess.PIPE, stderr=sub, env={**os.environ, "COLUMNS": "100"},
                            preexec_fn=_own_terminal(sub, ignore_hangup=False))
    os.close(sub)
    seen = b""
    deadline = time.monotonic() + 120
    with contextlib.suppress(OSError):
        while b" median " not in seen and time.monotonic() < deadline:
            seen += os.read(main, 65536)
    assert b" median " in seen, seen.decode(errors="replace")
    os.close(main)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert [r["status"] for r in csv.DictReader(io.StringIO(out.decode()))] == ["ok"] * 6
    text = RunFiles.of(db, 1).log.read_text(encoding="utf-8")
    assert "SIGHUP" in text and "saved as run 1" in text, text


SLOW_TO_LOAD = doubling_file("saxpy", size=1000, before='''
import pathlib, time

marker = pathlib.Path(__file__).with_suffix(".loading")
if not marker.exists():  # the command's own load (the worker's, later, need not wait)
    marker.touch()
    time.sleep(3)  # a plugin that takes its time: a hang-up arrives while it loads
''')


def test_a_hang_up_while_plugins_load_does_not_stop_the_run(tmp_path: Path) -> None:
    db, kernels = tmp_path / "r.db", tmp_path / "kernels.py"
    kernels.write_text(SLOW_TO_LOAD, encoding="utf-8")
    proc = start_jitscope("run", "-w", str(kernels), "-b", "numpy", "--budget", "0.02", "--no-plot", "--db", str(db))
    deadline = time.monotonic() + 60
    while not kernels.with_suffix(".loading").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kernels.with_suffix(".loading").exists()
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _runs(db) == [("finished", 1)]
    assert "SIGHUP" in RunFiles.of(db, 1).log.read_text(encoding="utf-8")
