"""What every ``jitscope`` process pays before it does anything (issue 18 item 10: the suite
runs the real command hundreds of times, and a user's shell does too): the commands that only
read results load no NumPy, SciPy or Textual, a pure-Python run loads NumPy in neither its
parent nor its worker, no command loads pydantic (Typer < 0.29), and a run's record of
installed versions reads the package metadata it needs, not all of it (docs/performance.md,
"Test suite" and "Start-up")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from jitscope.core.environment import distribution_owners, installed_versions
from jitscope.core.model import CellSpec
from jitscope.results.store import Store
from jitscope.runner.channel import ChannelReader
from jitscope.runner.supervisor import spawn_worker

HEAVY = ("numpy", "scipy", "textual", "pandas")


def loaded_by(*args: str) -> set[str]:
    """The top-level modules the real command imported (``python -X importtime``), after
    checking that it succeeded."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "jitscope.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = imported_names(proc.stderr)
    assert "jitscope" in names, proc.stderr[-2000:]  # the profile was read
    return names


def imported_modules(importtime: str) -> set[str]:
    """The modules named in ``-X importtime`` output."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines()
            if line.startswith("import time:") and "|" in line}


def imported_names(importtime: str) -> set[str]:
    """The top-level modules named in ``-X importtime`` output."""
    return {name.split(".")[0] for name in imported_modules(importtime)}


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    from test_ui_support import ok_result

    from jitscope.core.model import CellSpec

    path = tmp_path / "runs.sqlite"
    with Store(path) as store:
        store.import_cells([ok_result(CellSpec("mcpi", "numpy", "default", "cpu", "float64", 1000))],
                           label="here", environment={"host": "here"}, command="run")
    return path


def test_commands_that_read_results_load_no_numpy_scipy_or_textual(stored: Path, tmp_path: Path) -> None:
    for args in (["--version"], ["history", "--db", str(stored)], ["show", "latest", "--db", str(stored)],
                 ["export", "1", "--csv", str(tmp_path / "out.csv"), "--db", str(stored)]):
        heavy = loaded_by(*args) & set(HEAVY)
        assert not heavy, f"jitscope {' '.join(args[:2])} imported {sorted(heavy)}"


def test_a_pure_python_run_loads_no_numpy_and_no_command_loads_pydantic(tmp_path: Path) -> None:
    """The parent plans and records a run without NumPy (the built-in workloads import it at
    first use), and Typer parses options without pydantic (< 0.29 in pyproject.toml)."""
    names = loaded_by("run", "-w", "mcpi,nodes", "-b", "python", "-s", "1000", "--budget", "0.05", "--no-plot",
                      "--db", str(tmp_path / "runs.sqlite"))
    assert "numpy" not in names
    assert "pydantic" not in names
    assert "pydantic" not in loaded_by("--version")


def test_a_pure_python_worker_loads_no_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker started as the supervisor starts it runs a pure-Python cell of each
    built-in workload whose inputs are numbers, without importing NumPy, and loads the
    entry points its parent found without importing importlib.metadata."""
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # the worker's imports, on its stderr (its log)
    cells = [(i, CellSpec(w, "python", "default", "cpu", "float64", 1000, budget_s=0.05))
             for i, w in enumerate(("mcpi", "nodes"))]
    proc, read_fd, log = spawn_worker(sys.executable, "python", "cpu", cells, (), tmp_path)
    reader = ChannelReader(read_fd)
    messages: list[dict] = []
    deadline = time.monotonic() + 120
    try:
        while not reader.closed and time.monotonic() < deadline:
            messages += reader.poll(0.5)
        assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 0
    finally:
        reader.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    statuses = [m["result"]["status"] for m in messages if m["type"] == "result"]
    assert statuses == ["ok", "ok"], log.text()[-2000:]
    head, tail, dropped = log.kept()
    assert not dropped  # the whole profile was kept
    names = imported_names(log.text())
    assert "jitscope" in names, log.text()[-2000:]  # the profile was read
    assert "numpy" not in names
    assert "importlib.metadata" not in imported_modules(log.text())


def test_distribution_owners_agree_with_importlib_metadata() -> None:
    """The cheap owner lookup gives what ``packages_distributions()`` gives, for every
    top-level name installed here (the backends' modules among them)."""
    full = metadata.packages_distributions()
    assert distribution_owners(full) == full
    assert distribution_owners(["numpy.linalg", "no_such_module_here"]) == {"numpy": full["numpy"]}


def test_installed_versions_name_each_module_once_with_its_distributions_version() -> None:
    versions = installed_versions(["numpy", "numpy", "no_such_module_here"])
    assert versions == {"numpy": metadata.version("numpy")}
