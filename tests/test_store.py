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
