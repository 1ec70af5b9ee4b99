"""Issue 19 item 3 (and the app's side of item 5): a run started in the app lives in a daemon
process and outlives the app; the app is a reader of its record. Through the real app
(App.run_test) with real daemons, real worker processes and the real store. A run that must
still be running when the test acts is held by the gate plugin (its cells wait while a file
exists), never by slow cells that a loaded machine may outlast."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (
    CHAOS,
    GATE,
    cells_done,
    held,
    jitscope,
    kill_running_daemons,
    run_record,
    wait_until,
)
from test_ui_support import aio, wait_for

from jitscope.core.registry import load_registry
from jitscope.runner.plan import Selection

SIZE = (100, 30)


def held_selection(gate: Path, sizes: int) -> Selection:
    """``held``'s plan for the app: at each size a ``gate:fine`` cell that finishes at once, then
    a ``gate:gated`` one that waits while ``gate`` exists. The first cell finishes and the run
    then stays running, however loaded the machine, until the test removes the file."""
    gate.touch()
    return Selection(workloads=["mcpi"], backends=[("gate", "fine"), ("gate", "gated")],
                     sizes=list(range(1, sizes + 1)), budget_s=0.05)


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The gate file the app's daemons (started from this process) and their workers obey."""
    path = tmp_path / "gate"
    monkeypatch.setenv("JITSCOPE_TEST_GATE", str(path))
    return path


def slow_args(cells: int) -> tuple[str, ...]:
    return ("-w", CHAOS, "-w", "mcpi", "-b", "chaos:slow", "-s", ",".join(str(i) for i in range(1, cells + 1)),
            "--budget", "0.05", "--no-plot")


def real_app(db: Path, selection: Selection | None = None):
    """The app as ``jitscope`` opens it, but with the registry given (the chaos plugin's)."""
    from jitscope.ui.app import JitscopeApp

    return JitscopeApp(load_registry([CHAOS, GATE]), db, selection, probe=None, export_dir=db.parent,
                       theme="jitscope-dark")


def exit_line(db: Path, run_id: int) -> dict[str, object] | None:
    ends = [line for line in run_record(db, run_id) if line["type"] == "exit"]
    return ends[-1] if ends else None


def stored(db: Path, run_id: int) -> tuple[str, list[str]]:
    """The run's state and its cells' statuses, straight from the database."""
    with sqlite3.connect(db) as conn:
        state = conn.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        statuses = [s for (s,) in conn.execute("SELECT status FROM cells WHERE run_id = ? ORDER BY seq", (run_id,))]
    return state, statuses


def final(db: Path, run_id: int) -> tuple[str, list[str]]:
    """The run's state and statuses once its daemon has written its exit line."""
    wait_until(lambda: exit_line(db, run_id), 90, f"run {run_id}'s end")
    wait_until(lambda: stored(db, run_id)[0] != "running", 10, f"run {run_id}'s final state")
    return stored(db, run_id)


