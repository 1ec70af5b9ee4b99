"""The one liveness test behind every sweep of what a dead jitscope left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_support import jitscope

from jitscope.core.processes import pid_alive
from jitscope.runner.workdirs import PREFIX, sweep_stale


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid names no process now
    return child.pid


def test_pid_alive_tells_this_process_from_a_reaped_child() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())


def test_another_users_process_counts_as_alive() -> None:
    # pid 1 belongs to root: signal 0 is refused with a permission error, not "no such process"
    assert os.getuid() == 0 or pid_alive(1)


def test_sweep_removes_a_dead_supervisors_folder_and_keeps_a_live_ones(tmp_path: Path) -> None:
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-abcd"
    live = tmp_path / f"{PREFIX}{os.getpid()}-efgh"
    other = tmp_path / "not-ours"
    for folder in (dead, live, other):
        folder.mkdir()
    assert sweep_stale(str(tmp_path)) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_a_pid_beyond_what_the_kernel_allows_is_no_process(tmp_path: Path) -> None:
    # a folder named by hand (or by another tool) must not crash every command's sweep
    bogus = tmp_path / f"{PREFIX}{10**30}-abcd"
    bogus.mkdir()
    assert not pid_alive(10**30)
    assert sweep_stale(str(tmp_path)) == [bogus]


def test_the_command_survives_a_worker_folder_with_an_impossible_pid(tmp_path: Path) -> None:
    (tmp_path / f"{PREFIX}{10**30}-abcd").mkdir()
    proc = jitscope("history", env={"TMPDIR": str(tmp_path), "JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0 and "no runs yet" in proc.stdout, proc.stderr


def test_an_unreaped_child_that_exited_is_dead() -> None:
    """A zombie answers kill(pid, 0) but is dead: a run whose process was SIGKILLed and left
    unreaped (its new parent a subreaper that never waits for it) must read as abandoned, not
    as running for ever (``jitscope attach`` waited on one for ever before this)."""
    import time

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited, not reaped (no wait(): the zombie stays)
        with open(f"/proc/{child.pid}/stat", encoding="ascii") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.02)
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()
