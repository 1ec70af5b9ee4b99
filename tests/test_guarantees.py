"""Issue 7's cases, one test (or more) each, through the real command where a user would go.

Each test is named after what it checks; the ``# ---- N.`` headings group them by the case they
cover. The README's "What jitscope guarantees" section is backed by these tests.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from cli_support import (
    CHAOS,
    assert_clean_error,
    copy_database,
    jitscope,
    live_workers,
    module_run,
    pids_alive,
    start_jitscope,
    wait_for_cells,
    wait_until,
    worker_pids,
)

from jitscope.results.store import Store

MCPI = ["-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.02", "--no-plot"]


def _db_ok(path: Path) -> int:
    with Store(path) as store:
        return len(store.runs())


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one real ``jitscope run`` (MCPI), made once for the module."""
    return module_run(tmp_path_factory.mktemp("one-run"), "X.db", *MCPI)


@pytest.fixture
def db(one_run: Path, tmp_path: Path) -> Path:
    """``tmp_path/X.db``: this test's own copy of :func:`one_run`'s database (which the test
    may damage, lock or refuse to write into), instead of a ``jitscope run`` of its own."""
    return copy_database(one_run, tmp_path / "X.db")


# ---- 1. an export path equal to the database ---------------------------------------------------
@pytest.mark.parametrize("flag", ["--csv", "--json", "--md"])
def test_export_path_equal_to_the_database_is_refused(flag: str, db: Path) -> None:
    assert_clean_error(jitscope("run", *MCPI, "--db", str(db), flag, str(db)), "database")
    assert_clean_error(jitscope("export", "1", "--db", str(db), flag, str(db)), "database")
    assert _db_ok(db) == 1  # untouched


def test_aliases_of_the_database_are_refused_too(db: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(db)
    hard = tmp_path / "hard.csv"
    os.link(db, hard)
    for target in (link, hard, Path(str(db) + "-wal"), Path(str(db) + "-shm"), tmp_path / "." / "X.db"):
        assert_clean_error(jitscope("export", "1", "--db", str(db), "--csv", str(target)), "database")
    assert _db_ok(db) == 1


# ---- 2. NaN parameters, and results matched to cells by id -----------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_parameters_are_refused(value: str, tmp_path: Path) -> None:
    proc = jitscope("run", "-w", "nodes", "-b", "numpy", "-s", "10,20", "-p", f"p={value}", "--db", str(tmp_path / "X.db"))
    assert_clean_error(proc, "finite")


# ---- 3. signals -------------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "reason"), [(signal.SIGTERM, "interrupted by SIGTERM"),
                                             (signal.SIGINT, "interrupted by SIGINT (Ctrl-C)")])  # SIGHUP detaches
def test_a_signal_keeps_finished_cells_marks_interrupted_and_writes_exports(sig: int, reason: str, tmp_path: Path) -> None:
    """Also issue 19 item 6 (the rest of it in test_signals_meaning.py): the cell the signal
    cut names the signal, never "cancelled by the user", in the export and in ``show``."""
    db, out = tmp_path / "X.db", tmp_path / "out.csv"
    proc = start_jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:fine,chaos:hang", "-s", "1000", "--budget", "0.02",
                          "--timeout", "600", "--db", str(db), "--csv", str(out), "--no-plot")
    wait_for_cells(db, 1)
    workers = live_workers()  # the hanging cell's
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    with Store(db) as store:
        run = store.runs()[0]
        cells = store.cells(run.id)
    assert run.state == "interrupted"
    assert [c.status.value for c in cells] == ["ok", "cancelled"]
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["ok", "cancelled"]
    assert rows[1]["reason"] == reason
    wait_until(lambda: pids_alive(workers) == [], 5, "the run's workers gone with it")
    shown = jitscope("show", "1", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert reason in shown.stdout and "by the user" not in shown.stdout


def test_sigkill_of_the_parent_kills_the_worker_and_the_run_reads_abandoned(tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    before = set(os.listdir(tempfile.gettempdir()))
    proc = start_jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:fine,chaos:hang", "-s", "1000", "--budget", "0.02",
                          "--timeout", "600", "--db", str(db), "--no-plot")
    wait_for_cells(db, 1)
    workers = live_workers()  # the hanging cell's
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while pids_alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_alive(workers) == [], "the worker must die with its parent"
    history = jitscope("history", "--db", str(db))
    assert history.returncode == 0, history.stderr
    assert "abandoned" in history.stdout and "running" not in history.stdout
    with Store(db) as store:
        assert store.runs()[0].state == "abandoned"
    # the worker's temporary folder did not survive it (the worker removes it when orphaned)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [n for n in set(os.listdir(tempfile.gettempdir())) - before
                  if n.startswith(f"jitscope-worker-{proc.pid}-")]  # this run's, not a parallel test's
        if not leaked:
            break
        time.sleep(0.1)
    assert leaked == []


