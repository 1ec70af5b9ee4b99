"""The real ``jitscope`` command in a real terminal (tmux, 80x24): a small NumPy sweep run,
exported to CSV and quit with keys alone, as a user would."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tmux, pytest.mark.xdist_group("tmux")]  # one terminal at a time under xdist

JITSCOPE = Path(sys.executable).with_name("jitscope")


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"jitscope-test-{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, what: Callable[[str], bool], timeout: float, description: str) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if what(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {description}; the screen was:\n{text}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "app", key)
            time.sleep(0.05)


@pytest.fixture
def tmux(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (CI installs it)")
    if not JITSCOPE.exists():
        pytest.skip(f"no jitscope console script next to {sys.executable}")
    session = Tmux(tmp_path)
    yield session
    session("kill-server")


def test_real_terminal_run_export_quit(tmux: Tmux, tmp_path: Path) -> None:
    home, db, out = tmp_path / "home", tmp_path / "runs.sqlite", tmp_path / "exported" / "sweep.csv"
    env = {"JITSCOPE_HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    env_args = " ".join(f"{k}={v}" for k, v in env.items())
    command = (f"cd {tmp_path} && env {env_args} {JITSCOPE} -w mcpi -b numpy -s 1000,10000 --budget 0.2 "
               f"--db {db}; echo JITSCOPE-EXIT=$?; sleep 60")
    tmux("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", command)
    screen = tmux.wait_for(lambda s: "2 cells" in s and "Workloads" in s, 30, "the setup screen")
    assert "Setup" in screen.splitlines()[0]

    tmux.keys("r")
    screen = tmux.wait_for(lambda s: "done in" in s and ": 2 ok" in s, 60, "the run to finish")
    assert "mcpi numpy" in screen and "failed" not in screen

    tmux.keys("e")
    tmux.wait_for(lambda s: "to CSV" in s, 10, "the export dialog")
    tmux.keys("C-a", "C-k")
    tmux("send-keys", "-t", "app", "-l", str(out))
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Exported" in s, 10, "the export notification")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["workload"], r["backend"], r["size"], r["status"]) for r in rows] == [
        ("mcpi", "numpy", "1000", "ok"), ("mcpi", "numpy", "10000", "ok")]

    tmux.keys("q")
    tmux.wait_for(lambda s: "JITSCOPE-EXIT=" in s, 15, "the app to exit")
    assert "JITSCOPE-EXIT=0" in tmux.screen()
    assert db.exists() and os.path.getsize(db) > 0


@pytest.mark.parametrize("stop", ["terminal closed", "SIGTERM"])
def test_a_run_started_in_the_app_outlives_the_app_and_its_terminal(tmux: Tmux, tmp_path: Path, stop: str) -> None:
    """Issue 19 item 3: a dropped SSH session is SIGHUP to the app in its terminal; `kill`
    sends SIGTERM. Either way the app ends, and the run it started, which lives in a daemon
    process of its own (the app only follows its record), goes on to its end: every cell
    finished and recorded, the run `finished`."""
    from cli_support import CHAOS, pids_alive

    from jitscope.core.paths import RunFiles
    from jitscope.results.store import Store

    home, db = tmp_path / "home", tmp_path / "runs.sqlite"
    env = {"JITSCOPE_HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "JITSCOPE_TIMING_LOCK": str(tmp_path / "timing.lock")}
    env_args = " ".join(f"{k}={v}" for k, v in env.items())
    command = (f"cd {tmp_path} && exec env {env_args} {JITSCOPE} -w mcpi -w {CHAOS} -b chaos:slow "
               f"-s 1,2,3,4,5,6,7,8 --budget 0.05 --db {db}")
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    tmux("set-option", "-t", "app", "remain-on-exit", "on")  # to read the app's exit status
    tmux.wait_for(lambda s: "8 cells" in s, 30, "the setup screen")
    app_pid = int(tmux("display-message", "-p", "-t", "app", "#{pane_pid}").strip())
    tmux.keys("r")
    tmux.wait_for(lambda s: any(f"{n}/8" in s for n in range(1, 8)), 90, "a first cell to finish")
    events = RunFiles.of(db, 1).events
    header = json.loads(events.read_text().splitlines()[0])
    assert header["pid"] != app_pid  # the run's own process, not the app
    if stop == "SIGTERM":
        os.kill(app_pid, signal.SIGTERM)
    else:
        tmux("kill-server")  # the terminal goes away: SIGHUP
    deadline = time.monotonic() + 120
    while '"type": "exit"' not in events.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    with Store(db) as store:
        run = store.runs()[0]
        statuses = [c.status.value for c in store.cells(run.id)]
    assert (run.state, statuses) == ("finished", ["ok"] * 8)
    assert json.loads(events.read_text().splitlines()[-1]) == {"type": "exit", "code": 0}
    deadline = time.monotonic() + 10
    while pids_alive([app_pid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    hung = pids_alive([app_pid])
    if hung:  # never left behind by a test, whatever it finds
        os.kill(app_pid, signal.SIGKILL)
    assert not hung, "issue 19 item 8: the app must never outlive a stop signal"
    if stop == "SIGTERM":
        assert _exit_status(tmux, app_pid) == str(128 + signal.SIGTERM)


def _exit_status(tmux: Tmux, pid: int) -> str:
    """The app's exit status: tmux's once it has reaped the app (which it may put off for many
    seconds), else the kernel's for the exited, not yet reaped process (/proc/PID/stat's last
    field, exit_code, in waitpid's format)."""
    status = tmux("display-message", "-p", "-t", "app", "#{pane_dead_status}").strip()
    if status:
        return status
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:  # reaped between the two questions: tmux has it now
        return tmux("display-message", "-p", "-t", "app", "#{pane_dead_status}").strip()
    return str((int(fields[-1]) >> 8) & 0xFF) if fields[0] == "Z" else ""