def start_detached(db: Path, *args: str, env: dict[str, str] | None = None) -> int:
    proc = jitscope("run", *args, "--db", str(db), "--detach", timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return int(proc.stdout.split()[1])


@pytest.fixture
def daemons(db_path: Path) -> Iterator[Path]:
    """The database; after the test, every daemon still running a run in it is killed."""
    yield db_path
    kill_running_daemons(db_path)


def notes(app) -> str:
    return "\n".join(n.message for n in app._notifications)


async def run_until_a_cell_is_done(pilot, db: Path) -> None:
    """``r``: the form's run starts (in its daemon); back once its first cell is recorded."""
    await pilot.press("r")
    await wait_for(pilot, lambda: cells_done(db, 1) >= 1, timeout=90)


async def ask_to_quit(pilot, app) -> None:
    """``q`` during a run: back once the dialog that asks what becomes of the run is shown."""
    from jitscope.ui.screens.dialogs import QuitRunDialog

    await pilot.press("q")
    await wait_for(pilot, lambda: isinstance(app.screen, QuitRunDialog))


def shows_a_run(app) -> bool:
    """The app is on Live run with a run attached (started here, reattached or resumed)."""
    from jitscope.ui.screens.run import RunScreen

    return isinstance(app.screen, RunScreen) and app.session.job is not None


# ---- a run started in the app ----------------------------------------------------------------------
@aio
async def test_q_then_k_quits_the_run_goes_on_in_its_own_process_and_the_app_reattaches_it(
        daemons: Path, gate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = real_app(daemons, held_selection(gate, 8))  # 16 cells, held at the second
    async with app.run_test(size=SIZE) as pilot:
        await run_until_a_cell_is_done(pilot, daemons)
        await ask_to_quit(pilot, app)
        await pilot.press("k")
        await wait_for(pilot, lambda: app._exit, timeout=15)
    assert app.return_code == 0
    said = " ".join(capsys.readouterr().err.split())  # the app's last words, after its screen is gone
    assert "run 1 goes on in the background" in said and "jitscope attach 1" in said, said
    header = run_record(daemons, 1)[0]
    assert header["pid"] != os.getpid() and header["command"] == "jitscope (app)"  # a daemon, not the app
    assert header["cancel_signal"] == "SIGUSR1"
    assert exit_line(daemons, 1) is None, "the run ended before the app quit: nothing was shown"
    again = real_app(daemons)  # opening the app again: the run it left is back on Live run
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: shows_a_run(again), timeout=30)
        assert again.session.job.progress.run_id == 1 and again.session.job.progress.total == 16
        gate.unlink()  # the rest of the run, followed here
        await wait_for(pilot, lambda: not again.session.running, timeout=90)
        assert [r.status.value for r in again.session.view.results] == ["ok"] * 16
    assert final(daemons, 1) == ("finished", ["ok"] * 16)
    assert exit_line(daemons, 1) == {"type": "exit", "code": 0}


@aio
async def test_escape_cancels_the_apps_run_through_its_daemon_recorded_cancelled(daemons: Path, gate: Path) -> None:
    app = real_app(daemons, held_selection(gate, 6))
    async with app.run_test(size=SIZE) as pilot:
        await run_until_a_cell_is_done(pilot, daemons)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.session.running, timeout=30)
        assert "Cancelled" in notes(app)
        view = app.session.view
        assert view is not None and any(r.status.value == "ok" for r in view.results)
    assert run_record(daemons, 1)[0]["pid"] != os.getpid()
    state, statuses = final(daemons, 1)
    assert state == "cancelled" and statuses[0] == "ok" and "cancelled" in statuses
    assert exit_line(daemons, 1) == {"type": "exit", "code": 128 + signal.SIGUSR1}


@aio
async def test_q_then_escape_stays_and_q_then_c_cancels_and_quits(daemons: Path, gate: Path) -> None:
    from jitscope.ui.screens.dialogs import QuitRunDialog

    app = real_app(daemons, held_selection(gate, 6))
    async with app.run_test(size=SIZE) as pilot:
        await run_until_a_cell_is_done(pilot, daemons)
        await ask_to_quit(pilot, app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitRunDialog))
        assert app.session.running and not app._exit
        await ask_to_quit(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: app._exit, timeout=30)
    state, _ = final(daemons, 1)
    assert state == "cancelled"


def test_the_daemon_plans_what_the_form_planned_with_a_size_preset() -> None:
    """The form's presets plan each workload's own sizes, which the daemon's build_plan does
    not know: the job's selection spells them out, so the daemon runs the cells shown."""
    from jitscope.runner.plan import build_plan
    from jitscope.ui.daemon_run import daemon_selection
    from jitscope.ui.planning import compose_plan, preset_names

    registry = load_registry()
    sel = Selection(workloads=["mcpi", "lu", "linreg"], backends=[("numpy", None), ("python", None)])
    presets = [p for p in preset_names(registry, sel.workloads) if p != "default"]
    assert presets
    for preset in presets:
        plan = compose_plan(registry, sel, preset)
        keys = [cell.key for cell in plan.cells]
        assert [cell.key for cell in build_plan(registry, sel).cells] != keys  # as it was, another plan
        assert [cell.key for cell in build_plan(registry, daemon_selection(registry, sel, plan)).cells] == keys