def test_a_live_run_of_another_process_is_not_called_abandoned(tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    with Store(db) as store:
        run_id = store.start_run(command="x")
        assert store.run(run_id).state == "running"
    with Store(db) as again:  # we are alive: still running
        assert again.run(run_id).state == "running"


# ---- 4. markup in stored text -------------------------------------------------------------------
def test_markup_in_a_cell_error_and_a_label_never_crashes_a_report(tmp_path: Path) -> None:
    db, md, out = tmp_path / "X.db", tmp_path / "r.md", tmp_path / "r.csv"
    proc = jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:markup", "-s", "1000", "--budget", "0.02", "--db", str(db),
                    "--csv", str(out), "--md", str(md), "--label", "[/] x [bold]", "--no-plot")
    assert proc.returncode == 1, proc.stderr  # a failed cell, not a crash
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "cannot open [/tmp/data.bin]" in proc.stdout
    assert "\x1b[31m" not in proc.stdout  # control characters from a worker are not replayed
    assert out.exists() and md.exists()
    show = jitscope("show", "1", "--db", str(db), "--no-plot")
    assert show.returncode == 0, show.stderr
    assert "cannot open [/tmp/data.bin]" in show.stdout
    history = jitscope("history", "--db", str(db))
    assert history.returncode == 0, history.stderr
    assert "[/] x [bold]" in history.stdout


# ---- 5. exports to special files and stdout ------------------------------------------------------
def test_csv_to_stdout_is_the_csv_and_nothing_else(tmp_path: Path) -> None:
    proc = jitscope("run", *MCPI, "--db", str(tmp_path / "X.db"), "--csv", "-")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["backend"] for r in rows] == ["numpy"] and rows[0]["status"] == "ok"
    assert "saved as run" in proc.stderr  # the human summary went to stderr


def test_csv_pipes_into_pandas(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *MCPI, "--db", str(tmp_path / "X.db"),
                            "--csv", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    reader = subprocess.run([sys.executable, "-c", "import sys, pandas; print(len(pandas.read_csv(sys.stdin)))"],
                            stdin=run.stdout, capture_output=True, text=True, timeout=120)
    run.wait(timeout=120)
    assert run.returncode == 0 and reader.stdout.strip() == "1", reader.stderr


def test_exports_write_through_symlinks_and_into_fifos(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got: dict[str, str] = {}

    def read_fifo() -> None:
        with open(fifo, encoding="utf-8") as fh:
            got["json"] = fh.read()

    import threading

    reader = threading.Thread(target=read_fifo)
    reader.start()
    proc = jitscope("run", *MCPI, "--db", str(tmp_path / "X.db"), "--csv", str(link), "--json", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and stat.S_ISFIFO(fifo.stat().st_mode)  # neither replaced
    assert real.read_text().startswith("run_id,")
    assert json.loads(got["json"])["cells"][0]["status"] == "ok"


def test_csv_to_dev_stdout_is_the_csv_and_a_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    """/dev/stdout is standard output (the CSV alone there); a character device (a /dev/null
    made in tmp_path, so a broken writer cannot harm the real one) stays a device: an atomic
    rename over it would have replaced it with a regular file."""
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.stat("/dev/null").st_rdev)
    except PermissionError:
        pytest.skip("making a device node needs root")
    proc = jitscope("run", *MCPI, "--db", str(tmp_path / "X.db"), "--csv", "/dev/stdout", "--json", str(device))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["backend"], r["status"]) for r in rows] == [("numpy", "ok")]
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".null.")]  # no temporary left


