"""Snapshots of the main screens at 80x24 with fixed data (scripted runs, a fixed clock,
fixed store times in UTC). Regenerate after an intended change with
``pytest tests/test_ui_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_ui_support import (
    FakeRun,
    factory,
    failed_result,
    make_app,
    mcpi_selection,
    ok_result,
    store_with_runs,
)

SIZE = (80, 24)


def three_backends():
    return mcpi_selection(backends=[("numpy", None), ("python", None), ("turbo", None)])


def python_1e5_fails(index, spec):
    return failed_result(spec) if (spec.backend, spec.size) == ("python", 100000) else ok_result(spec)


async def settle(pilot, until=lambda: True, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if until():
            break
        await pilot.pause(0.02)
    await pilot.pause(0.4)  # one redraw tick of the run screen
    pilot.app.clear_notifications()
    await pilot.pause()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_setup_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, three_backends())

    async def ready(pilot):
        await settle(pilot, lambda: len(pilot.app.session.backend_info) == 3)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_run_screen_midway(snap_compare, tmp_path: Path) -> None:
    FakeRun.instances.clear()
    app = make_app(tmp_path, three_backends(), run_factory=factory(python_1e5_fails, hold_after=6))

    async def midway(pilot):
        await pilot.press("r")
        await settle(pilot, lambda: bool(FakeRun.instances) and FakeRun.instances[-1].held.is_set())

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=midway)
    finally:
        for run in FakeRun.instances:
            run.release()


def test_results_screen_with_a_failed_cell(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, three_backends(), run_factory=factory(python_1e5_fails))

    async def finished(pilot):
        await pilot.press("r")
        await settle(pilot, lambda: pilot.app.session.view is not None and not pilot.app.session.running)
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_results_accuracy_plot_light_theme(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, three_backends(), theme="jitscope-light")

    async def accuracy(pilot):
        await pilot.press("r")
        await settle(pilot, lambda: pilot.app.session.view is not None and not pilot.app.session.running)
        await pilot.press("v", "p", "m")  # accuracy plot, zoomed: the expected 1.64/sqrt(n) line
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=accuracy)


def test_history_screen(snap_compare, tmp_path: Path, utc) -> None:
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)

    async def history(pilot):
        await pilot.press("h", "space")  # one run marked for an overlay
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=history)


# ---- issue 21: the answer in sight at 80x24 and at 60x20 (the smallest supported size), with and
# without NO_COLOR: answer columns first, each legend entry with its series' own marker.
LOOKS = [pytest.param((80, 24), True, id="80x24-no-color"), pytest.param((60, 20), True, id="60x20-no-color"),
         pytest.param((60, 20), False, id="60x20-color")]
EXPORT_DIR = Path("/home/user/results")  # shown in the export dialog, never written to


async def _finished(pilot) -> None:
    await pilot.press("r")
    await settle(pilot, lambda: pilot.app.session.view is not None and not pilot.app.session.running)


@pytest.mark.parametrize("size, no_color", LOOKS)
@pytest.mark.parametrize("screen", ["setup", "run", "results", "export"])
def test_issue_21_screens_at_each_size(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       screen: str, size: tuple[int, int], no_color: bool) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(tmp_path, three_backends(), run_factory=factory(python_1e5_fails), export_dir=EXPORT_DIR)

    async def arrange(pilot):
        if screen == "setup":
            await settle(pilot, lambda: len(pilot.app.session.backend_info) == 3)
            return
        await _finished(pilot)
        await pilot.press({"run": "l", "results": "v", "export": "v"}[screen])
        if screen == "export":
            await pilot.press("e")
            await settle(pilot)
            pilot.app.screen.query_one("#export-path").cursor_blink = False  # one frame, whenever it is taken
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=arrange)