def test_issue_21_the_answer_at_80x24_without_colour(tmux: Tmux, tmp_path: Path) -> None:
    """Issue 21: over SSH in tmux at 80x24 with NO_COLOR and TERM=xterm, one run, then the
    Results screen shows each cell's error with ✓/✗ and its speed-up without scrolling, the
    legend tells series apart by marker, and arrows move in the table at once."""
    home, db = tmp_path / "home", tmp_path / "runs.sqlite"
    env = {"JITSCOPE_HOME": str(home), "TERM": "xterm", "LANG": "C.UTF-8", "NO_COLOR": "1",
           "JITSCOPE_TIMING_LOCK": str(tmp_path / "timing.lock")}  # not queued behind other jitscopes
    env_args = " ".join(f"{k}={v}" for k, v in env.items())
    command = (f"cd {tmp_path} && env {env_args} {JITSCOPE} -w mcpi -b numpy,python -s 1000,3000 --budget 0.05 "
               f"--db {db}; echo JITSCOPE-EXIT=$?; sleep 60")
    tmux("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", command)
    screen = tmux.wait_for(lambda s: "4 cells" in s and "Workloads" in s, 30, "the setup screen")
    assert "custom" in screen and "1e3,3e3" in screen  # -s given: the preset says so, one size style

    tmux.keys("r")
    tmux.wait_for(lambda s: "done in" in s and ": 4 ok" in s, 120, "the run to finish")
    tmux.keys("v")
    screen = tmux.wait_for(lambda s: "speed-up" in s and "error" in s and "✓" in s, 10, "the Results table")
    lines = screen.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("workload"))
    assert header.split()[:6] == ["workload", "backend", "size", "median", "speed-up", "error"]
    rows = [line.split() for line in lines if line.lstrip().startswith("mcpi ")]
    assert len(rows) == 4
    for row in rows:
        assert row[2] in ("1e3", "3e3") and row[4].endswith("x") and row[6] in ("✓", "✗"), row
        float(row[4].rstrip("x")) and float(row[5])  # a speed-up and an error, as numbers
    assert {row[4] for row in rows if row[1] == "numpy"} == {"1.00x"}  # the first baseline is numpy
    assert "1 • numpy  2 + python" in screen  # the legend: each series' own marker

    tmux.keys("Down")
    detail = tmux.wait_for(lambda s: "numpy mcpi n=3e3" in s, 5, "the second row's details (arrows, no tab)")
    assert "abs_error_pi" in detail

    tmux.keys("h")  # the same run opened from History: arrows work there too
    tmux.wait_for(lambda s: "1 run" in s or "4/4" in s, 10, "the History screen")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "numpy mcpi n=1e3" in s and "speed-up" in s, 10, "the run opened in Results")
    tmux.keys("Down")
    tmux.wait_for(lambda s: "numpy mcpi n=3e3" in s, 5, "the second row's details after History")
    tmux.keys("q")
    tmux.wait_for(lambda s: "JITSCOPE-EXIT=" in s, 15, "the app to exit")
    assert "JITSCOPE-EXIT=0" in tmux.screen()


def test_issue_21_a_python_first_call_is_not_called_compiling(tmux: Tmux, tmp_path: Path) -> None:
    """Issue 21 item 14, `jitscope run` in a terminal: pure Python compiles nothing, so its
    first call is shown as what it is, "first call"."""
    env = {"JITSCOPE_HOME": str(tmp_path / "home"), "TERM": "xterm", "LANG": "C.UTF-8", "NO_COLOR": "1",
           "JITSCOPE_TIMING_LOCK": str(tmp_path / "timing.lock")}
    env_args = " ".join(f"{k}={v}" for k, v in env.items())
    # LU at 300 in pure Python: a first call of about a second (the moment to catch), not five
    command = (f"cd {tmp_path} && env {env_args} {JITSCOPE} run -w lu -b python -s 300 --budget 0.05 --no-plot "
               f"--db {tmp_path / 'runs.sqlite'}; echo JITSCOPE-EXIT=$?; sleep 60")
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "24", command)
    seen = tmux.wait_for(lambda s: any(w in s for w in ("first call", "compiling", "JITSCOPE-EXIT=")), 120,
                         "the first call")
    assert "first call" in seen and "compiling" not in seen
    tmux.wait_for(lambda s: "JITSCOPE-EXIT=0" in s, 120, "the run to finish")
