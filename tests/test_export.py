from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_store import result

from jitscope.core.errors import UserError
from jitscope.core.model import Accuracy, CellResult, CellSpec, Observations, Stats, Status
from jitscope.results.export import CSV_COLUMNS, read_csv, to_markdown, write_exports

REQUIRED = ["run_id", "workload", "backend", "variant", "device", "dtype", "size", "status", "reason", "first_call_s", "compile_s", "transfer_s", "median_s", "iqr_s", "min_s", "mean_s", "stdev_s", "ci_low_s", "ci_high_s", "samples", "loops", "error", "error_metric", "tolerance", "accurate", "gflops", "gbs", "threads", "backend_version", "host"]


def test_csv_has_the_contract_columns_in_tidy_form(tmp_path: Path) -> None:
    assert all(col in CSV_COLUMNS for col in REQUIRED)
    results = [result(10), result(100, Status.FAILED)]
    out = tmp_path / "r.csv"
    write_exports(results, {"id": 7, "environment": {"host": "box"}}, csv_path=out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2
    assert rows[0]["run_id"] == "7" and rows[0]["host"] == "box" and rows[1]["status"] == "failed"
    assert float(rows[0]["median_s"]) == 1e-3


def _full_result() -> CellResult:
    """A cell with every field set to a distinct, non-default value."""
    spec = CellSpec("linreg", "numba", "parallel", "cpu", "float32", 100, params=(("epochs", 7),),
                    budget_s=0.25, timeout_s=9.0, threads=2, seed=99)
    stats = Stats(median=1.5e-3, iqr=2e-4, min=1.2e-3, mean=1.6e-3, stdev=3e-4, ci_low=1.4e-3,
                  ci_high=1.7e-3, samples=41, loops=5, unstable=True,
                  unstable_reason="its threads waited for a core 12% of the time")
    acc = Accuracy(error=3.25e-6, metric="rel_err_w", tolerance=1e-4, accurate=True, detail="d")
    observed = Observations(startup_s=0.47, compiled="yes", cache="miss", graph_breaks=3,
                            peak_host_bytes=33_554_432, peak_device_bytes=1024, cpu_util=1.93,
                            cpu_contention=0.12, dtype_used="float32")
    return CellResult(spec=spec, status=Status.OK, reason="r", first_call_s=0.5, compile_s=0.4985,
                      transfer_s=2e-5, stats=stats, accuracy=acc, gflops=12.5, gbs=3.5,
                      info={"threads": 2, "backend_version": "0.61", "rng": "pcg", "sync": "none", "note": "n",
                            "kernel_options": "fastmath=True"},
                      observed=observed, raw_samples=(1.4e-3, 1.5e-3, 1.7e-3))


# What each CSV column of _full_result() must hold, written out by hand (not from cell_row):
# a column mapped from the wrong field, or a new column nobody checked, fails the test below.
FULL_ROW: dict[str, object] = {
    "run_id": 1, "workload": "linreg", "backend": "numba", "variant": "parallel", "device": "cpu",
    "dtype": "float32", "size": 100, "status": "ok", "reason": "r", "first_call_s": 0.5,
    "compile_s": 0.4985, "transfer_s": 2e-5, "median_s": 1.5e-3, "iqr_s": 2e-4, "min_s": 1.2e-3,
    "mean_s": 1.6e-3, "stdev_s": 3e-4, "ci_low_s": 1.4e-3, "ci_high_s": 1.7e-3, "samples": 41,
    "loops": 5, "unstable": "true", "unstable_reason": "its threads waited for a core 12% of the time",
    "error": 3.25e-6, "error_metric": "rel_err_w", "tolerance": 1e-4, "accurate": "true",
    "gflops": 12.5, "gbs": 3.5, "threads": 2, "backend_version": "0.61", "host": "h",
    "startup_s": 0.47, "compiled": "yes", "cache": "miss", "graph_breaks": 3,
    "peak_host_bytes": 33_554_432, "peak_device_bytes": 1024, "cpu_util": 1.93,
    "cpu_contention": 0.12, "dtype_used": "float32", "simulated": "false",
    "rng": "pcg", "sync": "none", "params": "epochs=7", "kernel_options": "fastmath=True", "seed": 99, "budget_s": 0.25, "note": "n",
}


def test_csv_loads_in_pandas_and_roundtrips_every_field(tmp_path: Path) -> None:
    """Every CSV column, read back by pandas, holds exactly the value written out above; and
    jitscope's own reader gives back the same spec, statistics, accuracy and observations."""
    pd = pytest.importorskip("pandas")
    original = _full_result()
    path = write_exports([original], {"id": 1, "environment": {"host": "h"}}, csv_path=tmp_path / "x.csv")[0]
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert list(frame.columns) == list(CSV_COLUMNS)
    assert set(FULL_ROW) == set(CSV_COLUMNS)
    got = frame.iloc[0].to_dict()
    for column, want in FULL_ROW.items():
        text = got[column]
        if isinstance(want, int):
            assert int(text) == want, column
        elif isinstance(want, float):
            assert float(text) == want, column  # repr() in the CSV: exact
        else:
            assert text == want, column
    back, host = read_csv(path)
    cell = back[0]
    assert host == "h"
    s = cell.spec
    assert (s.workload, s.backend, s.variant, s.device, s.dtype, s.size, s.params, s.budget_s, s.seed) == (
        "linreg", "numba", "parallel", "cpu", "float32", 100, (("epochs", "7"),), 0.25, 99)
    assert (cell.status, cell.reason) == (Status.OK, "r")
    assert cell.stats == original.stats
    assert cell.accuracy == Accuracy(3.25e-6, "rel_err_w", 1e-4, True)  # the detail is not a column
    assert cell.observed == original.observed
    assert (cell.first_call_s, cell.compile_s, cell.transfer_s, cell.gflops, cell.gbs) == (0.5, 0.4985, 2e-5, 12.5, 3.5)
    assert cell.info == {"backend_version": "0.61", "threads": "2", "rng": "pcg", "sync": "none", "note": "n",
                         "kernel_options": "fastmath=True"}


def test_csv_of_an_older_jitscope_reads_with_observations_unknown(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text("workload,backend,variant,device,dtype,size,status,median_s\nmcpi,numpy,default,cpu,float64,10,ok,0.001\n")
    cell = read_csv(old)[0][0]
    assert cell.observed == Observations()
    assert cell.stats is not None and cell.stats.unstable_reason == ""


def test_csv_with_an_impossible_observation_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("workload,backend,variant,device,dtype,size,status,compiled\nmcpi,numpy,default,cpu,float64,10,ok,maybe\n")
    with pytest.raises(UserError, match="line 2"):
        read_csv(bad)


def test_json_export_keeps_raw_samples_and_observations(tmp_path: Path) -> None:
    path = write_exports([_full_result()], {"id": 1}, json_path=tmp_path / "r.json")[0]
    cell = json.loads(path.read_text())["cells"][0]
    assert cell["raw_samples"] == [1.4e-3, 1.5e-3, 1.7e-3]
    assert cell["observed"]["compiled"] == "yes" and cell["observed"]["peak_host_bytes"] == 33_554_432


def test_json_and_markdown(tmp_path: Path) -> None:
    paths = write_exports([result(10)], {"id": 3, "environment": {"host": "h", "cpu": "c", "cores": 2}},
                          json_path=tmp_path / "r.json", md_path=tmp_path / "r.md")
    data = json.loads(paths[0].read_text())
    assert data["run"]["id"] == 3 and data["cells"][0]["spec"]["workload"] == "mcpi"
    assert "| mcpi | numpy:default |" in paths[1].read_text()


def test_markdown_shows_every_observation_and_why_a_cell_is_unstable() -> None:
    text = to_markdown([_full_result()], {"id": 1})
    results_row = next(line for line in text.splitlines() if line.startswith("| linreg") and "| ok |" in line)
    assert "| 1.5ms ~ | yes | 498ms | miss | 32MiB |" in results_row
    observed_row = text.split("## What was observed", 1)[1].splitlines()[-1]
    assert observed_row == ("| linreg | numba:parallel | cpu | float32 | 2 | 100 | 470ms | 3 | 32MiB | 1KiB | 1.93 | 12% "
                            "| float32 | its threads waited for a core 12% of the time |")


def test_unwritable_and_foreign_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="directory"):
        write_exports([result(1)], {"id": 1}, csv_path=tmp_path)
    bad = tmp_path / "not.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a jitscope CSV"):
        read_csv(bad)


