"""Adding a backend takes one module and one entry point: a package installed beside jitscope
(here a folder with the module and its dist-info, put on the path) appears in `backends`,
the matrix, a run and the app's Setup, with nothing else changed."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from cli_support import jitscope
from test_ui_app import SIZE, wait_for
from test_ui_support import aio, factory, fake_probe
from textual.widgets import SelectionList

PACKAGE = Path(__file__).parent / "plugins" / "toy_backend_pkg"
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE), os.environ.get("PYTHONPATH", "")]))}


def test_the_packaged_backend_is_listed_in_the_matrix_and_runs(tmp_path: Path) -> None:
    listed = jitscope("backends", "--no-probe", env=ENV)  # listing is the point; test_cli probes
    assert listed.returncode == 0 and "toy" in listed.stdout, listed.stderr
    matrix = jitscope("workloads", "--matrix", "--markdown", env=ENV)
    assert "| toy:default |" in matrix.stdout
    assert "| toy:default |" not in jitscope("workloads", "--matrix", "--markdown").stdout  # the package made it
    out = tmp_path / "toy.csv"
    proc = jitscope("run", "-w", "mcpi", "-b", "toy", "-s", "10000", "--budget", "0.02", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), env=ENV)
    assert proc.returncode == 0, proc.stderr
    (row,) = csv.DictReader(out.open())
    assert (row["backend"], row["status"], row["accurate"]) == ("toy", "ok", "true")


def test_the_packaged_backend_runs_users_kernels_through_its_adapter(tmp_path: Path) -> None:
    kernels = tmp_path / "k.py"
    kernels.write_text("import jitscope\nw = jitscope.workload('twice', inputs=lambda n, rng: {'x': rng.random(n)}, sizes=(100,))\n"
                       "@w.reference\ndef _(x): return 2 * x\n@w.kernel('toy')\ndef _(x): return x + x\n")
    out = tmp_path / "k.csv"
    proc = jitscope("run", "-w", str(kernels), "-b", "toy", "--budget", "0.02", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), env=ENV)
    assert proc.returncode == 0, proc.stderr
    (row,) = csv.DictReader(out.open())
    assert row["status"] == "ok"


@aio
async def test_the_packaged_backend_appears_in_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PACKAGE))
    from jitscope.core.registry import load_registry
    from jitscope.ui.app import JitscopeApp

    app = JitscopeApp(load_registry(), tmp_path / "db.sqlite", None, run_factory=factory(), probe=fake_probe,
                      clock=lambda: 0.0, export_dir=tmp_path, theme="jitscope-dark")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#backends")))
        values = [str(o.value) for o in app.screen.query_one("#backends", SelectionList).options]
        assert "toy" in values
