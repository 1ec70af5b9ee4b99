from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_store import result

from jitscope.core.errors import UserError
from jitscope.core.model import Status
from jitscope.results.export import CSV_COLUMNS, read_csv, to_csv, write_exports

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


def test_csv_loads_in_pandas_and_roundtrips(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    out = tmp_path / "r.csv"
    out.write_text(to_csv([{**{"run_id": 1, "workload": "mcpi", "size": 10, "median_s": 0.5}}]))
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(CSV_COLUMNS)
    back, _host = read_csv(write_exports([result(10)], {"id": 1, "environment": {"host": "h"}}, csv_path=tmp_path / "x.csv")[0])
    assert back[0].stats is not None and back[0].stats.median == 1e-3 and back[0].spec.size == 10


def test_json_and_markdown(tmp_path: Path) -> None:
    paths = write_exports([result(10)], {"id": 3, "environment": {"host": "h", "cpu": "c", "cores": 2}},
                          json_path=tmp_path / "r.json", md_path=tmp_path / "r.md")
    data = json.loads(paths[0].read_text())
    assert data["run"]["id"] == 3 and data["cells"][0]["spec"]["workload"] == "mcpi"
    assert "| mcpi | numpy:default |" in paths[1].read_text()


def test_unwritable_and_foreign_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="directory"):
        write_exports([result(1)], {"id": 1}, csv_path=tmp_path)
    bad = tmp_path / "not.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a jitscope CSV"):
        read_csv(bad)
