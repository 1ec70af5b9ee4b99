"""``jitscope run --resume RUN``: a cut run's unfinished cells run again, in the same run.

Through the real command: a run cut by SIGKILL (the supervisor gone, as after a power loss)
or SIGTERM, resumed to one complete sweep; the kept cells untouched; every refusal one line
and exit 2; a changed environment said before anything runs. The gate plugin
(tests/plugins/gate_backend.py) holds a cell back while a file exists, so a run is cut at a
known place and finishes once resumed.
"""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from cli_support import (
    TESTS,
    assert_clean_error,
    copy_database,
    jitscope,
    pids_alive,
    start_jitscope,
    wait_for_cells,
    worker_pids,
)

from jitscope.results.store import Store

GATE = str(TESTS / "plugins" / "gate_backend.py")
FAST = ["--budget", "0.05", "--no-plot"]


def _rows(db: Path) -> dict[int, tuple[str, float | None, str]]:
    """Every stored cell of the database's one run: seq -> (status, median, stored data)."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        return {seq: (status, median, data) for seq, status, median, data
                in conn.execute("SELECT seq, status, median_s, data FROM cells ORDER BY seq")}


def _edit(db: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, args)


def _edit_environment(db: Path, change: dict[str, object]) -> None:
    with sqlite3.connect(db) as conn:
        env = json.loads(conn.execute("SELECT environment FROM runs").fetchone()[0])
        env.update(change)
        conn.execute("UPDATE runs SET environment = ?", (json.dumps(env),))


def _one_line(proc_stderr: str) -> None:
    assert len(proc_stderr.strip().splitlines()) == 1, proc_stderr


# ---- cut, then resumed -------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "cut_state"), [(signal.SIGKILL, "abandoned"), (signal.SIGTERM, "interrupted")])
def test_a_cut_run_resumed_is_one_complete_sweep_in_the_same_run(sig: int, cut_state: str, tmp_path: Path) -> None:
    db, gate, out = tmp_path / "X.db", tmp_path / "gate", tmp_path / "out.csv"
    gate.touch()
    env = {"JITSCOPE_TEST_GATE": str(gate)}
    proc = start_jitscope("run", "-w", "mcpi", "-w", GATE, "-b", "gate:fine,gate:gated", "-s", "1000,2000",
                          *FAST, "--db", str(db), env=env)
    wait_for_cells(db, 1)
    workers = worker_pids()
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while pids_alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    with Store(db) as store:
        assert store.runs()[0].state == cut_state
    before = _rows(db)
    assert before[0][0] == "ok" and all(status != "ok" for seq, (status, _, _) in before.items() if seq)
    gate.unlink()  # the held cell may finish now

    resumed = jitscope("run", "--resume", "latest", "--db", str(db), "--csv", str(out), "--no-plot", env=env)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = _rows(db)
    assert sorted(after) == [0, 1, 2, 3]
    assert [status for status, _, _ in after.values()] == ["ok"] * 4
    assert after[0] == before[0]  # the kept cell's row untouched: same median, same data
    with Store(db) as store:
        run = store.runs()[0]
    assert run.id == 1 and run.state == "finished"
    entry = run.environment["resumed"]
    assert len(entry) == 1 and entry[0]["previous_state"] == cut_state and entry[0]["cells"] == [1, 2, 3]
    assert entry[0]["host"] == run.host and entry[0]["workers"]  # what timed the resumed cells
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}  # the whole run, not just the re-run cells
    assert "saved as run 1" in resumed.stdout


def _resumed_workers(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        env = json.loads(conn.execute("SELECT environment FROM runs").fetchone()[0])
    return bool(env.get("resumed") and env["resumed"][-1]["workers"])


def test_a_resume_cut_in_turn_is_resumed_again_and_never_touches_the_kept_cells(tmp_path: Path) -> None:
    db, gate = tmp_path / "X.db", tmp_path / "gate"
    gate.touch()
    env = {"JITSCOPE_TEST_GATE": str(gate)}
    proc = start_jitscope("run", "-w", "mcpi", "-w", GATE, "-b", "gate:fine,gate:gated", "-s", "1000,2000",
                          *FAST, "--db", str(db), env=env)
    wait_for_cells(db, 1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    kept = _rows(db)[0]
    again = start_jitscope("run", "--resume", "1", *FAST[2:], "--db", str(db), env=env)  # the gate still shut
    deadline = time.monotonic() + 60
    while not _resumed_workers(db) and time.monotonic() < deadline:  # its worker said hello: cell 1 is held
        time.sleep(0.05)
    again.send_signal(signal.SIGTERM)
    _, err = again.communicate(timeout=30)
    assert again.returncode == 128 + signal.SIGTERM, err
    cut = _rows(db)
    assert cut[0] == kept and [status for status, _, _ in cut.values()] == ["ok", "cancelled", "cancelled", "cancelled"]
    gate.unlink()

    final = jitscope("run", "--resume", "1", "--db", str(db), "--no-plot", env=env)

    assert final.returncode == 0, final.stdout + final.stderr
    after = _rows(db)
    assert after[0] == kept and [status for status, _, _ in after.values()] == ["ok"] * 4
    with Store(db) as store:
        run = store.runs()[0]
    assert run.state == "finished"
    assert [e["previous_state"] for e in run.environment["resumed"]] == ["interrupted", "interrupted"]


def test_only_timeout_cells_run_again_and_a_failed_cell_is_kept(tmp_path: Path) -> None:
    db, gate = tmp_path / "X.db", tmp_path / "gate"
    gate.touch()
    env = {"JITSCOPE_TEST_GATE": str(gate)}
    # --timeout: what the held cell waits before it is called a timeout (the whole wait), and
    # also the bound on its worker's start-up: 5 s, not less, for a loaded machine
    first = jitscope("run", "-w", "mcpi", "-w", GATE, "-b", "gate:fine,gate:gated,gate:fails", "-s", "1000",
                     "--timeout", "5", *FAST, "--db", str(db), env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    before = _rows(db)
    assert [status for status, _, _ in before.values()] == ["ok", "timeout", "failed"]
    gate.unlink()

    resumed = jitscope("run", "--resume", "1", "--db", str(db), "--no-plot", env=env)

    assert resumed.returncode == 1, resumed.stdout + resumed.stderr  # the run still holds a failed cell
    after = _rows(db)
    assert [status for status, _, _ in after.values()] == ["ok", "ok", "failed"]
    assert after[0] == before[0] and after[2] == before[2]
    with Store(db) as store:
        assert store.runs()[0].environment["resumed"][0]["cells"] == [1]


# ---- nothing to do, refusals -------------------------------------------------------------------
def test_a_finished_run_has_nothing_to_resume(python_run: Path, tmp_path: Path) -> None:
    db = copy_database(python_run, tmp_path / "X.db")
    before = _rows(db)
    proc = jitscope("run", "--resume", "1", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "run 1 has no unfinished cells", proc.stdout
    assert _rows(db) == before
    out = tmp_path / "out.csv"  # an export asked for is still written: the whole run
    proc = jitscope("run", "--resume", "latest", "--db", str(db), "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "run 1 has no unfinished cells", proc.stdout
    assert [r["status"] for r in csv.DictReader(out.open())] == ["ok", "ok"]


def test_a_run_still_running_is_not_resumed(tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    with Store(db) as store:  # owned by this test process, which is alive
        store.start_run(command="jitscope run -w mcpi -b python", selection={"workloads": ["mcpi"], "backends": ["python"]})
    proc = jitscope("run", "--resume", "latest", "--db", str(db))
    assert_clean_error(proc, "run 1 is still running")
    _one_line(proc.stderr)


def test_an_imported_run_or_one_without_a_selection_is_not_resumed(tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    with Store(db) as store:
        store.import_cells([], label="other box", environment={})
        store.finish_run(store.start_run(command="x"), "interrupted")  # a run stored with no selection
    proc = jitscope("run", "--resume", "1", "--db", str(db))
    assert_clean_error(proc, "run 1 was imported")
    _one_line(proc.stderr)
    proc = jitscope("run", "--resume", "2", "--db", str(db))
    assert_clean_error(proc, "cannot resume run 2", "selection")
    _one_line(proc.stderr)


@pytest.mark.parametrize("extra", [["-b", "numpy"], ["-w", "lu"], ["-s", "10"], ["--budget", "0.5"], ["--seed", "1"],
                                   ["--label", "x"]])
def test_selection_options_with_resume_are_refused(extra: list[str], tmp_path: Path) -> None:
    proc = jitscope("run", "--resume", "1", *extra, "--db", str(tmp_path / "X.db"))
    assert_clean_error(proc, extra[0], "--resume")
    _one_line(proc.stderr)
    assert not (tmp_path / "X.db").exists()


@pytest.mark.parametrize(("run_id", "needle"), [("99", "no run 99"), ("abc", "not a positive whole number")])
def test_an_unknown_run_is_refused(run_id: str, needle: str, tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    Store(db).close()
    proc = jitscope("run", "--resume", run_id, "--db", str(db))
    assert_clean_error(proc, needle)
    _one_line(proc.stderr)


def _cut_run(tmp_path: Path, *args: str) -> Path:
    """A finished run of two cells whose second is then marked cancelled (as a cut run's is)."""
    db = tmp_path / "X.db"
    first = jitscope("run", *args, "-s", "1000,2000", *FAST, "--db", str(db))
    assert first.returncode == 0, first.stdout + first.stderr
    return _as_cut(db)


def _as_cut(db: Path) -> Path:
    _edit(db, "UPDATE cells SET status = 'cancelled' WHERE seq = 1")
    _edit(db, "UPDATE runs SET state = 'interrupted'")
    return db


@pytest.fixture(scope="module")
def python_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real two-cell run of ``-w mcpi -b python`` for the module; each test that only
    edits and resumes it takes :func:`cut_python_run`, its own copy."""
    db = tmp_path_factory.mktemp("python-run") / "X.db"
    first = jitscope("run", "-w", "mcpi", "-b", "python", "-s", "1000,2000", *FAST, "--db", str(db))
    assert first.returncode == 0, first.stdout + first.stderr
    return db


@pytest.fixture
def cut_python_run(python_run: Path, tmp_path: Path) -> Path:
    """``_cut_run(tmp_path, "-w", "mcpi", "-b", "python")``, from a copy of one module run."""
    return _as_cut(copy_database(python_run, tmp_path / "X.db"))


def test_a_run_of_another_host_is_refused(cut_python_run: Path) -> None:
    db = cut_python_run
    _edit_environment(db, {"host": "elsewhere.example"})
    proc = jitscope("run", "--resume", "1", "--db", str(db))
    assert_clean_error(proc, "elsewhere.example")
    _one_line(proc.stderr)
    assert _rows(db)[1][0] == "cancelled"


def test_a_changed_plan_is_refused_naming_the_first_difference(tmp_path: Path) -> None:
    plugin = tmp_path / "gate_copy.py"
    plugin.write_text(Path(GATE).read_text())
    db = _cut_run(tmp_path, "-w", "mcpi", "-w", str(plugin), "-b", "gate")
    plugin.write_text(Path(GATE).read_text().replace('default_variant="fine"', 'default_variant="fails"'))
    proc = jitscope("run", "--resume", "1", "--db", str(db))
    assert_clean_error(proc, "gate:fine", "gate:fails")
    _one_line(proc.stderr)
    plugin.unlink()  # the plugin gone altogether
    proc = jitscope("run", "--resume", "1", "--db", str(db))
    assert_clean_error(proc, "gate_copy.py")
    _one_line(proc.stderr)
    assert _rows(db)[1][0] == "cancelled"


def test_changed_versions_are_said_and_recorded(tmp_path: Path) -> None:
    db = _cut_run(tmp_path, "-w", "mcpi", "-b", "numpy")
    with Store(db) as store:
        env = store.runs()[0].environment
    workers = {**env["workers"], "numpy/cpu": {**env["workers"]["numpy/cpu"], "version": "0.0.2"}}
    _edit_environment(db, {"python": "CPython 3.0.0", "versions": {**env["versions"], "numpy": "0.0.1"},
                           "workers": workers})
    proc = jitscope("run", "--resume", "1", "--db", str(db), "--no-plot")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now_numpy = env["versions"]["numpy"]
    said = proc.stdout + proc.stderr
    assert f"numpy 0.0.1 then, {now_numpy} now: the resumed cells are timed with {now_numpy}" in said, said
    assert f"python CPython 3.0.0 then, {env['python']} now" in said, said
    with Store(db) as store:
        run = store.runs()[0]
    assert run.environment["python"] == "CPython 3.0.0"  # the original is kept as it was
    differences = run.environment["resumed"][0]["differences"]
    assert any("numpy 0.0.1" in d for d in differences) and any("CPython 3.0.0" in d for d in differences)
    assert any(d.startswith(f"numpy/cpu worker 0.0.2 then, {now_numpy} now") for d in differences), differences
    assert run.environment["workers"]["numpy/cpu"]["version"] == "0.0.2"  # the run's own, as recorded
    assert [status for status, _, _ in _rows(db).values()] == ["ok", "ok"]


def test_prepare_names_the_cells_to_run_for_the_app(cut_python_run: Path) -> None:
    from jitscope.runner.resume import prepare

    db = cut_python_run
    _edit(db, "DELETE FROM cells WHERE seq = 1")  # never recorded, as after a SIGKILL
    plan = prepare(db, "latest")
    assert plan.run_id == 1 and plan.todo == (1,) and plan.warnings == ()
    assert plan.selection.workloads == ["mcpi"] and plan.selection.budget_s == 0.05


def test_help_says_what_resume_runs_and_that_failed_is_final() -> None:
    proc = jitscope("run", "--help", columns=200)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.replace("│", " ").split())
    assert "--resume" in text and "failed is a final answer" in text, text


def test_a_run_taken_up_by_another_resume_first_is_not_taken_twice(tmp_path: Path) -> None:
    from jitscope.core.errors import UserError

    db = tmp_path / "X.db"
    with Store(db) as store:
        run_id = store.start_run(command="x")
        store.finish_run(run_id, "interrupted")
        seen = store.run(run_id)
        store.resume_run(run_id, {"resumed": [1]}, seen_state=seen.state, seen_finished_at=seen.finished_at)
        assert store.run(run_id).state == "running"
        with pytest.raises(UserError, match="changed while it was being resumed"):  # the second one, seeing the same
            store.resume_run(run_id, {"resumed": [2]}, seen_state=seen.state, seen_finished_at=seen.finished_at)
        assert store.run(run_id).environment == {"resumed": [1]}
