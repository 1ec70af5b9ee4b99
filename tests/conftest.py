"""Shared fixtures. Every test gets its own JITSCOPE_HOME, so nothing touches the user's
real database, caches or timing lock."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHAOS = str(TESTS / "plugins" / "chaos_backend.py")
BROKEN = str(TESTS / "plugins" / "broken_plugin.py")
EXAMPLE = str(ROOT / "examples" / "dot_workload.py")


@pytest.fixture(autouse=True)
def jitscope_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "jitscope-home"
    monkeypatch.setenv("JITSCOPE_HOME", str(home))
    monkeypatch.delenv("JITSCOPE_DB", raising=False)
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"
