"""Issue 21, in the app: the answer (median, speed-up, error ✓/✗) in sight at 80x24 and at the
smallest supported size, legends readable without colour, every control readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_support import (
    aio,
    factory,
    failed_result,
    make_app,
    mcpi_selection,
    ok_result,
    store_with_runs,
)
from textual.widgets import DataTable

from jitscope.ui.screens.results import ResultsScreen
from jitscope.ui.screens.run import RunScreen

SIZES = [(80, 24), (60, 20)]
ANSWER = ("workload", "backend", "size", "median", "speed-up", "error")


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


async def run_to_end(app, pilot) -> None:
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.job is not None)
    await wait_for(pilot, lambda: not app.session.running)
    await pilot.pause()


def visible_columns(table: DataTable, width: int) -> list[str]:
    """The table's column labels whose whole width is on screen without scrolling."""
    shown, x = [], table.region.x
    for column in table.ordered_columns:
        x += column.get_render_width(table)
        if x <= width:
            shown.append(str(column.label))
    return shown


@pytest.mark.parametrize("size", SIZES)
@aio
async def test_results_show_the_answer_first_with_the_table_focused(tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(
        lambda i, spec: failed_result(spec) if spec.backend == "python" and spec.size == 100000 else ok_result(spec)))
    async with app.run_test(size=size) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        table = screen.query_one(DataTable)
        assert app.focused is table, "arrows must move in the table as soon as Results opens"
        assert visible_columns(table, size[0])[: len(ANSWER)] == list(ANSWER)
        errors = [str(table.get_row_at(i)[ANSWER.index("error")]) for i in range(table.row_count)]
        assert all(e.endswith(("✓", "✗")) for e in errors if e != "-") and any(e.endswith("✓") for e in errors)
        await pilot.press("down")
        assert table.cursor_row == 1


@aio
async def test_a_run_opened_from_history_has_its_table_focused(tmp_path: Path) -> None:
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")  # Results seen once, empty: it is resumed, not mounted, below
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.view is not None)
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert app.focused is table
        await pilot.press("down", "down")
        assert table.cursor_row == 2
