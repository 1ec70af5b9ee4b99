"""What every ``jitscope`` process pays before it does anything (issue 18 item 10: the suite
runs the real command hundreds of times, and a user's shell does too): the commands that only
read results load no NumPy, SciPy or Textual, and a run's record of installed versions reads
the package metadata it needs, not all of it (docs/performance.md, "Test suite")."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from jitscope.core.environment import distribution_owners, installed_versions
from jitscope.results.store import Store

HEAVY = ("numpy", "scipy", "textual", "pandas")


def loaded_by(*args: str) -> set[str]:
    """The top-level modules the real command imported (``python -X importtime``), after
    checking that it succeeded."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "jitscope.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "jitscope" in names, proc.stderr[-2000:]  # the profile was read
    return names


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


def test_distribution_owners_agree_with_importlib_metadata() -> None:
    """The cheap owner lookup gives what ``packages_distributions()`` gives, for every
    top-level name installed here (the backends' modules among them)."""
    full = metadata.packages_distributions()
    assert distribution_owners(full) == full
    assert distribution_owners(["numpy.linalg", "no_such_module_here"]) == {"numpy": full["numpy"]}


def test_installed_versions_name_each_module_once_with_its_distributions_version() -> None:
    versions = installed_versions(["numpy", "numpy", "no_such_module_here"])
    assert versions == {"numpy": metadata.version("numpy")}