# ---- 6. a worker that closes its channel and keeps running ---------------------------------------
def test_a_worker_that_closes_its_channel_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:closed,chaos:fine", "-s", "1000", "--budget", "0.02",
                    "--timeout", "3", "--db", str(tmp_path / "X.db"), "--no-plot", timeout=120)
    assert time.monotonic() - t0 < 60
    assert proc.returncode == 1
    with Store(tmp_path / "X.db") as store:
        cells = store.cells(1)
    assert [c.status.value for c in cells] == ["timeout", "ok"]


# ---- 7. tracebacks where one line and exit 2 are promised ----------------------------------------
def test_a_read_only_database_is_refused_before_any_work(db: Path, tmp_path: Path) -> None:
    for name in ("X.db", "X.db-wal", "X.db-shm"):
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o444)
    proc = jitscope("run", *MCPI, "--db", str(db), obey_permissions=True)
    assert_clean_error(proc, "read-only")
    assert "ready on" not in proc.stdout + proc.stderr  # refused before any worker started
    assert "saved as run" not in proc.stderr  # nothing was run, so nothing claims to be saved
    history = jitscope("history", "--db", str(db), obey_permissions=True)  # reading it is fine
    assert history.returncode == 0 and "1/1" in history.stdout, history.stderr


def _corrupt(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = 4096
    for i in range(page + 100, min(len(data), 3 * page)):  # damage the pages after the header
        data[i] = 0xA5
    db.write_bytes(bytes(data))


def test_a_corrupt_database_is_refused_by_run_and_history(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _corrupt(db)
    before = db.read_bytes()
    assert_clean_error(jitscope("history", "--db", str(db)), "corrupt")
    assert_clean_error(jitscope("run", *MCPI, "--db", str(db)), "corrupt")
    assert db.read_bytes() == before  # run did not write into it
    # A bare `jitscope` (the app, opened without Typer for a fast first frame) refuses it too,
    # before any screen is drawn.
    assert_clean_error(jitscope(env={"JITSCOPE_DB": str(db)}), "corrupt")
    assert db.read_bytes() == before


def test_a_full_disk_keeps_finished_cells_and_says_the_disk_is_full(tmp_path: Path) -> None:
    """The store's writes fail with SQLITE_FULL after the first cell (as on a full disk)."""
    code = f"""
import sqlite3, sys
from jitscope.results import store as st
real = st.Store.add_cell
calls = []
def add_cell(self, run_id, seq, result):
    calls.append(seq)
    if len(calls) > 1:
        raise sqlite3.OperationalError("database or disk is full")
    return real(self, run_id, seq, result)
st.Store.add_cell = add_cell
from jitscope.cli import main
sys.argv = ["jitscope", "run", "-w", "mcpi", "-b", "numpy", "-s", "1000,2000,3000", "--budget", "0.02",
            "--no-plot", "--db", {str(tmp_path / 'X.db')!r}]
main()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "disk is full" in proc.stderr
    with Store(tmp_path / "X.db") as store:
        run = store.runs()[0]
        assert [c.status.value for c in store.cells(run.id)] == ["ok"]
        assert run.state == "interrupted"


@pytest.mark.parametrize("run_id", [str(2**63), str(2**64 + 5), "0", "1e3"])
def test_huge_or_odd_run_ids_are_one_line(run_id: str, db: Path, tmp_path: Path) -> None:
    assert_clean_error(jitscope("show", run_id, "--db", str(db)))
    assert_clean_error(jitscope("export", run_id, "--db", str(db), "--csv", str(tmp_path / "o.csv")))


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"run_id,workload,backend,variant,device,dtype,size,status\n1,mcpi,numpy\n", "line 2"),
        (b'run_id,workload,backend,variant,device,dtype,size,status\n1,"mcpi,numpy,default,cpu,float64,10,ok\n', "line"),
        (b"run_id,workload,backend,variant,device,dtype,size,status\n1,mcpi,numpy,default,cpu,float64,10,ok\xff\xfe\n", "UTF-8"),
        (b"run_id,workload,backend,variant,device,dtype,size,status\n1,mcpi,numpy,default,cpu,float64,nan,ok\n", "size"),
        (b"run_id,workload,backend,variant,device,dtype,size,status\n1,mcpi,numpy,default,cpu,float64,-5,ok\n", "size"),
    ],
)
def test_import_of_a_broken_csv_is_one_line(content: bytes, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert_clean_error(jitscope("import", str(path), "--db", str(tmp_path / "X.db")), needle)


# ---- 8. plugins that exit or shadow a built-in ---------------------------------------------------
@pytest.mark.parametrize("body", ["import sys\nsys.exit(3)\n", "raise KeyboardInterrupt\n", "raise SystemExit\n"])
def test_a_plugin_that_exits_at_import_is_reported(body: str, tmp_path: Path) -> None:
    plugin = tmp_path / "exits.py"
    plugin.write_text(body)
    proc = jitscope("run", "-w", str(plugin), "-b", "numpy", "--db", str(tmp_path / "X.db"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "exits.py" in proc.stderr


def test_a_plugin_workload_named_like_a_built_in_is_refused(tmp_path: Path) -> None:
    plugin = tmp_path / "shadow.py"
    plugin.write_text(
        "import jitscope\n"
        "WORKLOAD = jitscope.workload('mcpi', inputs=lambda n: {'n': n}, sizes=(10,))\n"
        "WORKLOAD.reference(lambda n: float(n))\n"
    )
    assert_clean_error(jitscope("run", "-w", str(plugin), "-b", "numpy", "--db", str(tmp_path / "X.db")),
                       "mcpi", "built-in")


# ---- 9. the timing lock is machine-wide ------------------------------------------------------
def test_the_timing_lock_does_not_depend_on_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jitscope.core.paths import timing_lock_address

    monkeypatch.delenv("JITSCOPE_TIMING_LOCK", raising=False)
    monkeypatch.setenv("JITSCOPE_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t1"))
    first = timing_lock_address()
    monkeypatch.setenv("JITSCOPE_HOME", str(tmp_path / "b"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t2"))
    assert timing_lock_address() == first
    assert str(tmp_path) not in str(first)


# ---- 10. weak validation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,needle",
    [
        (["--budget", "inf"], "budget"),
        (["--budget", "nan"], "budget"),
        (["--timeout", "inf"], "timeout"),
        (["--seed", "-1"], "seed"),
        (["--baseline", "nosuch"], "baseline"),
        (["--threads", "0"], "threads"),
    ],
)
def test_bad_run_options_are_refused_up_front(args: list[str], needle: str, tmp_path: Path) -> None:
    assert_clean_error(jitscope("run", *MCPI, "--db", str(tmp_path / "X.db"), *args), needle)
    assert not (tmp_path / "X.db").exists() or _db_ok(tmp_path / "X.db") == 0


def test_an_absurd_parameter_is_refused_before_any_worker(tmp_path: Path) -> None:
    t0 = time.monotonic()
    assert_clean_error(jitscope("run", "-w", "linreg", "-b", "numpy", "-s", "100", "-p", "epochs=1e26",
                                "--db", str(tmp_path / "X.db")), "epochs")
    assert time.monotonic() - t0 < 30


def test_history_of_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    db = tmp_path / "nope.db"
    assert_clean_error(jitscope("history", "--db", str(db)), "no database")
    assert_clean_error(jitscope("show", "1", "--db", str(db)), "no database")
    assert not db.exists()


# ---- 11. narrow and colourless terminals -----------------------------------------------------
def test_a_40_column_table_keeps_the_key_columns(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy,python", "-s", "1000,20000", "--budget", "0.02", "--no-plot",
                    "--db", str(tmp_path / "X.db"), columns=40)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout
    assert "2e4" in table and "1e3" in table  # the size column survived (one size style, issue 21)
    assert "…" not in table  # no number cut
    lines = [line for line in table.splitlines() if line.startswith("mcpi")]  # the table's rows
    assert len(lines) == 4 and all(" ok " in line for line in lines)
    assert all(len(line) <= 40 for line in lines)
    history = jitscope("history", "--db", str(tmp_path / "X.db"), columns=40)
    assert any("id" in line and "state" in line and "ok/cells" in line for line in history.stdout.splitlines())
    assert all(len(line) > 3 for line in history.stdout.splitlines() if line.strip())  # nothing letter by letter


def test_without_colour_each_series_has_its_own_marker() -> None:
    from jitscope.plots import Series, render

    series = [Series(name, [1, 10, 100], [k * 1e-3, k * 1e-2, k * 1e-1]) for k, name in ((1, "a"), (3, "b"), (9, "c"))]
    text = render(series, width=70, height=20, color=False)
    markers = {ch for ch in text if not ch.isalnum() and not ch.isspace() and ch not in "┌┐└┘─│┬┴├┤┼."}
    assert len(markers) >= 3, text


# ---- 12. --baseline with a backend whose default variant is not "default" ------------------------
def test_baseline_torch_means_torch_eager(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy,torch", "-s", "10000", "--budget", "0.02", "--no-plot",
                    "--baseline", "torch", "--db", str(tmp_path / "X.db"), "--csv", "-")
    assert proc.returncode == 0, proc.stderr
    assert "1.00x" in proc.stderr  # torch against itself; numpy's speed-up is printed too


# ---- the chaos sweep: every kind of failure, then SIGTERM ---------------------------------------
def test_chaos_sweep_then_sigterm_keeps_every_finished_cell(tmp_path: Path) -> None:
    db, out_csv, out_json = tmp_path / "X.db", tmp_path / "o.csv", tmp_path / "o.json"
    variants = ["fine", "segfault", "exit", "garbage", "closed", "nan", "huge", "markup", "slow", "hang"]
    proc = start_jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", ",".join(f"chaos:{v}" for v in variants), "-s", "1000",
                          "--budget", "0.02", "--timeout", "4", "--db", str(db), "--csv", str(out_csv),
                          "--json", str(out_json), "--no-plot")
    wait_for_cells(db, len(variants) - 1, timeout=180)
    workers = live_workers()  # the hanging cell's
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    with Store(db) as store:
        run = store.runs()[0]
        got = {c.spec.variant: c for c in store.cells(run.id)}
    assert run.state == "interrupted"
    expected = {"fine": "ok", "segfault": "crashed", "exit": "crashed", "garbage": "failed", "closed": "timeout",
                "nan": "failed", "huge": "failed", "markup": "failed", "slow": "ok", "hang": "cancelled"}
    assert {v: c.status.value for v, c in got.items()} == expected
    assert "out of memory" in got["huge"].reason
    assert [r["status"] for r in csv.DictReader(out_csv.open())].count("ok") == 2
    assert len(json.loads(out_json.read_text())["cells"]) == len(variants)
    wait_until(lambda: pids_alive(workers) == [] and worker_pids() == [], 5, "the run's workers gone with it")
