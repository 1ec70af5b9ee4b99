"""Issue 20 item 4, through the real command: ``--threads 1,2,4``, ``--dtype float32,float64``
and ``--device cpu,cuda`` take lists, every combination is a cell, each thread count runs in
a worker of its own with that thread cap set before any import, bad values are one line and
exit 2, and runs stored before (one device, dtype and thread count, as scalars) still read."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope

from jitscope.core.model import as_axis
from jitscope.runner.plan import Selection

FAST = ["-w", "mcpi", "-b", "numpy", "-s", "1e4", "--budget", "0.05"]


def test_threads_and_dtype_lists_run_every_combination_each_thread_count_in_its_own_worker(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = jitscope("run", *FAST, "--threads", "1,2", "--dtype", "float32,float64", "--db", str(tmp_path / "r.db"),
                    "--csv", "-", "--json", str(out), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted((r["threads"], r["dtype"]) for r in rows) == [
        ("1", "float32"), ("1", "float64"), ("2", "float32"), ("2", "float64")]
    assert all(r["status"] == "ok" for r in rows), rows
    # the documented order: one worker per thread count (in the order given), dtypes within it
    assert [(r["threads"], r["dtype"]) for r in rows] == [
        ("1", "float32"), ("1", "float64"), ("2", "float32"), ("2", "float64")]
    for n in (1, 2):  # one worker per thread count, each said as it starts
        assert proc.stderr.count(f" ready on cpu with {n} threads") == 1, proc.stderr
    header = next(line for line in proc.stderr.splitlines() if line.split()[:2] == ["workload", "backend"])
    assert {"dtype", "threads"} <= set(header.split()), header  # the axes the cells differ in
    workers = json.loads(out.read_text())["run"]["environment"]["workers"]
    assert set(workers) == {"numpy/cpu/threads=1", "numpy/cpu/threads=2"}, workers
    # the CSV on another machine: imported, its thread counts still make the threads plot
    (tmp_path / "sweep.csv").write_text(proc.stdout)
    other = str(tmp_path / "other.db")
    assert jitscope("import", str(tmp_path / "sweep.csv"), "--db", other).returncode == 0
    shown = jitscope("show", "latest", "--db", other, "--plot", "threads", env={"NO_COLOR": "1"})
    assert "numpy float32 @1e4 (" in shown.stdout and "efficient at 2 threads)" in shown.stdout, shown.stdout
    for n in (1, 2):  # what the worker's thread pools really were (threadpoolctl), where it can tell
        pools = workers[f"numpy/cpu/threads={n}"].get("threadpools") or []
        assert pools or importlib.util.find_spec("threadpoolctl") is None, workers
        assert all(p.endswith(f":{n}") for p in pools), pools


def test_repeated_threads_and_a_device_list_skip_what_a_backend_cannot_run(tmp_path: Path) -> None:
    proc = jitscope("run", *FAST, "--threads", "1", "--threads", "2,2", "--device", "cpu,cuda",
                    "--db", str(tmp_path / "r.db"), "--csv", "-", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted((r["device"], r["threads"], r["status"]) for r in rows) == [
        ("cpu", "1", "ok"), ("cpu", "2", "ok"), ("cuda", "1", "skipped"), ("cuda", "2", "skipped")]
    assert all(r["reason"] for r in rows if r["status"] == "skipped")


@pytest.mark.parametrize(("args", "needles"), [
    (["--threads", "0"], ["--threads 0", "at least 1"]),
    (["--threads", "1,x"], ["--threads", "'x'", "whole number"]),
    (["--threads", "1,,2"], ["--threads", "empty"]),
    (["--dtype", "float32,float16"], ["float16", "float64, float32"]),
    (["--device", "cpu,tpu"], ["tpu", "cpu, cuda"]),
])
def test_a_bad_value_in_a_list_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    db = tmp_path / "never.db"
    assert_clean_error(jitscope("run", *FAST, *args, "--db", str(db)), *needles)
    assert not db.exists()


def test_a_selection_takes_lists_and_the_scalars_older_records_and_callers_hold() -> None:
    old = Selection(workloads=["mcpi"], backends=[("numpy", None)], device="cpu", dtype="float32", threads=2)
    assert (old.device, old.dtype, old.threads) == (["cpu"], ["float32"], [2])
    default = Selection(workloads=["mcpi"], backends=[("numpy", None)], threads=None)
    assert (default.device, default.dtype, default.threads) == (["cpu"], ["float64"], [None])
    new = Selection(workloads=["mcpi"], backends=[("numpy", None)], device=["cpu", "cuda"], threads=[1, 2])
    assert new.device == ["cpu", "cuda"] and new.threads == [1, 2]
    assert as_axis(None, "cpu") == ["cpu"] and as_axis([], "x") == ["x"] and as_axis(["a", "b"], "x") == ["a", "b"]


def test_one_value_is_recorded_as_before_and_several_as_a_list(tmp_path: Path) -> None:
    from jitscope.results.store import Store

    db = tmp_path / "r.db"
    assert jitscope("run", *FAST, "--threads", "2", "--db", str(db), "--no-plot").returncode == 0
    assert jitscope("run", *FAST, "--threads", "1,2", "--dtype", "float32,float64", "--db", str(db),
                    "--no-plot").returncode == 0
    with Store(db, create=False) as store:
        one, two = (store.run(i).selection for i in (1, 2))
    assert (one["threads"], one["dtype"], one["device"]) == (2, "float64", "cpu")  # as older runs stored it
    assert (two["threads"], two["dtype"], two["device"]) == ([1, 2], ["float32", "float64"], "cpu")
    for record in (one, two):  # either shape reads back into a Selection
        sel = Selection(workloads=record["workloads"], backends=[("numpy", None)], device=record["device"],
                        dtype=record["dtype"], threads=record["threads"])
        assert sel.threads in ([2], [1, 2])
    history = jitscope("history", "--db", str(db))
    assert history.returncode == 0, history.stderr
    assert jitscope("show", "1", "--db", str(db), "--no-plot").returncode == 0


def test_a_run_without_threads_is_no_thread_sweep_whatever_backends_note(tmp_path: Path) -> None:
    """Pure Python notes the 1 thread it runs on and numpy notes none: that is not a sweep
    over threads (no --threads given), so no threads column and no `threads=` in labels;
    a CSV import of a real sweep still reads its thread counts (test above)."""
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy,python", "-s", "1000", "--budget", "0.05",
                    "--db", str(tmp_path / "r.db"), "--plot", "time")
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "workload" in line and "backend" in line)
    assert "threads" not in header.split(), header
    assert "threads=" not in proc.stdout
