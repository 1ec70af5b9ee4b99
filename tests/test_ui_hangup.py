"""Issue 19 item 8: the app never outlives its terminal as a stuck process.

The real ``jitscope`` (no arguments: the app) on a real pseudo-terminal that is its
controlling terminal, as over SSH; the test closes the terminal's master side, so the kernel
hangs the terminal up and sends the app SIGHUP, the way a dropped connection does. Whenever
that happens (before anything is drawn, as the first screen appears, while a version probe's
worker runs) the app and every worker it started must be gone within a few seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ptys, /proc and SIGHUP as Linux has them")

# Makes the pty on fd 0 the controlling terminal of a new session, then becomes the command.
_AS_SESSION_LEADER = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                      "os.execv(sys.argv[1], sys.argv[1:])")
EXIT_BOUND_S = 10.0  # the app's own bound is a few seconds; this leaves room for a loaded machine
SETUP_WORD = b"Workloads"  # on the Setup screen's first frame


@dataclass
class Outcome:
    scenario: str
    exited: bool
    exit_code: int | None
    workers_left: list[int]
    saw_screen: bool
    saw_probe: bool
    seconds: float = 0.0  # from the hang-up to the exit
    diagnosis: str = ""
    drew: bool = False  # the app had written anything to its terminal


def _text_of(output: bytes) -> bytes:
    """The terminal's output without its CSI escape sequences (colours split words)."""
    return re.sub(rb"\x1b\[[0-9;?<>=]*[A-Za-z~]", b"", output)


def _workers_of(home: Path) -> list[int]:
    """Live ``jitscope.runner.child`` processes started under this app's JITSCOPE_HOME."""
    pids = []
    marker = f"JITSCOPE_HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if b"jitscope.runner.child" in cmd and marker in environ and state != b"Z":
            pids.append(int(entry))
    return pids


def _threads_of(pid: int) -> str:
    """Each thread's name, state and kernel wait channel: what a hung app is stuck on."""
    lines = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task")):
            base = f"/proc/{pid}/task/{tid}"
            with open(f"{base}/comm") as fh:
                comm = fh.read().strip()
            with open(f"{base}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
            with open(f"{base}/wchan") as fh:
                wchan = fh.read().strip()
            lines.append(f"{tid} {comm} {state} {wchan}")
    except OSError as exc:
        lines.append(str(exc))
    return "; ".join(lines)


def _start(home: Path, *command: str) -> tuple[subprocess.Popen[bytes], int]:
    """``command`` (default: ``python -m jitscope.cli``, the app) on a new pty of 80x24 that is
    its controlling terminal; returns the process and the pty's master side."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "JITSCOPE_HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    env.pop("TEXTUAL", None)
    command = command or ("-m", "jitscope.cli")
    proc = subprocess.Popen([sys.executable, "-c", _AS_SESSION_LEADER, sys.executable, *command],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env, cwd=home)
    os.close(slave)
    return proc, master


def _hang_up_when(scenario: str, home: Path) -> Outcome:
    """Start the app, drain its terminal until ``scenario``'s moment has come, close the
    terminal, and see whether the app and its workers are gone within the bound."""
    home.mkdir(parents=True)
    proc, master = _start(home)
    seen, saw_probe = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.01)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            if scenario == "mid probe":
                saw_probe = saw_probe or bool(_workers_of(home))
            if _moment_has_come(scenario, proc.pid, seen, saw_probe):
                break
    finally:
        os.close(master)  # the terminal goes away: the kernel sends SIGHUP to the session
    hung_up = time.monotonic()
    exit_code, diagnosis = _wait_or_kill(proc)
    seconds = time.monotonic() - hung_up
    end = time.monotonic() + 5  # the app has exited: its workers must follow at once
    while _workers_of(home) and time.monotonic() < end:
        time.sleep(0.1)
    left = _workers_of(home)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return Outcome(scenario, exit_code is not None, exit_code, left, SETUP_WORD in seen, saw_probe, seconds,
                   diagnosis, drew=bool(seen))


def _moment_has_come(scenario: str, pid: int, seen: bytes, saw_probe: bool) -> bool:
    if scenario == "starting":  # the interpreter is up and importing: nothing written yet
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return fh.read().split(b"\0")[1:3] == [b"-m", b"jitscope.cli"]  # exec'd, not the launcher
        except OSError:
            return False
    if scenario == "first bytes":  # Textual entering application mode, before any frame
        return bool(seen)
    if scenario == "first screen":
        return SETUP_WORD in seen
    return SETUP_WORD in seen and saw_probe


def _wait_or_kill(proc: subprocess.Popen[bytes], master: int | None = None,
                  output: list[bytes] | None = None) -> tuple[int | None, str]:
    """The exit code within :data:`EXIT_BOUND_S`, or None and what its threads were doing
    (then it is killed). ``master``: a live terminal to keep draining meanwhile, into
    ``output``."""
    deadline = time.monotonic() + EXIT_BOUND_S
    while proc.poll() is None and time.monotonic() < deadline:
        if master is not None and select.select([master], [], [], 0.05)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:
                master = None
            else:
                if output is not None:
                    output.append(data)
        elif master is None:
            time.sleep(0.05)
    if proc.poll() is not None:
        return proc.returncode, ""
    diagnosis = _threads_of(proc.pid)
    proc.kill()
    proc.wait()
    return None, diagnosis


SCENARIOS = ["starting", "first bytes", "first screen", "mid probe"]


def test_a_hang_up_at_any_moment_of_start_up_ends_the_app_and_its_workers(tmp_path: Path) -> None:
    """8 apps (4 at a time: each moment twice), hung up while the interpreter starts, at the
    first bytes the app writes, as the first screen appears, and while a version probe's
    worker runs: each one exits within the bound and leaves no worker."""
    runs = [SCENARIOS[i % len(SCENARIOS)] for i in range(2 * len(SCENARIOS))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda ix: _hang_up_when(ix[1], tmp_path / f"home{ix[0]}"), enumerate(runs)))
    stuck = [o for o in outcomes if not o.exited]
    assert not stuck, f"{len(stuck)} of {len(outcomes)} apps did not exit after the hang-up: {stuck}"
    assert all(o.workers_left == [] for o in outcomes), [o for o in outcomes if o.workers_left]
    # Once it has written to its terminal, the app has its handlers: 128 + SIGHUP, the shell's
    # convention. Before that, SIGHUP's default action ends it, which is an end too.
    assert all(o.exit_code == 128 + signal.SIGHUP for o in outcomes if o.drew), outcomes
    assert all(o.exit_code in (128 + signal.SIGHUP, -signal.SIGHUP) for o in outcomes), outcomes
    assert all(o.drew for o in outcomes if o.scenario != "starting"), outcomes
    assert all(o.saw_screen for o in outcomes if o.scenario in ("first screen", "mid probe")), outcomes
    assert any(o.saw_probe for o in outcomes if o.scenario == "mid probe"), "no probe worker was ever seen"


# The app with a version probe that starts a worker and then never returns, whatever it is
# told (a backend whose import hangs): the orderly exit waits for that thread for ever, so
# only the exit guard can end the process, and the worker must go with it.
_STUCK_PROBE_APP = """
import subprocess, sys, threading
from pathlib import Path
from jitscope.core.registry import load_registry
from jitscope.ui.app import JitscopeApp, _run_guarded

def stuck_probe(backend, device):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "jitscope.runner.child"],
                     start_new_session=True, stdin=subprocess.DEVNULL)
    print("PROBE-STUCK", file=open(sys.argv[2], "w"), flush=True)
    threading.Event().wait()

