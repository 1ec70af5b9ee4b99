"""Runs that outlive their terminal: ``run --detach``, ``attach``, ``cancel`` and the event
record they share, all through the real command and real processes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (
    cells_done,
    gate_env,
    held,
    jitscope,
    kill_running_daemons,
    pids_alive,
    run_record,
    wait_until,
)

from jitscope.core.errors import UserError
from jitscope.core.paths import RunFiles
from jitscope.runner.events import (
    CellFinished,
    CellProgressed,
    LockFallback,
    RunFinished,
    RunWaited,
    WorkerReady,
    WorkerStarted,
    event_from_json,
    event_to_json,
)
from jitscope.runner.plan import Selection
from jitscope.runner.recorded_run import selection_from_record, selection_record

FAST = ("-w", "mcpi", "-b", "python", "-s", "100,200", "--budget", "0.05")




def start_detached(db: Path, *args: str, env: dict[str, str] | None = None) -> int:
    t0 = time.monotonic()
    proc = jitscope("run", *args, "--db", str(db), "--no-plot", "--detach", timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("run ") and "background" in first, proc.stdout
    assert "jitscope attach" in proc.stdout and "jitscope cancel" in proc.stdout
    run_id = int(first.split()[1])
    assert time.monotonic() - t0 < 60
    return run_id


def attach(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jitscope.cli", "attach", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "120"})


@pytest.fixture
def daemons(db_path: Path) -> Iterator[Path]:
    """The database; after the test, every daemon still running a run in it is killed."""
    yield db_path
    kill_running_daemons(db_path)


# ---- the record's form ------------------------------------------------------------------------
def test_every_event_kind_round_trips_through_json() -> None:
    from jitscope.core.model import CellResult, CellSpec, Phase, Status

    spec = CellSpec(workload="mcpi", backend="python", variant="default", device="cpu", dtype="float64", size=10)
    events = [WorkerStarted("python", "cpu", 12), WorkerReady("python", "cpu", {"version": "3"}),
              CellProgressed(0, spec, Phase.MEASURING, 0.5), CellFinished(0, CellResult(spec=spec, status=Status.OK)),
              RunWaited("waiting"), LockFallback("no lock", "none", "a FIFO"), RunFinished(cancelled=True)]
    for event in events:
        data = json.loads(json.dumps(event_to_json(event)))
        assert data["type"]
        assert event_from_json(data) == event
    with pytest.raises(ValueError):
        event_from_json({"type": "from_the_future"})


def test_selection_round_trips_through_its_record() -> None:
    sel = Selection(workloads=["mcpi"], backends=[("numba", "parallel"), ("python", None)], sizes=[10, 20],
                    size_requests={"mcpi": ["S", 100]}, budget_s=0.5, timeout_s=9.0, threads=2,
                    params={"k": "v"}, seed=7)
    stored = json.loads(json.dumps(selection_record(sel, workload_files=["a.py"])))
    assert stored["workload_files"] == ["a.py"]
    assert selection_from_record(stored) == sel


def test_a_foreground_run_writes_its_record_ending_in_its_exit_code(db_path: Path) -> None:
    proc = jitscope("run", *FAST, "--db", str(db_path), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    lines = run_record(db_path, 1)
    assert lines[0]["type"] == "run" and lines[0]["planned"] == 2
    assert [line["type"] for line in lines[-2:]] == ["run_finished", "exit"]
    assert lines[-1]["code"] == 0
    assert cells_done(db_path, 1) == 2


# ---- detach, attach ----------------------------------------------------------------------------
def _rows(path: Path) -> list[tuple[str, ...]]:
    with path.open() as fh:
        return [(r["workload"], r["backend"], r["size"], r["status"]) for r in csv.DictReader(fh)]


def test_detach_returns_with_the_id_and_the_run_matches_a_foreground_one(daemons: Path, tmp_path: Path) -> None:
    fg = jitscope("run", *FAST, "--db", str(daemons), "--no-plot", "--csv", str(tmp_path / "fg.csv"))
    assert fg.returncode == 0, fg.stderr
    run_id = start_detached(daemons, *FAST, "--csv", str(tmp_path / "bg.csv"))
    assert run_id == 2
    viewer = attach(str(run_id), "--db", str(daemons))
    out, err = viewer.communicate(timeout=120)
    assert viewer.returncode == 0, out + err
    assert "2 ok; run 2 is finished" in out  # followed to its end, or (already over) its outcome
    assert _rows(tmp_path / "bg.csv") == _rows(tmp_path / "fg.csv")
    assert RunFiles.of(daemons, run_id).log.exists()


def test_detach_returns_before_the_run_ends_and_two_viewers_follow_it(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = start_detached(daemons, *held(gate, 3), env=gate_env(gate))
    assert not any(line["type"] == "exit" for line in run_record(daemons, run_id)), "detach waited for the run"
    viewers = [attach("--db", str(daemons)) for _ in range(2)]  # latest: the running one
    for viewer in viewers:
        assert viewer.stdout is not None
        assert f"attached to run {run_id}" in viewer.stdout.readline()  # both follow the running run
    gate.unlink()
    for viewer in viewers:
        out, err = viewer.communicate(timeout=120)
        assert viewer.returncode == 0, out + err
        assert out.count("       ok mcpi gate:gated") == 3, out  # each finished cell, as `run` prints it
        assert f"3 ok; run {run_id} is finished" in out


def test_attach_events_prints_the_record_as_json_lines_ending_in_exit(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = start_detached(daemons, *held(gate, 2), env=gate_env(gate))
    viewer = attach(str(run_id), "--db", str(daemons), "--events")
    assert viewer.stdout is not None
    first = viewer.stdout.readline()  # printed while the run still runs: the record is followed
    gate.unlink()
    out, err = viewer.communicate(timeout=120)
    assert viewer.returncode == 0, err
    lines = [json.loads(line) for line in (first + out).splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["run_id"] == run_id
    assert lines[-1] == {"type": "exit", "code": 0}
    assert sum(1 for line in lines if line["type"] == "cell_finished") == 2


def test_ctrl_c_leaves_the_viewer_and_the_run_goes_on(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = start_detached(daemons, *held(gate, 4), env=gate_env(gate))
    viewer = attach(str(run_id), "--db", str(daemons))
    assert viewer.stdout is not None
    assert f"attached to run {run_id}" in viewer.stdout.readline()  # it follows the run now
    viewer.send_signal(signal.SIGINT)
    out, err = viewer.communicate(timeout=30)
    assert viewer.returncode == 130, out + err
    assert f"jitscope attach {run_id}" in err
    assert not any(line["type"] == "exit" for line in run_record(daemons, run_id))
    gate.unlink()
    wait_until(lambda: any(line["type"] == "exit" for line in run_record(daemons, run_id)), what="the run's end")
    assert cells_done(daemons, run_id) == 4


# ---- history, cancel, abandoned ------------------------------------------------------------------
def test_history_shows_a_running_run_with_cells_done_of_planned(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # 3 cells that finish, then 3 held until the test ends
    run_id = start_detached(daemons, *held(gate, 3, "gate:fine,gate:gated"), env=gate_env(gate))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, what="a first cell")
    proc = jitscope("history", "--db", str(daemons))
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.strip().startswith(str(run_id)))
    assert "running " in line and "/6" in line, proc.stdout


def test_cancel_stops_a_detached_run_keeping_its_finished_cells(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # 6 cells that finish, then 6 held: cancelled while one of them runs
    run_id = start_detached(daemons, *held(gate, 6, "gate:fine,gate:gated"), "--csv", str(tmp_path / "out.csv"),
                            env=gate_env(gate))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, what="a first cell")
    proc = jitscope("cancel", str(run_id), "--db", str(daemons), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {run_id} is cancelled: kept" in proc.stdout
    lines = run_record(daemons, run_id)
    assert lines[-1] == {"type": "exit", "code": 128 + signal.SIGUSR1}
    kept = cells_done(daemons, run_id)
    assert 1 <= kept <= 12
    rows = _rows(tmp_path / "out.csv")  # the exports were written at the end, as after any run
    assert sum(1 for r in rows if r[3] == "ok") >= 1
    again = jitscope("cancel", str(run_id), "--db", str(daemons))
    assert again.returncode == 2 and "cancelled" in again.stderr
    viewer = jitscope("attach", str(run_id), "--db", str(daemons), timeout=60)
    assert viewer.returncode == 128 + signal.SIGUSR1, viewer.stdout + viewer.stderr


def test_attach_to_a_run_whose_process_was_killed_says_it_was_abandoned(daemons: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # 4 cells that finish, then 4 held: killed while one of them runs
    run_id = start_detached(daemons, *held(gate, 4, "gate:fine,gate:gated"), env=gate_env(gate))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, what="a first cell")
    os.kill(int(str(run_record(daemons, run_id)[0]["pid"])), signal.SIGKILL)
    proc = jitscope("attach", str(run_id), "--db", str(daemons), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"run {run_id} was abandoned: its process" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_detach_refuses_bad_input_before_anything_starts(db_path: Path) -> None:
    proc = jitscope("run", "-w", "nosuch", "-b", "python", "--db", str(db_path), "--detach")
    assert proc.returncode == 2 and "nosuch" in proc.stderr and "Traceback" not in proc.stderr
    assert not RunFiles.of(db_path, 1).events.exists()
    assert jitscope("history", "--db", str(db_path)).stdout.count("running") == 0


def test_a_record_that_cannot_be_written_costs_no_cell(db_path: Path) -> None:
    RunFiles.of(db_path, 1).folder.write_text("a file where the runs' folder should be")
    proc = jitscope("run", *FAST, "--db", str(db_path), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("cannot write the run's event record") == 1, proc.stderr
    assert "2 ok; saved as run 1" in proc.stdout


def test_followed_run_reads_a_run_as_the_app_runner_protocol_wants(db_path: Path) -> None:
    from jitscope.runner.followed_run import FollowedRun

    assert jitscope("run", *FAST, "--db", str(db_path), "--no-plot").returncode == 0
    followed = FollowedRun(db_path, 1)
    events = list(followed.events())
    assert [type(e).__name__ for e in events if isinstance(e, CellFinished | RunFinished)] == [
        "CellFinished", "CellFinished", "RunFinished"]
    assert followed.planned == 2 and not followed.abandoned
    assert [r.spec.size for r in followed.ordered_results()] == [100, 200]
    assert followed.run_record()["id"] == 1
    with pytest.raises(UserError, match="not running"):
        followed.cancel()  # its process is gone: nothing is signalled


def test_resume_detach_runs_the_rest_in_the_background_into_the_same_run(daemons: Path, tmp_path: Path) -> None:
    """Issue 19 item 5 with item 1: `run --resume N --detach` refuses what a resume refuses,
    then returns at once while the unfinished cells run in a daemon, into run N."""
    gate = tmp_path / "gate"
    run_id = start_detached(daemons, *held(gate, 3, "gate:fine,gate:gated"), env=gate_env(gate))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, what="a first cell")
    assert jitscope("cancel", str(run_id), "--db", str(daemons), timeout=60).returncode == 0
    gate.unlink()  # the resumed gated cells now finish at once
    proc = jitscope("run", "--resume", str(run_id), "--detach", "--db", str(daemons), "--no-plot", timeout=120,
                    env=gate_env(gate))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"run {run_id} started in the background"), proc.stdout
    assert f"jitscope attach {run_id}" in proc.stdout
    viewer = jitscope("attach", str(run_id), "--db", str(daemons), timeout=120)
    assert viewer.returncode == 0, viewer.stdout + viewer.stderr
    assert f"6 ok; run {run_id} is finished" in viewer.stdout
    headers = [line for line in run_record(daemons, run_id) if line["type"] == "run"]
    assert len(headers) == 2 and headers[-1]["resumed"] is True  # one record, two parts
    again = jitscope("run", "--resume", str(run_id), "--detach", "--db", str(daemons), "--no-plot")
    assert again.returncode == 0 and "has no unfinished cells" in again.stdout, again.stdout + again.stderr
    refused = jitscope("run", "--resume", "99", "--detach", "--db", str(daemons))
    assert refused.returncode == 2 and "99" in refused.stderr and "Traceback" not in refused.stderr


def test_a_run_whose_process_exited_but_was_not_reaped_is_abandoned() -> None:
    """A killed run's process stays a zombie until its parent reaps it, forever where that
    parent is a subreaper that never does (an in-process supervisor, a container's init): the
    viewer must count it dead, or ``attach`` waits for a process that will never write."""
    from jitscope.results.store import owner_is_dead

    child = subprocess.Popen([sys.executable, "-c", "from jitscope.results.store import current_owner; "
                              "print(current_owner())"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    owner = child.stdout.readline().strip()
    child.stdout.close()
    wait_until(lambda: pids_alive([child.pid]) == [], what="the child exited (a zombie: not reaped yet)")
    try:
        assert owner_is_dead(owner)
    finally:
        child.wait()
