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
    run_to_end,
    store_with_runs,
    wait_for,
)
from textual.widgets import DataTable

from jitscope.ui.screens.results import ResultsScreen

SIZES = [(80, 24), (60, 20)]
ANSWER = ("workload", "backend", "size", "median", "speed-up", "error")


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
        await pilot.press("right", "right")  # the details to the right: arrows scroll there
        await pilot.pause()
        assert table.scroll_x > 0


@aio
async def test_a_run_opened_from_history_has_its_table_focused(tmp_path: Path) -> None:
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")  # Results seen once, empty: it is resumed, not mounted, below
        await pilot.pause()
        await pilot.press("h")
        await wait_for(pilot, lambda: bool(app.screen.query(DataTable)) and app.screen.query_one(DataTable).row_count == 2,
                       timeout=30)  # History's runs, read in a thread
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.view is not None)
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert app.focused is table
        await pilot.press("down", "down")
        assert table.cursor_row == 2


@aio
async def test_no_color_legend_shows_each_series_marker_and_the_reference_line_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 2: without colour the legend's marker is the one the plot draws the series with,
    and the expected-error line uses a marker no series uses."""
    from jitscope.plots import MONO_MARKERS, REFERENCE_MARKER
    from jitscope.ui.widgets.plot import Legend, PlotView

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path, mcpi_selection(backends=[("numpy", None), ("python", None), ("turbo", None)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v", "p")  # the accuracy plot, with mcpi's expected 1.64/sqrt(n)
        await pilot.pause()
        legend = str(app.screen.query_one(Legend).render())
        assert "1 • numpy" in legend and "2 + python" in legend and "3 * turbo" in legend
        assert f"{REFERENCE_MARKER * 3} expected error" in legend
        await pilot.press("2", "3", "m")  # numpy alone, zoomed: the reference line shows beside it
        await pilot.pause()
        plot = str(app.screen.query_one(PlotView).render())
        assert REFERENCE_MARKER in plot and REFERENCE_MARKER not in MONO_MARKERS, plot
        await pilot.press("m", "0", "1")  # hide numpy: python keeps its own marker
        await pilot.pause()
        plot = str(app.screen.query_one(PlotView).render())
        assert "+" in plot and "*" in plot and "•" not in plot


@aio
async def test_export_boxes_differ_ticked_and_not_without_colour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 4: the 'also JSON' box reads ticked or not in characters, not in colour alone."""
    from textual.widgets import Checkbox

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v", "e")
        await pilot.pause()
        box = app.screen.query_one("#export-json", Checkbox)
        assert "X" not in str(box.render())
        box.value = True
        await pilot.pause()
        assert "X" in str(box.render())


@aio
async def test_command_palette_entries_have_no_repeated_help_line(tmp_path: Path) -> None:
    """Item 5: a help line under a palette entry only where it says more than the title."""
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        commands = list(app.get_system_commands(app.screen))
        assert any(c.title == "Setup screen (s)" for c in commands)
        for c in commands:
            assert c.help == "" or c.help != c.title.rsplit(" (", 1)[0], c


@aio
async def test_setup_says_custom_while_sizes_come_from_the_command_line(tmp_path: Path) -> None:
    """Item 7: ``-s`` sizes show Preset ``custom`` (in the one size style); a preset (p)
    replaces them."""
    from textual.widgets import Input, Select

    app = make_app(tmp_path, mcpi_selection(sizes=[1000, 3000, 10000]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#preset")) and app.session.request is not None)
        assert str(app.screen.query_one("#preset", Select).value) == "custom"
        assert app.screen.query_one("#sizes", Input).value == "1e3,3e3,1e4"
        assert app.session.request is not None and [c.size for c in app.session.request.plan.cells][:3] == [1000, 3000, 10000]
        await pilot.press("p")
        await wait_for(pilot, lambda: str(app.screen.query_one("#preset", Select).value) == "default")
        assert app.screen.query_one("#sizes", Input).value == ""


@pytest.mark.parametrize("mode", ["setup", "run", "results", "history"])
@aio
async def test_everything_works_at_the_smallest_supported_size(tmp_path: Path, mode: str) -> None:
    """Item 10: at 60x20 (the README's smallest size) nothing leaves the screen, the footer
    keeps ``? Keys`` and ``q Quit``, and the plot keeps room to be read."""
    from test_ui_app import fixed_widgets

    from jitscope.ui.widgets.plot import PlotView

    width, height = SIZES[-1]
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=(width, height)) as pilot:
        await run_to_end(app, pilot)
        await pilot.press({"setup": "s", "run": "l", "results": "v", "history": "h"}[mode])
        await pilot.pause(0.3)
        screen = app.screen
        for widget in fixed_widgets(screen):
            assert widget.region.right <= width and widget.region.bottom <= height, f"{widget} at {widget.region}"
        keys = {str(k.key_display): k for k in screen.query("FooterKey")}
        assert "?" in keys and "q" in keys, list(keys)
        assert all(k.region.right <= width and k.region.width > 0 for k in keys.values()), "footer overflows"
        if mode in ("run", "results"):
            assert screen.query_one(PlotView).region.height >= 8
        if mode == "setup":  # the Options panel, border included, inside the screen
            options = screen.query_one("#setup-right")
            assert options.region.x + options.outer_size.width <= width


def test_readme_lists_every_plot_the_app_has() -> None:
    """Item 11: the README's list of plots is the app's (it said 4 when there were 5)."""
    import re

    from jitscope.ui.state import PLOT_KINDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    words = {4: "Four", 5: "Five", 6: "Six", 7: "Seven"}
    assert f"{words[len(PLOT_KINDS)]} plots" in readme
    keys_row = re.search(r"next plot \(([^)]*)\)", readme)
    assert keys_row is not None
    assert [k.strip() for k in keys_row.group(1).split(",")] == [k.replace("speedup", "speed-up") for k in PLOT_KINDS]
