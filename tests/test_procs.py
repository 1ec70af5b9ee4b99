"""Processes a run starts, and what stopping the run does to them (issue 19 items 4 and 7):
Ctrl-Z pauses the worker too and ``fg`` measures the paused cell again; a supervisor that was
itself stalled keeps a result its worker had already sent; nothing a kernel started outlives
its worker, also after SIGKILL of ``jitscope run``. Real command, real signals, real processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from cli_support import TESTS, pids_alive, read_into, start_jitscope, wait_until, worker_pids

SLOW = str(TESTS / "plugins" / "slow_kernels.py")
FORKING = str(TESTS / "plugins" / "forking_kernels.py")


def _state(pid: int) -> str:
    """The process's state letter in /proc (``T``: stopped), or "" when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _cells_in(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM cells").fetchone()[0])
    except sqlite3.Error:
        return 0


def _lock_is_free(path: Path) -> bool:
    """Can another jitscope take the timing lock now (the conftest points it at a file)?"""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases it at once
    return True


def _hold_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _pids_written(folder: Path) -> dict[str, int]:
    return {p.name.split(".")[0]: int(p.read_text()) for p in folder.iterdir() if not p.name.endswith(".tmp")}


def _kill_left_overs(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_z_pauses_the_worker_and_fg_measures_the_paused_cell_again(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    db, out = tmp_path / "db.sqlite", tmp_path / "out.json"
    # one process timing for 0.5 s (the window to stop it in), then again after fg
    proc = start_jitscope("run", "-w", SLOW, "-b", "python", "-s", "1", "--budget", "0.5", "--processes", "1",
                          "--no-plot", "--db", str(db), "--json", str(out), env={"JITSCOPE_TEST_PIDS": str(marks)})
    try:
        wait_until(lambda: (marks / "measuring.1").exists(), what="the cell's timing started")
        worker = int((marks / "measuring.1").read_text())
        os.kill(proc.pid, signal.SIGTSTP)
        wait_until(lambda: _state(proc.pid) == "T", 10, "jitscope run stopped")
        wait_until(lambda: _state(worker) == "T", 10, "the worker stopped with it")
        lock = Path(os.environ["JITSCOPE_TIMING_LOCK"])
        assert _lock_is_free(lock), "a paused run holds the timing lock"
        paused_at = time.monotonic()
        while time.monotonic() - paused_at < 1.5:  # the pause itself (what the samples must not contain)
            assert _state(worker) == "T" and _state(proc.pid) == "T"
            time.sleep(0.1)
        (marks / "measuring.1").unlink()
        other = _hold_lock(lock)  # another run took the lock meanwhile: ours waits for it after fg
        try:
            os.kill(proc.pid, signal.SIGCONT)
            wait_until(lambda: _state(worker) == "", 10, "the paused worker was replaced")
            waited_from = time.monotonic()
            while time.monotonic() - waited_from < 1.0:
                assert not (marks / "measuring.1").exists(), "measured again while another run held the lock"
                time.sleep(0.05)
        finally:
            os.close(other)
        stdout, stderr = _finish(proc)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGCONT)
    assert proc.returncode == 0, stdout + stderr
    assert "paused: cell slow python size=1 is measured again" in stdout + stderr
    assert "another jitscope is timing" in stdout + stderr
    assert (marks / "measuring.1").exists(), "the cell was measured again"
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"] == "ok"
    assert cell["raw_samples"] and max(cell["raw_samples"]) < 1.0, "a sample spans the pause"  # 0.05 s each


def _controlling_terminal() -> None:
    """In the child, after setsid: its terminal (fd 0, the pty) becomes its controlling one,
    so the terminal's Ctrl-Z reaches it as SIGTSTP, as in a shell's foreground job."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_z_typed_in_the_terminal_pauses_the_worker_too(tmp_path: Path) -> None:
    import pty

    marks = tmp_path / "marks"
    marks.mkdir()
    main, sub = pty.openpty()
    fcntl.ioctl(main, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "JITSCOPE_TEST_PIDS": str(marks)}
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", "-w", SLOW, "-b", "python", "-s", "1",
                             "--budget", "0.5", "--processes", "1", "--no-plot", "--db", str(tmp_path / "db.sqlite")],
                            stdin=sub, stdout=sub, stderr=sub, env=env, start_new_session=True,
                            preexec_fn=_controlling_terminal)
    os.close(sub)
    seen: list[bytes] = []
    reader = threading.Thread(target=read_into, args=(main, seen), daemon=True)
    reader.start()
    try:
        wait_until(lambda: (marks / "measuring.1").exists(), what="the cell's timing started")
        worker = int((marks / "measuring.1").read_text())
        os.write(main, b"\x1a")  # Ctrl-Z
        wait_until(lambda: _state(proc.pid) == "T", 10, "jitscope run stopped")
        wait_until(lambda: _state(worker) == "T", 10, "the worker stopped with it")
        os.kill(proc.pid, signal.SIGCONT)  # what the shell's fg sends
        assert proc.wait(timeout=120) == 0
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        reader.join(timeout=10)
    output = b"".join(seen).decode("utf-8", "replace")
    assert "is measured again" in output and "1 ok" in output, output


def test_a_stalled_supervisor_keeps_the_result_its_worker_already_sent(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    db = tmp_path / "db.sqlite"
    proc = start_jitscope("run", "-w", SLOW, "-b", "python", "--budget", "0.2", "--timeout", "5", "--no-plot",
                          "--db", str(db), env={"JITSCOPE_TEST_PIDS": str(marks)})
    try:
        wait_until(lambda: _cells_in(db) >= 1, what="the first cell saved")
        os.kill(proc.pid, signal.SIGSTOP)  # cannot be caught: the worker goes on alone
        stopped_at = time.monotonic()
        wait_until(lambda: worker_pids() == [], 30, "the worker sent its last result and exited")
        while time.monotonic() - stopped_at < 5.5:  # a stall longer than --timeout
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGCONT)
        stdout, stderr = _finish(proc)
    finally:
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGCONT)
    assert proc.returncode == 0, stdout + stderr
    assert "timeout" not in stdout, stdout
    assert "2 ok" in stdout, stdout


def test_a_forked_and_a_setsid_grandchild_end_with_a_successful_run(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = start_jitscope("run", "-w", FORKING, "-b", "python", "--budget", "0.2", "--no-plot",
                          "--db", str(tmp_path / "db.sqlite"), env={"JITSCOPE_TEST_PIDS": str(pids)})
    stdout, stderr = _finish(proc)
    written = _pids_written(pids)
    try:
        assert proc.returncode == 0, stdout + stderr
        assert set(written) == {"fork", "setsid"}, written
        assert pids_alive(list(written.values())) == [], f"left behind: {written}"
    finally:
        _kill_left_overs(list(written.values()))


def _start_forking_run(tmp_path: Path) -> tuple[Path, subprocess.Popen[str]]:
    """A run of the forking kernel (a forked child and a setsid'd spinner, each writing its
    pid into the folder returned) that goes on until the test stops it."""
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = start_jitscope("run", "-w", FORKING, "-b", "python", "--budget", "60", "--no-plot",
                          "--db", str(tmp_path / "db.sqlite"),
                          env={"JITSCOPE_TEST_PIDS": str(pids), "JITSCOPE_TEST_SLOW": "0.05"})
    return pids, proc


def test_sigkill_of_the_run_ends_the_worker_and_everything_it_started(tmp_path: Path) -> None:
    pids, proc = _start_forking_run(tmp_path)
    written: dict[str, int] = {}
    try:
        wait_until(lambda: len(_pids_written(pids)) == 2, what="the kernel started its children")
        written = _pids_written(pids)
        workers = worker_pids()
        assert workers, "no worker found"
        proc.kill()
        proc.wait(timeout=10)
        everything = workers + list(written.values())
        wait_until(lambda: pids_alive(everything) == [], 5, f"worker and grandchildren gone: {everything}")
    finally:
        _kill_left_overs(list(written.values()))
        proc.stdout and proc.stdout.close()
        proc.stderr and proc.stderr.close()


def test_a_workers_sweep_ends_its_own_descendants_only() -> None:
    """Worker 1's token must not match worker 10's (nor another run's): the sweep after one
    worker never touches what a live worker started."""
    from jitscope.runner.descendants import TOKEN_ENV, end_carriers, new_run_token, worker_token

    run, other_run = new_run_token(), new_run_token()
    tokens = [worker_token(run, 1), worker_token(run, 10), worker_token(other_run, 1)]
    procs = [subprocess.Popen(["sleep", "60"], env={**os.environ, TOKEN_ENV: t.split("=", 1)[1]}) for t in tokens]
    try:
        end_carriers(tokens[0], spare=[p.pid for p in procs])  # Popen reaps its own
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
        assert procs[1].poll() is None and procs[2].poll() is None
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def test_ctrl_z_also_stops_what_the_kernel_started_and_fg_ends_it(tmp_path: Path) -> None:
    """A paused run must not keep a core busy: the kernel's setsid'd spinner is stopped too;
    after fg the paused worker and everything it started are gone (the cell starts afresh)."""
    pids, proc = _start_forking_run(tmp_path)
    written: dict[str, int] = {}
    try:
        wait_until(lambda: len(_pids_written(pids)) == 2, what="the kernel started its children")
        written = _pids_written(pids)
        os.kill(proc.pid, signal.SIGTSTP)
        wait_until(lambda: _state(proc.pid) == "T", 10, "jitscope run stopped")
        wait_until(lambda: all(_state(p) == "T" for p in written.values()), 10, f"stopped: {written}")
        for path in pids.iterdir():
            path.unlink()
        os.kill(proc.pid, signal.SIGCONT)
        wait_until(lambda: pids_alive(list(written.values())) == [], 10, f"the paused worker's children gone: {written}")
        wait_until(lambda: len(_pids_written(pids)) == 2, what="the cell measured again in a fresh worker")
        os.kill(proc.pid, signal.SIGTERM)
        _finish(proc)
        assert proc.returncode == 128 + signal.SIGTERM
        written.update({f"{k}2": v for k, v in _pids_written(pids).items()})
        wait_until(lambda: pids_alive(list(written.values())) == [], 10, f"all gone after the stop: {written}")
    finally:
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGCONT)
        _kill_left_overs(list(written.values()))
