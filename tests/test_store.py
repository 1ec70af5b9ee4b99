from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jitscope.core.errors import UserError
from jitscope.core.model import Accuracy, CellResult, CellSpec, Stats, Status
from jitscope.results.store import Store


def result(size: int, status: Status = Status.OK) -> CellResult:
    spec = CellSpec("mcpi", "numpy", "default", "cpu", "float64", size)
    stats = Stats(1e-3, 1e-5, 9e-4, 1e-3, 2e-5, 9.5e-4, 1.05e-3, 20, 10, False)
    return CellResult(spec, status, "", 0.01, 0.009, 0.0, stats, Accuracy(1e-3, "abs_error_pi", 4e-2, True), 1.0, None,
                      {"dtype_used": "float64", "weird": float("nan")})


def test_roundtrip_and_wal(db_path: Path) -> None:
    with Store(db_path) as store:
        rid = store.start_run(command="jitscope run", environment={"host": "h"})
        store.add_cell(rid, 0, result(10))
        store.add_cell(rid, 1, result(100, Status.SKIPPED))
        store.finish_run(rid)
        runs = store.runs()
        cells = store.cells(rid)
    assert [r.id for r in runs] == [rid]
    assert runs[0].state == "finished" and runs[0].cell_count == 2 and runs[0].ok_count == 1
    assert cells[0].stats == result(10).stats and cells[1].status == Status.SKIPPED
    mode = sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_each_cell_is_committed_immediately(db_path: Path) -> None:
    store = Store(db_path)
    rid = store.start_run()
    store.add_cell(rid, 0, result(10))
    # another connection (another process, in real life) sees it before the run ends
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT count(*) FROM cells WHERE run_id = ?", (rid,)).fetchone()[0] == 1
    store.close()


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="not a jitscope one"):
        Store(path)
    # and it was left untouched
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(UserError, match="not a jitscope database"):
        Store(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="directory"):
        Store(tmp_path)


def test_delete_and_unknown_run(db_path: Path) -> None:
    with Store(db_path) as store:
        rid = store.start_run()
        store.add_cell(rid, 0, result(10))
        assert store.delete_run(rid)
        assert store.cells(rid) == []
        with pytest.raises(UserError, match="no run"):
            store.run(rid)


def test_two_processes_write_one_database_concurrently(db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import result
        from jitscope.results.store import Store
        store = Store({str(db_path)!r})
        rid = store.start_run(label=sys.argv[1])
        for i in range(150):
            store.add_cell(rid, i, result(i + 1))
        store.finish_run(rid)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, f"writer{i}"]) for i in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with Store(db_path) as store:
        runs = store.runs()
        assert sorted(r.label for r in runs) == ["writer0", "writer1", "writer2"]
        for r in runs:
            cells = store.cells(r.id)
            assert len(cells) == 150
            assert [c.spec.size for c in cells] == list(range(1, 151))
    assert sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_jitscope_is_refused_and_left_alone(db_path: Path) -> None:
    from jitscope.results.store import SCHEMA_VERSION

    with Store(db_path) as store:
        store.start_run(command="x")
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = db_path.read_bytes()
    with pytest.raises(UserError, match="newer jitscope"):
        Store(db_path)
    with pytest.raises(UserError, match="newer jitscope"):
        Store(db_path, create=False)
    assert db_path.read_bytes() == before


SCHEMA_1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, finished_at REAL,
    state TEXT NOT NULL DEFAULT 'running', label TEXT NOT NULL DEFAULT '', command TEXT NOT NULL DEFAULT '',
    selection TEXT NOT NULL DEFAULT '{}', environment TEXT NOT NULL DEFAULT '{}');
CREATE TABLE cells (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL, workload TEXT NOT NULL,
    backend TEXT NOT NULL, variant TEXT NOT NULL, device TEXT NOT NULL, dtype TEXT NOT NULL, size INTEGER NOT NULL,
    status TEXT NOT NULL, median_s REAL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"""


def test_a_schema_1_database_is_migrated_and_keeps_its_runs(db_path: Path) -> None:
    import json

    from jitscope.results.store import APPLICATION_ID, SCHEMA_VERSION

    conn = sqlite3.connect(db_path)
    conn.executescript(SCHEMA_1)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (started_at, state, command) VALUES (1.0, 'finished', 'old run')")
    conn.execute("INSERT INTO runs (started_at, state, command) VALUES (2.0, 'running', 'who knows')")
    cell = result(10)
    conn.execute("INSERT INTO cells VALUES (1, 0, 'mcpi', 'numpy', 'default', 'cpu', 'float64', 10, 'ok', ?, ?)",
                 (cell.median_s, json.dumps(cell.to_json())))
    conn.commit()
    conn.close()
    with Store(db_path) as store:
        runs = {r.id: r for r in store.runs()}
        cells = store.cells(1)
        new = store.start_run(command="new")  # writing works after the migration
    assert runs[1].state == "finished" and runs[1].command == "old run"
    assert runs[2].state == "running"  # no owner was recorded: it is not guessed abandoned
    assert cells[0].stats == cell.stats
    check = sqlite3.connect(db_path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert check.execute("SELECT owner FROM runs WHERE id = ?", (new,)).fetchone()[0] != ""
