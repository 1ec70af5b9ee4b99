"""The real command, end to end, as a user runs it (subprocesses, real workers)."""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BROKEN, CHAOS, EXAMPLE

from jitscope.core.model import CellResult, CellSpec, Status


def jitscope(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "jitscope.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=full_env)


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "args,needles",
    [
        (["-w", "nope", "-b", "numpy"], ["unknown workload 'nope'", "linreg"]),
        (["-w", "mcpi", "-b", "nope"], ["unknown backend 'nope'", "numpy"]),
        (["-w", "mcpi", "-b", "numpy:turbo"], ["no variant 'turbo'", "default"]),
        (["-w", "mcpi", "-b", "numpy", "-s", "abc"], ["size 'abc'"]),
        (["-w", "mcpi", "-b", "numpy", "-s", "-5"], ["size '-5'"]),
        (["-w", "mcpi", "-b", "numpy", "-s", "0"], ["size '0' must be positive"]),
        (["-w", "mcpi", "-b", "numpy", "-s", ""], ["empty entry"]),
        (["-w", "linreg", "-b", "numpy", "-s", "100000000"], ["needs about", "choose a smaller size"]),
        (["-w", "mcpi", "-b", "numpy", "-p", "epochs=3"], ["no selected workload has a parameter 'epochs'"]),
        (["-w", "linreg", "-b", "numpy", "-p", "epochs=many"], ["epochs='many'"]),
        (["-w", "mcpi", "-b", "numpy", "--dtype", "float16"], ["dtype 'float16'"]),
        (["-w", "mcpi", "-b", "numpy", "--device", "tpu"], ["device 'tpu'"]),
        (["-w", BROKEN, "-b", "numpy"], ["broken_plugin.py failed to import (line 3)", "deliberately broken"]),
        (["-w", "mcpi", "-b", "numpy", "--csv", "/proc/no/such/dir/out.csv"], ["not writable"]),
        ([], ["no workload selected"]),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], needles: list[str], tmp_path: Path) -> None:
    proc = jitscope("run", "--db", str(tmp_path / "db.sqlite"), *args)
    assert_clean_error(proc, *needles)
    assert len(proc.stderr.strip().splitlines()) <= 3  # one message (soft-wrapped at most)


def test_foreign_and_garbage_databases_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    assert_clean_error(jitscope("run", "-w", "mcpi", "-b", "numpy", "--db", str(foreign)), "not a jitscope one")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(4096))
    assert_clean_error(jitscope("history", "--db", str(garbage)), "not a jitscope database")
    new = tmp_path / "new.sqlite"
    assert_clean_error(jitscope("export", "9", "--csv", str(tmp_path / "x.csv"), "--db", str(new)), "no database")
    assert not new.exists()  # reading commands never create a database


