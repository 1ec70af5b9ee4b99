"""Stop signals at the awkward moments: before cells start, during cleanup, during exports,
in the middle of a commit. Issue 7 case 3 (tests/test_guarantees.py) covers the plain case.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from cli_support import CHAOS, cells_in, start_jitscope, wait_until, worker_pids

from jitscope.core.model import CellResult, Status
from jitscope.core.registry import load_registry
from jitscope.results.store import Store
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Selection, build_plan
from jitscope.runner.recorded_run import RecordedRun
from jitscope.runner.supervisor import Supervisor


def _run_state(db: Path) -> str:
    with sqlite3.connect(db) as conn:  # raw: Store would relabel a dead process's run
        return str(conn.execute("SELECT state FROM runs").fetchone()[0])


def test_ctrl_c_while_an_export_waits_finishes_every_export_and_exits_130(tmp_path: Path) -> None:
    """The sweep is over and the JSON export waits for a reader (a FIFO): a Ctrl-C there
    must neither print a traceback nor lose the exports after it."""
    db, fifo, md = tmp_path / "X.db", tmp_path / "out.json", tmp_path / "out.md"
    os.mkfifo(fifo)
    proc = start_jitscope("run", "-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.02", "--no-plot",
                          "--db", str(db), "--json", str(fifo), "--md", str(md))
    wait_until(lambda: db.exists() and cells_in(db) == 1 and _run_state(db) == "finished", what="the run finished")
    time.sleep(0.3)  # now blocked opening the FIFO
    proc.send_signal(signal.SIGINT)
    exported: list[str] = []
    reader = threading.Thread(target=lambda: exported.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    out, err = proc.communicate(timeout=60)
    if reader.is_alive():  # jitscope died without opening the FIFO: unblock our reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err + out
    assert exported and '"status": "ok"' in exported[0]
    assert md.exists() and "| mcpi |" in md.read_text()
    assert _run_state(db) == "finished"  # every cell did finish


def test_a_second_signal_during_cleanup_does_not_cut_it_short(tmp_path: Path) -> None:
    """SIGTERM mid-cell; while jitscope records the unfinished cell (held up here by a lock
    on the database) a second SIGTERM and a Ctrl-C arrive. The bookkeeping still completes:
    the run is ``interrupted``, the cancelled cell is stored, the CSV has both cells."""
    db, out_csv = tmp_path / "X.db", tmp_path / "out.csv"
    proc = start_jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:fine,chaos:hang", "-s", "1000",
                          "--budget", "0.02", "--timeout", "600", "--db", str(db), "--csv", str(out_csv), "--no-plot")
    wait_until(lambda: db.exists() and cells_in(db) == 1, what="the first cell")
    time.sleep(0.5)  # the hanging cell runs
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # jitscope's next write waits for us
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)  # jitscope now waits on the lock, recording the cancelled cell
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    blocker.execute("COMMIT")
    blocker.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err  # the first signal decides
    assert "Traceback" not in err
    assert _run_state(db) == "interrupted"
    with Store(db) as store:
        assert [c.status.value for c in store.cells(1)] == ["ok", "cancelled"]
    assert [r["status"] for r in csv.DictReader(out_csv.open())] == ["ok", "cancelled"]
    assert worker_pids() == []


SLOW_PLUGIN = """
import pathlib, time
pathlib.Path({marker!r}).write_text("importing")
time.sleep(60)
import jitscope
WORKLOAD = jitscope.workload("slowplugin", inputs=lambda n: {{"n": n}}, sizes=(10,))
WORKLOAD.reference(lambda n: float(n))
"""


def test_ctrl_c_before_any_cell_exits_130_and_blames_no_plugin(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_PLUGIN.format(marker=str(marker)))
    proc = start_jitscope("run", "-w", str(plugin), "-b", "numpy", "--db", str(tmp_path / "X.db"))
    wait_until(marker.exists, what="the plugin's import")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert "slow.py" not in err  # the plugin did not fail: the user stopped jitscope


def test_a_signal_in_the_middle_of_a_commit_keeps_that_cell(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signal lands while the finished cell is being committed (the transaction rolls
    back): the cell is still stored as it finished, not as ``cancelled``."""
    registry = load_registry([CHAOS])
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("chaos", "fine")], sizes=[1000, 2000],
                                          budget_s=0.02, timeout_s=60))
    rec = RecordedRun(plan, registry, db_path, supervisor_factory=lambda p, r: Supervisor(p, r, lock_path=None))
    real_add_cell = Store.add_cell
    calls: list[int] = []

    def add_cell_interrupted_once(self: Store, run_id: int, seq: int, result: CellResult) -> None:
        calls.append(seq)
        if len(calls) == 1:
            raise KeyboardInterrupt  # as a signal handler would, before the commit
        real_add_cell(self, run_id, seq, result)

    monkeypatch.setattr(Store, "add_cell", add_cell_interrupted_once)
    seen: list[CellFinished] = []
    try:
        for event in rec.events():
            if isinstance(event, CellFinished):
                seen.append(event)
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    with Store(db_path) as store:
        run = store.runs()[0]
        cells = store.cells(run.id)
    assert run.state == "interrupted"
    assert [c.status for c in cells] == [Status.OK, Status.CANCELLED]
    assert cells[0].stats is not None  # the measurement itself, not a placeholder
    assert [r.status for r in rec.ordered_results()] == [Status.OK, Status.CANCELLED]
