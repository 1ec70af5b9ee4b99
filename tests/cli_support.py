"""Running the real ``jitscope`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHAOS = str(TESTS / "plugins" / "chaos_backend.py")
GATE = str(TESTS / "plugins" / "gate_backend.py")


def jitscope(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
             columns: int = 120, obey_permissions: bool = False,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``obey_permissions``: when we are root, run without the capabilities that let root
    ignore file modes, so a 0444 file is read-only to the command as it is to a user."""
    full_env = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    return subprocess.run([sys.executable, "-m", "jitscope.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
                          preexec_fn=_drop_permission_overrides if obey_permissions else None)


# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h); PR_CAPBSET_DROP.
_OVERRIDE_CAPS = (1, 2, 3)
_PR_CAPBSET_DROP = 24


def _drop_permission_overrides() -> None:
    """In the child before exec: take the file-permission overrides out of the bounding set,
    so even root's exec'd command gets none of them (as an ordinary user has none)."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _OVERRIDE_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def module_run(folder: Path, name: str, *args: str) -> Path:
    """The database ``folder/name`` holding one real ``jitscope run *args``: made once by a
    module fixture, read by its tests through :func:`copy_database`."""
    db = folder / name
    proc = jitscope("run", *args, "--db", str(db))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return db


def copy_database(source: Path, target: Path) -> Path:
    """A copy of a closed database ``source`` at ``target``, as the run left it: the file,
    its ``-wal`` and ``-shm`` files where they exist, and its runs' event records
    (``<db>.runs/``). A test that only needs *a* database holding a real run gets its own
    copy of one made once per module, instead of running ``jitscope run`` again for it."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    runs = source.parent / f"{source.name}.runs"
    if runs.exists():
        shutil.copytree(runs, target.parent / f"{target.name}.runs")
    return target


def start_jitscope(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The command in the background (for signals); its own session, like a terminal job."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "jitscope.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=full_env,
                            start_new_session=True)


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, no traceback, one short message that contains every needle."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3, proc.stderr


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def worker_pids() -> list[int]:
    """Every live ``jitscope.runner.child`` process on this machine started by this test run."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if b"jitscope.runner.child" in cmd and os.environ.get("JITSCOPE_HOME", "").encode() in environ:
            pids.append(int(entry))
    return pids_alive(pids)


def run_json_cells(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[dict]:
    """``jitscope run ARGS --budget 0.05 --json out.json`` (its own database under tmp_path):
    the cells as the JSON export has them, after checking the command did not crash."""
    import json

    out = tmp_path / "out.json"
    proc = jitscope("run", *args, "--budget", "0.05", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--json", str(out), env=env, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return list(json.loads(out.read_text())["cells"])


# ---- waiting on a real run, from outside it (one copy for every test file) ----------------------
def wait_until(check: Callable[[], object], timeout: float = 60, what: str = "") -> object:
    """Poll ``check`` until it returns something true (returned), or fail after ``timeout``
    seconds naming ``what``: a bounded wait on a condition, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def live_workers(timeout: float = 30) -> list[int]:
    """:func:`worker_pids` once there is at least one (a bounded wait, returning at once
    when a worker already runs)."""
    found: list[int] = []

    def seen() -> bool:
        found[:] = worker_pids()
        return bool(found)

    wait_until(seen, timeout, "a live worker")
    return found


def cells_in(db: Path) -> int:
    """How many cells the database holds (0 while it does not exist or is busy)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM cells").fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_for_cells(db: Path, count: int, timeout: float = 60) -> None:
    """Until ``count`` cells are committed to ``db`` (a run started elsewhere got that far)."""
    wait_until(lambda: cells_in(db) >= count, timeout, f"{count} cells in {db}")


def run_record(db: Path, run_id: int) -> list[dict[str, object]]:
    """The run's event record (``<db>.runs/<id>.events``) as parsed lines; whole lines only."""
    from jitscope.core.paths import RunFiles

    path = RunFiles.of(db, run_id).events
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def cells_done(db: Path, run_id: int) -> int:
    """Cells the run's record says finished."""
    return sum(1 for line in run_record(db, run_id) if line["type"] == "cell_finished")


def read_into(fd: int, chunks: list[bytes]) -> None:
    """Read a pty's master until every writer closed it (EIO) or EOF, then close it."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)


def kill_running_daemons(db: Path) -> None:
    """After a test: kill every process still running a run recorded in ``db`` (the owner
    named by the last part of each record that has no ``exit`` line yet), never ourselves."""
    import signal

    from jitscope.core.paths import RunFiles
    from jitscope.core.processes import pid_alive

    folder = RunFiles.of(db, 0).folder
    for events in folder.glob("*.events") if folder.exists() else []:
        lines = run_record(db, int(events.stem))
        starts = [n for n, line in enumerate(lines) if line["type"] == "run"]
        if starts and not any(line["type"] == "exit" for line in lines[starts[-1]:]):  # its last part runs
            pid = int(str(lines[starts[-1]]["pid"]))
            if pid != os.getpid() and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def held(gate: Path, sizes: int, backends: str = "gate:gated") -> tuple[str, ...]:
    """A plan of the gate plugin's cells at ``sizes`` sizes: ``gate:gated`` cells wait while
    the file ``gate`` exists (``gate:fine`` ones finish at once), so the run is still running
    for as long as the test needs, whatever the machine's load, and ends once the test
    removes the file. Run with ``gate_env(gate)``."""
    gate.touch()
    return ("-w", GATE, "-w", "mcpi", "-b", backends, "-s", ",".join(str(i) for i in range(1, sizes + 1)),
            "--budget", "0.05")


def gate_env(gate: Path) -> dict[str, str]:
    return {"JITSCOPE_TEST_GATE": str(gate)}