# ---- runs found running when the app opens ---------------------------------------------------------
@aio
async def test_opening_the_app_reattaches_the_newest_running_run_and_cancels_it(daemons: Path, gate: Path) -> None:
    """Two runs started with --detach: the newest is shown live (replayed, then followed),
    the other is counted; escape cancels the one shown, the other goes on."""
    # The older one times under a lock of its own: both run at once, neither waits for the other.
    both = "gate:fine,gate:gated"  # held at their second cells until the test ends
    older = start_detached(daemons, *held(gate, 20, both), env={"JITSCOPE_TIMING_LOCK": str(daemons.parent / "other.lock")})
    newer = start_detached(daemons, *held(gate, 15, both))
    app = real_app(daemons)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: shows_a_run(app), timeout=30)
        job = app.session.job
        assert job.progress.run_id == newer and job.progress.total == 30
        await wait_for(pilot, lambda: f"run #{newer} is running" in notes(app))
        assert "1 other run running" in notes(app)
        await wait_for(pilot, lambda: job.progress.done >= 1, timeout=90)  # followed live
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.session.running, timeout=30)
        assert "Cancelled" in notes(app)
    assert final(daemons, newer)[0] == "cancelled"
    assert stored(daemons, older)[0] == "running" and exit_line(daemons, older) is None  # untouched
    assert jitscope("cancel", str(older), "--db", str(daemons), timeout=60).returncode == 0


@aio
async def test_a_reattached_run_that_ends_is_shown_in_results_as_a_run_started_here(daemons: Path, gate: Path) -> None:
    run_id = start_detached(daemons, *held(gate, 2, "gate:fine,gate:gated"))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, 90, "a first cell")  # replayed, then followed
    app = real_app(daemons)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: shows_a_run(app), timeout=30)
        gate.unlink()
        await wait_for(pilot, lambda: not app.session.running, timeout=90)
        view = app.session.view
        assert view is not None and [r.status.value for r in view.results] == ["ok"] * 4
        assert f"Run #{run_id} finished" in [n.title for n in app._notifications]
    assert final(daemons, run_id) == ("finished", ["ok"] * 4)


# ---- History: resume ---------------------------------------------------------------------------------
@pytest.mark.slow
@aio
async def test_history_r_resumes_a_cancelled_run_in_the_background_and_shows_it(daemons: Path, gate: Path) -> None:
    from jitscope.ui.screens.history import HistoryScreen

    run_id = start_detached(daemons, *held(gate, 3, "gate:fine,gate:gated"))
    wait_until(lambda: cells_done(daemons, run_id) >= 1, 90, "a first cell")
    assert jitscope("cancel", str(run_id), "--db", str(daemons), timeout=60).returncode == 0
    state, statuses = final(daemons, run_id)
    assert state == "cancelled" and "cancelled" in statuses
    gate.unlink()  # what the resume runs finishes
    finished = start_detached(daemons, *slow_args(1))
    assert final(daemons, finished) == ("finished", ["ok"])
    app = real_app(daemons)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and len(app.screen.runs) == 2)
        await pilot.press("R")  # the highlighted run is the newest, which has nothing left
        await wait_for(pilot, lambda: "nothing to resume" in notes(app), timeout=60)
        await pilot.press("down", "R")
        await wait_for(pilot, lambda: shows_a_run(app), timeout=60)
        job = app.session.job
        assert job.progress.total == statuses.count("cancelled")
        await wait_for(pilot, lambda: not app.session.running, timeout=90)
        view = app.session.view
        assert view is not None and [r.status.value for r in view.results] == ["ok"] * 6  # the whole run
    assert final(daemons, run_id) == ("finished", ["ok"] * 6)
