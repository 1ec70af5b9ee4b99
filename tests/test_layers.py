"""The module layers (docs/design.md §5) hold: the import-linter contract in pyproject.toml
is kept, and ``core`` never imports the package above it (``jitscope/__init__.py``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    if exe.exists():
        return str(exe)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return found


def test_the_layer_contract_is_kept():
    """The same command CI runs: every contract kept (exit 0), none broken."""
    proc = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_core_never_imports_the_package_above_it():
    """``jitscope/__init__.py`` sits above every layer (it re-exports the public API), so a
    ``core`` module that reads from it (``from jitscope import __version__``) points upward."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("jitscope")
    upward = sorted(m for m in graph.find_descendants("jitscope.core")
                    if "jitscope" in graph.find_modules_directly_imported_by(m))
    assert upward == []


def test_the_version_has_one_source():
    """``jitscope --version``, ``jitscope.__version__`` and the installed metadata agree."""
    from importlib import metadata

    import jitscope
    from jitscope.core.version import __version__

    assert jitscope.__version__ == __version__ == metadata.version("jitscope")
    out = subprocess.run([str(Path(sys.executable).with_name("jitscope")), "--version"],
                         capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == f"jitscope {__version__}"