def test_run_history_show_export_import(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    db = str(tmp_path / "db.sqlite")
    csv_path, json_path, md_path = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.md"
    proc = jitscope("run", "-w", "mcpi", "-w", "lu", "-b", "python,numpy", "-s", "16,64", "--budget", "0.02",
                    "--db", db, "--csv", str(csv_path), "--json", str(json_path), "--md", str(md_path), "--baseline", "python")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "speed-up vs python" in proc.stdout
    assert "median time per call" in proc.stdout  # the plot
    frame = pd.read_csv(csv_path)
    assert len(frame) == 8 and set(frame["status"]) == {"ok"} and frame["accurate"].all()
    # python and numpy have no compiler: observed "no", and no compile time at all
    assert set(frame["compiled"]) == {"no"} and frame["compile_s"].isna().all()
    assert (frame["first_call_s"] > 0).all() and (frame["startup_s"] > 0).all()
    assert set(frame["backend"]) == {"python", "numpy"}
    assert "| lu | numpy:default |" in md_path.read_text()

    hist = jitscope("history", "--db", db)
    assert hist.returncode == 0 and "8/8" in hist.stdout
    shown = jitscope("show", "latest", "--db", db, "--no-plot")
    assert shown.returncode == 0 and "numpy" in shown.stdout
    again = tmp_path / "again.csv"
    exported = jitscope("export", "1", "--csv", str(again), "--db", db)
    assert exported.returncode == 0
    # identical rows whichever path wrote them
    assert again.read_text() == csv_path.read_text()
    imported = jitscope("import", str(csv_path), "--label", "laptop", "--db", db)
    assert imported.returncode == 0 and "as run 2" in imported.stdout
    assert "laptop" in jitscope("history", "--db", db).stdout


def test_failed_cell_gives_exit_1_and_everything_else_is_saved(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    out = tmp_path / "r.csv"
    proc = jitscope("run", "-w", "mcpi", "-w", CHAOS, "-b", "chaos:fine,chaos:segfault,numpy", "-s", "1000",
                    "--budget", "0.02", "--db", str(db), "--csv", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = out.read_text()
    assert text.count("\n") == 4  # header + 3 cells
    assert "crashed" in text and "SIGSEGV" in text
    rows = sqlite3.connect(db).execute("SELECT backend, variant, status FROM cells ORDER BY seq").fetchall()
    assert rows == [("chaos", "fine", "ok"), ("chaos", "segfault", "crashed"), ("numpy", "default", "ok")]


def test_example_plugin_runs_end_to_end(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", EXAMPLE, "-b", "python,numpy", "-s", "1000", "--budget", "0.02",
                    "--db", str(tmp_path / "db.sqlite"), "--no-plot")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" ok ") >= 2 and "dot" in proc.stdout
    listing = jitscope("workloads", "-w", EXAMPLE)
    assert "dot — dot product" in listing.stdout


@pytest.mark.slow
def test_listings() -> None:
    backends = jitscope("backends", "--no-probe")
    assert backends.returncode == 0
    for name in ("python", "numpy"):
        assert name in backends.stdout
    # The one probe of every installed backend in the suite (each in a worker: TensorFlow,
    # torch, jax... started once here), with numba's CUDA simulator on so that it also shows a
    # simulated device; wide, so no row folds.
    probed = jitscope("backends", env={"NUMBA_ENABLE_CUDASIM": "1", "COLUMNS": "250"})
    assert probed.returncode == 0, probed.stderr
    numpy_row = next(line for line in probed.stdout.splitlines() if line.lstrip("│ ").startswith("numpy"))
    assert "available" in numpy_row and "blas" in numpy_row.lower()  # the worker reported its BLAS
    if importlib.util.find_spec("numba") is not None:
        numba_row = next(line for line in probed.stdout.splitlines() if line.startswith("│ numba "))
        assert "cpu, cuda (simulated)" in numba_row, numba_row
    workloads = jitscope("workloads")
    assert all(w in workloads.stdout for w in ("linreg", "mcpi", "lu", "nodes"))
    usage = jitscope("--help")
    assert usage.returncode == 0 and "jitscope run" in usage.stdout


def test_two_concurrent_runs_share_one_database(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite")
    args = ["run", "-w", "mcpi", "-w", "nodes", "-b", "numpy", "-s", "100,1000,10000", "--budget", "0.05", "--db", db, "--no-plot"]
    cmd = [sys.executable, "-m", "jitscope.cli", *args]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM runs WHERE state = 'finished'").fetchone()[0] == 2
    assert conn.execute("SELECT run_id, count(*) FROM cells GROUP BY run_id").fetchall() == [(1, 6), (2, 6)]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_seed_sweep_python_vs_numpy_default_sizes(tmp_path: Path) -> None:
    """The issue's acceptance run: four workloads, python and numpy, default sizes."""
    pd = pytest.importorskip("pandas")
    out = tmp_path / "seed.csv"
    proc = jitscope("run", "-w", "linreg", "-w", "mcpi", "-w", "lu", "-w", "nodes", "-b", "python,numpy",
                    "--budget", "0.02", "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), "--no-plot", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 24 and set(frame["status"]) == {"ok"} and frame["accurate"].all()
    # Speed ratios are not asserted here (a loaded machine makes them flaky): they are
    # benchmarks (benchmarks/backends.py, docs/performance.md).


def test_readme_matrix_is_the_generated_one() -> None:
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- matrix:start -->\n", 1)[1].split("<!-- matrix:end -->", 1)[0].strip()
    generated = jitscope("workloads", "--matrix", "--markdown").stdout.strip()
    assert generated.startswith("| backend:variant | linreg | lu | mcpi | nodes |")
    assert "| numpy:default | ✓ | ✓ | ✓ | ✓ |" in generated
    assert block == generated, "README matrix is stale: paste `jitscope workloads --matrix --markdown`"


def test_the_table_shows_what_the_worker_observed_and_each_start_up_once(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", "-s", "1000,2000", "--budget", "0.02", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum("ready on cpu; start-up" in line for line in lines) == 1  # one worker, said once
    header = next(line for line in lines if line.split()[:2] == ["workload", "backend"])
    assert "compiled" in header and "peak mem" in header
    rows = [line.split() for line in lines if line.startswith(" mcpi") or line.startswith("mcpi")]
    at = header.split().index("compiled")
    assert len(rows) == 2 and all(row[at] == "no" for row in rows)  # numpy compiles nothing
    assert all(any(re.fullmatch(r"[\d.]+(B|KiB|MiB|GiB)", cell) for cell in row) for row in rows)  # peak host memory


def _ok(backend: str, median: float) -> CellResult:
    from jitscope.core.model import Stats

    spec = CellSpec("lu", backend, "default", "cpu", "float64", 100)
    return CellResult(spec, Status.OK, stats=Stats(median, 0.0, median, median, 0.0, median, median, 5, 1, False))


def test_a_tiny_speed_up_is_not_printed_as_zero() -> None:
    from rich.console import Console

    from jitscope.cli_run import report_table

    table, _ = report_table([_ok("numba", 1e-4), _ok("python", 1.0)], baseline=None, width=120)
    console = Console(width=120, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "0.0001x" in text and "0.00x" not in text


def test_at_80_columns_the_key_columns_stay_and_secondary_ones_go_first() -> None:
    from rich.console import Console

    from jitscope.cli_run import report_table
    from jitscope.core.columns import CLI_TABLE, headers

    KEY_COLUMNS = headers(CLI_TABLE, CLI_TABLE.answer)
    results = [_ok("numba", 1.23e-4), _ok("python", 1.0)]
    for width in (80, 40):
        table, _ = report_table(results, baseline=None, width=width)
        headers = [str(c.header) for c in table.columns]
        assert all(k in headers for k in KEY_COLUMNS), headers
        console = Console(width=width, record=True, color_system=None)
        console.print(table)
        assert all(len(line) <= width for line in console.export_text().splitlines())
    narrow = [str(c.header) for c in report_table(results, None, 40)[0].columns]
    wide = [str(c.header) for c in report_table(results, None, 120)[0].columns]
    assert set(narrow) < set(wide)  # something was dropped to fit, nothing added