app = JitscopeApp(load_registry([]), Path(sys.argv[1]), None, probe=stuck_probe)
sys.exit(_run_guarded(app))
"""


@pytest.mark.parametrize("stop", ["hang-up", "SIGTERM"])
def test_a_stop_signal_ends_the_app_within_the_bound_even_with_a_thread_stuck(tmp_path: Path, stop: str) -> None:
    """The last resort: a stuck thread cannot keep the app alive after SIGHUP or SIGTERM; it
    ends with 128 + signal within the bound, and the worker it started is killed."""
    from jitscope.ui.exit_guard import EXIT_BOUND_S as GUARD_BOUND_S

    home, marker = tmp_path / "home", tmp_path / "probe-stuck"
    home.mkdir()
    script = tmp_path / "stuck_app.py"
    script.write_text(_STUCK_PROBE_APP)
    proc, master = _start(home, str(script), str(tmp_path / "runs.sqlite"), str(marker))
    deadline = time.monotonic() + 60
    while not (marker.exists() and _workers_of(home)) and time.monotonic() < deadline and proc.poll() is None:
        if select.select([master], [], [], 0.05)[0]:
            os.read(master, 65536)
    assert marker.exists() and _workers_of(home), "the stuck probe never started"
    workers = _workers_of(home)
    stopped = time.monotonic()
    if stop == "hang-up":
        os.close(master)
        exit_code, diagnosis = _wait_or_kill(proc)
    else:
        proc.send_signal(signal.SIGTERM)
        after: list[bytes] = []
        exit_code, diagnosis = _wait_or_kill(proc, master, after)
        os.close(master)
        # the terminal is still there: before the forced exit it gets its main screen back
        assert b"\x1b[?1049l" in b"".join(after)
    seconds = time.monotonic() - stopped
    signum = signal.SIGHUP if stop == "hang-up" else signal.SIGTERM
    assert exit_code == 128 + signum, f"exit {exit_code} after {seconds:.1f} s; threads: {diagnosis}"
    assert seconds >= GUARD_BOUND_S * 0.9, "it exited before the guard's bound: the stuck thread was not stuck"
    assert [pid for pid in workers if pid in _workers_of(home)] == []


def _run_recorded(db: Path) -> bool:
    from jitscope.results.store import Store

    if not db.exists():
        return False
    with Store(db) as store:
        return bool(store.runs())


def _hang_up_now(delay_s: float | None, pressed: float, db: Path) -> bool:
    if delay_s is None:
        return _run_recorded(db)
    return time.monotonic() - pressed >= delay_s


def _hang_up_starting_a_run(delay_s: float | None, tmp: Path) -> tuple[Outcome, list[str]]:
    """The app with a three-cell sweep preselected: r pressed, then the terminal closed
    ``delay_s`` later (None: once the run's row is in the database, however long a loaded
    machine takes to get there). Returns the outcome and the states of the runs in the
    database."""
    from jitscope.results.store import Store

    home, db = tmp / "home", tmp / "runs.sqlite"
    home.mkdir(parents=True)
    proc, master = _start(home, "-m", "jitscope.cli", "-w", "mcpi", "-b", "numpy", "-s", "1000,2000,3000",
                          "--budget", "0.2", "--db", str(db))
    seen, pressed, workers = b"", 0.0, set[int]()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                seen += os.read(master, 65536)
            if not pressed and b"3 cells" in _text_of(seen):
                os.write(master, b"r")
                pressed = time.monotonic()
            if pressed:
                workers.update(_workers_of(home))
                if _hang_up_now(delay_s, pressed, db):
                    break
    finally:
        os.close(master)
    hung_up = time.monotonic()
    exit_code, diagnosis = _wait_or_kill(proc)
    seconds = time.monotonic() - hung_up
    end = time.monotonic() + 60  # the run goes on in its own process: wait for it to end
    states: list[str] = []
    while time.monotonic() < end:
        with Store(db) as store:
            states = [run.state for run in store.runs()]
        if "running" not in states and not _workers_of(home):
            break
        time.sleep(0.2)
    left = _workers_of(home)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    outcome = Outcome(f"run, {delay_s}", exit_code is not None, exit_code, left, bool(pressed), bool(workers),
                      seconds, diagnosis)
    return outcome, states


def test_a_hang_up_while_a_run_starts_ends_the_app_and_records_the_run(tmp_path: Path, monkeypatch) -> None:
    """r pressed, then the terminal gone at once, 0.5 or 1.5 s later, or once the run's row is
    recorded (its worker up, cells timing): the app exits with 128 + SIGHUP within the bound, no worker
    is left behind, and a run that was started goes on in its own background process to
    `finished` (issue 19 item 3), never left `running` nor read as `abandoned`."""
    monkeypatch.setenv("JITSCOPE_TIMING_LOCK", str(tmp_path / "timing.lock"))  # not queued behind others
    delays = [0.0, 0.5, 1.5, None]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ix: _hang_up_starting_a_run(ix[1], tmp_path / f"app{ix[0]}"),
                                enumerate(delays)))
    outcomes = [o for o, _ in results]
    assert all(o.saw_screen for o in outcomes), outcomes  # r was pressed in each
    assert all(o.exited and o.exit_code == 128 + signal.SIGHUP for o in outcomes), outcomes
    assert all(o.workers_left == [] for o in outcomes), outcomes
    assert all(set(states) <= {"finished"} for _, states in results), results
    assert any(states for _, states in results), f"no run ever reached the store: {results}"


def test_the_terminal_output_drops_what_a_hung_up_terminal_refuses() -> None:
    """The root cause's first half: on a hung-up terminal every write fails with EIO, which
    ended Textual's writer thread; through TerminalOutput it is dropped and remembered."""
    from jitscope.ui.terminal import TerminalOutput, terminal_gone

    master, slave = os.openpty()
    out = open(os.dup(slave), "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        output = TerminalOutput(out)
        output.write("drawn\n")
        output.flush()
        assert not output.lost and not terminal_gone(slave)
        os.close(master)  # the terminal hangs up
        master = -1
        assert terminal_gone(slave)  # every call on it now answers EIO
        output.write("x" * 10000)
        output.flush()
        assert output.lost
    finally:
        if master >= 0:
            os.close(master)
        os.close(slave)
        with contextlib.suppress(OSError):
            out.close()


def test_restore_terminal_gives_a_live_terminal_its_modes_back_and_leaves_a_lost_one_alone() -> None:
    """The exit guard's last step on a terminal still there (SIGTERM): saved modes back, the
    main screen back, without blocking; on a hung-up one, nothing (and no error)."""
    import tty

    from jitscope.ui.terminal import restore_terminal

    master, slave = os.openpty()
    try:
        saved = termios.tcgetattr(slave)
        tty.setraw(slave)
        assert termios.tcgetattr(slave) != saved
        restore_terminal(saved, slave)
        assert termios.tcgetattr(slave) == saved
        assert select.select([master], [], [], 2)[0]
        assert b"\x1b[?1049l\x1b[?25h" in os.read(master, 4096)
        os.close(master)
        master = -1
        restore_terminal(saved, slave)  # hung up: returns at once
    finally:
        if master >= 0:
            os.close(master)
        os.close(slave)
