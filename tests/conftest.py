"""Shared fixtures. Every test gets its own JITSCOPE_HOME and its own timing lock, so nothing
touches the user's real database, caches or machine-wide lock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHAOS = str(TESTS / "plugins" / "chaos_backend.py")
BROKEN = str(TESTS / "plugins" / "broken_plugin.py")
EXAMPLE = str(ROOT / "examples" / "dot_workload.py")


@pytest.hookimpl(optionalhook=True)  # xdist's hook: a run without xdist must not fail on it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (README, ``.ci/run``): one xdist worker more than this process may use
    cores. A test spends part of its time waiting (on a terminal, a poll, a worker process
    starting a backend), so with one worker per core a core sat idle about 15% of the suite;
    one more fills it: 473 s instead of 523-538 s on the 2-vCPU CI box, the same CPU
    (docs/performance.md, "CI time, fourth round"). PYTEST_XDIST_AUTO_NUM_WORKERS, where
    set, is left to xdist's own hook."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first, each file's order kept otherwise. xdist hands out its
    groups (largest first) and then single tests in collection order, so a 25-second test
    collected last (test_user_kernels is near the end of the alphabet) runs alone at the end
    while the other workers have nothing left to do. Only in xdist's workers: in a plain run
    the moved tests would split their files, and a file's module fixtures (a shared run of
    torch, say) would be set up twice."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(scope="session")
def warm_inductor_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for a run whose test checks nothing about compiling or caching: an Inductor
    cache shared by the whole session (every xdist worker), so the trivial function each
    torch.compile worker warms up with is compiled once, not once per run. Only for tests
    whose outcome is the same with a cold or a warm cache (a cell's ``cache`` column, its
    compile time or a first-call label would depend on which test ran first): the compile and
    cache tests keep a cold cache of their own."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: gw0, gw1... share the parent
    path = root / "shared-torchinductor"
    path.mkdir(exist_ok=True)
    return {"TORCHINDUCTOR_CACHE_DIR": str(path)}
