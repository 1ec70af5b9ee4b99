"""Issue 20 item 4 in the app: the Setup form picks several devices, dtypes (tick boxes on one
line each) and thread counts (``1,2,4``), and what r would run is every combination; a bad
thread list or no dtype ticked is the summary's one-line problem; it all fits 80x24."""

from __future__ import annotations

from pathlib import Path

from test_ui_support import aio, make_app, mcpi_selection, run_to_end, wait_for
from textual.widgets import Input

from jitscope.ui.widgets.checklist import TickBox


@aio
async def test_setup_sweeps_threads_and_dtypes_and_says_a_bad_list_in_one_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection(sizes=[1000], dtype=["float32", "float64"], threads=[1, 2]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#dtype-float32", TickBox).value and screen.query_one("#dtype-float64", TickBox).value
        assert screen.query_one("#device-cpu", TickBox).value and not screen.query_one("#device-cuda", TickBox).value
        assert screen.query_one("#threads", Input).value == "1,2"
        request = app.session.request
        assert request is not None
        cells = request.plan.cells
        assert len(cells) == 2 * 2 * 2  # backends x dtypes x threads at one size
        assert {(c.dtype, c.threads) for c in cells} == {(d, t) for d in ("float32", "float64") for t in (1, 2)}
        assert len(request.plan.groups) == 4  # each backend x thread count its own worker
        for box in screen.query(TickBox):  # every tick box on screen, inside the Options panel
            assert box.region.width > 0 and box.region.right <= 80 and box.region.bottom <= 24, box.region

        screen.query_one("#threads", Input).value = "1,x"
        await wait_for(pilot, lambda: app.session.request is None)
        assert "threads 'x' is not a whole number" in app.session.request_problem

        screen.query_one("#threads", Input).value = "4"
        screen.query_one("#dtype-float32", TickBox).value = False
        screen.query_one("#dtype-float64", TickBox).value = False
        await wait_for(pilot, lambda: "tick at least one dtype" in app.session.request_problem)
        assert app.session.request is None

        screen.query_one("#workloads").focus()
        await pilot.press("d")  # the form's key: float64, float32, both, round again
        await wait_for(pilot, lambda: app.session.request is not None)
        assert app.session.request is not None
        assert app.session.request.selection.dtype == ["float64"] and app.session.request.selection.threads == [4]
        await pilot.press("d", "d")
        await pilot.pause()
        assert app.session.request.selection.dtype == ["float64", "float32"]


@aio
async def test_every_tick_box_is_inside_the_options_panel_at_the_smallest_size(tmp_path: Path) -> None:
    """At 60x20 a row of boxes does not fit side by side: they stack, none is cut off."""
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#setup-right").content_region
        boxes = list(app.screen.query(TickBox))
        assert len(boxes) == 4
        for box in boxes:
            r = box.region
            assert r.width > 0 and panel.x <= r.x and r.right <= panel.right and r.bottom <= panel.bottom, (r, panel)


@aio
async def test_the_app_draws_a_thread_sweep_with_the_threads_plot_and_its_own_legend(tmp_path: Path) -> None:
    """p reaches the threads plot (kinds are data); its legend names the kind's series (each
    implementation and size, with its efficiency), not the table's labels."""
    from jitscope.ui.screens.results import ResultsScreen
    from jitscope.ui.widgets.plot import Legend

    app = make_app(tmp_path, mcpi_selection(sizes=[1000], threads=[1, 2]))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        while screen.kind != "threads":
            await pilot.press("p")
        await pilot.pause()
        legend = str(screen.query_one(Legend).render())
        assert "numpy @1e3 (" in legend and "efficient at 2 threads)" in legend, legend
        assert "threads=1" not in legend, legend
