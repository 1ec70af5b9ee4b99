"""Shared fixtures. Every test gets its own JITSCOPE_HOME and its own timing lock, so nothing
touches the user's real database, caches or machine-wide lock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHAOS = str(TESTS / "plugins" / "chaos_backend.py")
BROKEN = str(TESTS / "plugins" / "broken_plugin.py")
EXAMPLE = str(ROOT / "examples" / "dot_workload.py")


@pytest.fixture(scope="session", autouse=True)
def session_isolation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module-scoped fixtures (the backend tests' shared runs) are set up before any test's
    own environment below: give them a home and a timing lock of this session (of this xdist
    worker) too, so they touch neither the user's caches nor the machine-wide lock."""
    root = tmp_path_factory.mktemp("session")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JITSCOPE_HOME", str(root / "jitscope-home"))
        mp.setenv("JITSCOPE_TIMING_LOCK", str(root / "timing.lock"))
        mp.delenv("JITSCOPE_DB", raising=False)
        yield


@pytest.fixture(autouse=True)
def jitscope_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "jitscope-home"
    monkeypatch.setenv("JITSCOPE_HOME", str(home))
    monkeypatch.delenv("JITSCOPE_DB", raising=False)
    # The machine-wide timing lock (/tmp/jitscope-timing.lock) would serialise every run of
    # the suite with every other jitscope on the machine, the suite's own parallel workers
    # included: tests check what a run records, never its numbers. The lock itself is tested
    # with explicit lock files (test_supervisor.py) and its default path by its own test.
    monkeypatch.setenv("JITSCOPE_TIMING_LOCK", str(tmp_path / "timing.lock"))
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"