def test_observations_and_raw_samples_survive_the_store(db_path: Path) -> None:
    """The store keeps a cell's JSON whole: every observation and every raw sample, in order."""
    from jitscope.results.store import Store

    original = _full_result()
    with Store(db_path) as store:
        rid = store.start_run()
        store.add_cell(rid, 0, original)
        store.finish_run(rid)
    with Store(db_path) as store:
        (cell,) = store.cells(rid)
    assert cell.observed == original.observed
    assert cell.raw_samples == original.raw_samples
    assert cell.stats == original.stats  # the reason a cell is unstable included


def test_readme_lists_the_csv_columns_and_explains_every_observation() -> None:
    from conftest import ROOT

    from jitscope.core.model import OBSERVATION_FIELDS

    readme = (ROOT / "README.md").read_text()
    listed = readme.split("Columns: `", 1)[1].split("`", 1)[0]
    assert [c.strip() for c in listed.split(",")] == list(CSV_COLUMNS)
    for name in (*OBSERVATION_FIELDS, "compile_s", "unstable_reason"):
        assert f"\n| `{name}` |" in readme, name


def test_a_csv_read_back_and_written_again_is_byte_for_byte_the_same(tmp_path: Path) -> None:
    """Every CSV column is read back into the place it was written from: a column declared
    with a reader that loses or moves its value changes the second CSV. Cells with every
    field set, a failed one (nothing measured, a reason with | and a newline), a skipped one
    with a note, a simulated-CUDA one whose device reads ``cuda (simulated)``, and text that
    a spreadsheet would take for a formula."""
    import dataclasses

    full = _full_result()
    simulated = dataclasses.replace(full, spec=dataclasses.replace(full.spec, device="cuda"),
                                    observed=dataclasses.replace(full.observed, simulated=True))
    failed = CellResult(CellSpec("mcpi", "python", "default", "cpu", "float64", 10), Status.FAILED, reason="a | b\nc")
    skipped = CellResult.skipped(CellSpec("mcpi", "jax", "default", "cpu", "float64", 1000), "not installed", note="n")
    formula = dataclasses.replace(full, reason="=1+2", spec=dataclasses.replace(full.spec, workload="-x"))
    run = {"id": 4, "environment": {"host": "h"}}
    first = write_exports([full, simulated, failed, skipped, formula], run, csv_path=tmp_path / "a.csv")[0]
    back, _ = read_csv(first)
    second = write_exports(back, run, csv_path=tmp_path / "b.csv")[0]
    assert second.read_text() == first.read_text()
    assert back[1].spec.device == "cuda" and back[1].observed.simulated
