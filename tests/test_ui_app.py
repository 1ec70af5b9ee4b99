"""The app with App.run_test() and a scripted runner: no worker processes, no real clock."""

from __future__ import annotations

import asyncio
import csv
import signal
import sqlite3
import threading
from pathlib import Path

import pytest
from test_ui_support import (
    FakeRun,
    aio,
    factory,
    failed_result,
    fake_probe,
    make_app,
    make_registry,
    mcpi_selection,
    ok_result,
    run_to_end,
    run_until_held,
    store_with_runs,
    text_of,
    wait_for,
)
from textual.widgets import DataTable, Input, Label, SelectionList, Static

from jitscope.core.model import CellSpec, Phase, Status
from jitscope.ui.screens.dialogs import ExportDialog, HelpScreen
from jitscope.ui.screens.results import COLUMNS, ResultsScreen
from jitscope.ui.screens.setup import SetupScreen
from jitscope.ui.widgets.grid import CellGrid
from jitscope.ui.widgets.plot import PlotView

SIZE = (80, 24)


# ---- setup --------------------------------------------------------------------------------
@aio
async def test_selection_state_is_visible_without_colour(tmp_path: Path) -> None:
    """Under NO_COLOR the checked/unchecked state must not depend on colour alone."""
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        workloads = app.screen.query_one("#workloads", SelectionList)
        lines = {}
        for y in range(workloads.option_count):
            text = workloads.render_line(y).text
            lines[text.split()[1] if text.startswith("▐") else text] = text
        assert lines["mcpi"].startswith("▐X▌")
        others = [t for name, t in lines.items() if name != "mcpi"]
        assert others and all(t.startswith("▐ ▌") for t in others)


@aio
async def test_setup_preselects_the_selection_and_shows_availability(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection(dtype="float32", budget_s=0.5, params={"p": "0.3"}))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        assert screen.query_one("#workloads", SelectionList).selected == ["mcpi"]
        assert set(screen.query_one("#backends", SelectionList).selected) == {"numpy", "python"}
        assert screen.query_one("#sizes", Input).value == "1e3,1e4,1e5"  # the one size style (issue 21)
        request = app.session.request
        assert request is not None
        assert request.selection.dtype == ["float32"] and request.selection.budget_s == 0.5
        assert len(request.plan.cells) == 6
        await wait_for(pilot, lambda: "turbo" in app.session.backend_info)
        backends = screen.query_one("#backends", SelectionList)
        prompts = {str(o.value): str(o.prompt) for o in backends.options}
        assert "2.0.0" in prompts["numpy"] and "turbo:parallel" in prompts
        assert "✗" in prompts["fastlib"] and "not installed" in prompts["fastlib"]
        assert "fastlib" not in app.session.backend_info  # unavailable backends are never probed


@aio
async def test_setup_is_shown_before_any_probe_answers(tmp_path: Path) -> None:
    gate = threading.Event()
    started = threading.Event()

    def slow_probe(name: str, device: str) -> dict:
        started.set()
        gate.wait(5)
        return fake_probe(name, device)

    app = make_app(tmp_path, probe=slow_probe)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen)
            await wait_for(pilot, started.is_set)
            prompts = [str(o.prompt) for o in app.screen.query_one("#backends", SelectionList).options]
            assert any("…" in p for p in prompts)  # still probing, yet the screen works:
            await pilot.press("space")
            assert app.screen.query_one("#workloads", SelectionList).selected == ["linreg"]
            gate.set()
            await wait_for(pilot, lambda: len(app.session.backend_info) == 3)
    finally:
        gate.set()


@aio
async def test_invalid_setup_is_a_message_not_a_crash(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        assert any("workload" in n.message for n in app._notifications)
        await pilot.press("space")  # first workload
        summary = app.screen.query_one("#summary", Static)
        assert "backend" in text_of(summary)
        app.screen.query_one("#backends", SelectionList).select("numpy")
        app.screen.query_one("#sizes", Input).value = "10,abc"
        await pilot.pause()
        assert "abc" in text_of(summary)


@aio
async def test_unavailable_backend_cannot_be_selected(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        backends = app.screen.query_one("#backends", SelectionList)
        backends.focus()
        index = [str(o.value) for o in backends.options].index("fastlib")
        backends.highlighted = index
        await pilot.press("space")
        await pilot.pause()
        assert "fastlib" not in backends.selected
        assert any("not installed" in n.message for n in app._notifications)
        assert "not installed" in text_of(app.screen.query_one("#detail", Static))


# ---- run ----------------------------------------------------------------------------------
@aio
async def test_select_with_keys_and_run(tmp_path: Path) -> None:
    seen = []

    def make(plan, registry, db_path, selection):
        seen.append(selection)
        return FakeRun(plan)

    app = make_app(tmp_path, run_factory=make)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "space")  # workloads: linreg, [mcpi], lu, nodes
        await pilot.press("tab", "space")  # backends: [numpy]
        await pilot.press("tab", "tab")  # options: preset, sizes
        assert app.focused is app.screen.query_one("#sizes", Input)
        await pilot.press(*"1k,10k", "escape")
        await run_to_end(app, pilot)
        assert seen[0].workloads == ["mcpi"] and seen[0].backends == [("numpy", None)]
        assert seen[0].sizes == [1000, 10000]
        assert app.session.view is not None and [r.status for r in app.session.view.results] == [Status.OK, Status.OK]
        assert "done in 0:00: 2 ok" in text_of(app.screen.query_one("#run-line", Static))


@aio
async def test_live_updates_grid_progress_and_plot(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=2))
    async with app.run_test(size=SIZE) as pilot:
        run = await run_until_held(app, pilot)
        screen = app.screen
        grid = screen.query_one(CellGrid)
        # the first redraw tick after the held cells (polled, not a fixed wait)
        # (the mode bar's status is redrawn by its own timer: waited for too)
        await wait_for(pilot, lambda: screen.query_one(PlotView).renders > 0
                       and "2/6 ·" in text_of(screen.query_one("#run-line", Static))
                       and str(grid.get_cell_at((0, 2))) == "100us" and "running 2/6" in app.run_status)
        words = [s.word for s in grid.progress.states]
        assert words[:3] == ["10us", "100us", "first call"] and words[3:] == ["queued"] * 3
        assert "2/6 ·" in text_of(screen.query_one("#run-line", Static))
        assert "running 2/6" in app.run_status
        assert screen.query_one(PlotView).renders > 0
        cell = grid.get_cell_at((0, 2))
        assert str(cell) == "100us"
        run.release()
        await wait_for(pilot, lambda: not app.session.running)
        await wait_for(pilot, lambda: [s.word for s in grid.progress.states][3:] == ["200us", "2ms", "20ms"])
        assert app.run_status == ""


@aio
async def test_a_run_that_ends_while_the_app_closes_is_recorded_without_a_crash(tmp_path: Path) -> None:
    """q then c under load: the run's end can reach the app after Textual has taken its
    screens down on the way out. Recording that end must not ask the screen for its keys
    (``refresh_bindings`` raised ScreenStackError, and the app quit with a traceback)."""
    from jitscope.ui.messages import RunEvent
    from jitscope.ui.state import RunEnded

    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=1))
    async with app.run_test(size=SIZE) as pilot:
        await run_until_held(app, pilot)
        job = app.session.job
    assert app.screen_stack == []  # the app has closed: its screens are gone
    app.on_run_event(RunEvent(job, RunEnded(cancelled=True)))
    assert job.finished and app.run_status == ""


@aio
async def test_cancel_stops_at_once_and_keeps_finished_cells(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=1))
    async with app.run_test(size=SIZE) as pilot:
        run = await run_until_held(app, pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.session.running)
        assert run.cancel_calls == 1
        statuses = [r.status for r in app.session.view.results]
        assert statuses[0] == Status.OK and set(statuses[1:]) == {Status.CANCELLED}
        assert any("Cancelled" in n.message for n in app._notifications)
        assert "cancelled" in text_of(app.screen.query_one("#run-line", Static))


async def reason_shown_everywhere(app, pilot, cell: tuple[int, int], reason: str) -> str:
    """After a run, a failed cell's reason must be in the run log, in the detail line once the
    grid's cursor is on ``cell`` (row, column), and, after enter, in the Results table's last
    column. Returns the log's text for further checks."""
    screen = app.screen
    log_text = "\n".join(str(line.text) for line in screen.query_one("#run-log").lines)
    assert reason in log_text
    screen.query_one(CellGrid).move_cursor(row=cell[0], column=cell[1])
    await pilot.pause()
    assert reason in text_of(screen.query_one("#cell-detail", Static))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
    table = app.screen.query_one(DataTable)
    assert any(reason in str(table.get_row_at(i)[-1]) for i in range(table.row_count))
    return log_text


@aio
async def test_failed_cell_is_shown_with_its_reason(tmp_path: Path) -> None:
    def outcome(index, spec):
        return failed_result(spec) if (spec.backend, spec.size) == ("python", 10000) else ok_result(spec)

    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(outcome))
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        assert str(app.screen.query_one(CellGrid).get_cell_at((1, 2))) == "failed"
        await reason_shown_everywhere(app, pilot, (1, 2), "ZeroDivisionError")


@aio
async def test_quit_during_a_run_asks_and_c_cancels_it_and_exits(tmp_path: Path) -> None:
    """q during a run asks (issue 19 item 3); c: cancel it and quit (the real run, in its
    daemon, is tested in test_ui_daemon.py)."""
    from jitscope.ui.screens.dialogs import QuitRunDialog

    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=1))
    async with app.run_test(size=SIZE) as pilot:
        await run_until_held(app, pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitRunDialog))
        assert FakeRun.instances[-1].cancel_calls == 0
        await pilot.press("c")
        await pilot.pause(0.2)
    run = FakeRun.instances[-1]
    assert run.cancel_calls == 1 and not run.interrupted
    assert app.return_value == 0


# ---- results, export ----------------------------------------------------------------------------
@aio
async def test_results_keys_switch_plot_baseline_and_series(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        table = screen.query_one(DataTable)
        column = COLUMNS.index("speed-up")
        speedups = [str(table.get_row_at(i)[column]) for i in range(table.row_count)]
        assert speedups == ["1.00x"] * 3 + ["0.05x"] * 3
        await pilot.press("b")
        assert screen.baseline == "python"
        assert str(table.get_row_at(0)[column]) == "20.00x"
        for kind in ("accuracy", "speedup", "compile", "memory", "threads", "dtype", "time"):
            await pilot.press("p")
            assert screen.kind == kind
        await pilot.press("2")
        assert screen.hidden == {"python"}
        await pilot.press("0")
        assert screen.hidden == set()
        await pilot.press("m")
        assert screen.maximized is not None
        await pilot.press("m")
        assert screen.maximized is None


async def open_export(app, pilot) -> Input:
    """Press e and wait for the export dialog; its path field, to read or edit."""
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
    return app.screen.query_one("#export-path", Input)


@aio
async def test_export_csv_json_to_an_edited_path(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        path_input = await open_export(app, pilot)
        assert path_input.value == str(tmp_path / "jitscope-run-42.csv")
        target = tmp_path / "out" / "sweep.csv"
        path_input.value = str(target)
        app.screen.query_one("#export-json").value = True
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        rows = list(csv.DictReader(target.open()))
        assert len(rows) == 6 and {r["backend"] for r in rows} == {"numpy", "python"}
        assert rows[0]["run_id"] == "42" and rows[0]["host"] == "testhost"
        assert target.with_suffix(".json").exists()
        assert any(str(target) in n.message for n in app._notifications)


@aio
async def test_export_error_is_a_notification(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        path_input = await open_export(app, pilot)
        (tmp_path / "a-file").write_text("")
        path_input.value = str(tmp_path / "a-file" / "x.csv")
        await pilot.press("enter")
        await pilot.pause()
        assert any(n.severity == "error" for n in app._notifications)


@aio
async def test_nothing_to_export_yet(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        assert not isinstance(app.screen, ExportDialog)


# ---- history ----------------------------------------------------------------------------------------
@aio
async def test_history_open_overlay_import_delete(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    laptop, gpubox = store_with_runs(db)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, timeout=30)  # read in a thread: bounded, generous
        assert str(table.get_row_at(0)[1]) == f"#{gpubox}"
        await pilot.press("enter")  # open the newest
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert len(app.session.view.items) == 6 and not app.session.view.overlay
        await pilot.press("h", "space")  # mark gpubox, cursor moves to laptop
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        view = app.session.view
        assert view.overlay and len(view.items) == 12
        assert view.labels("mcpi") == ["gpubox numpy", "gpubox python", "laptop numpy", "laptop python"]
        screen = app.screen
        await pilot.press("b", "b")  # baseline: laptop numpy
        speed = dict(zip([screen.view.label(ref, r) for ref, r in view.items], view.speedups(screen.baseline), strict=True))
        assert speed["gpubox numpy"] == pytest.approx(4.0)
        # export the overlay: each row keeps its own run id
        out = tmp_path / "both.csv"
        (await open_export(app, pilot)).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, out.exists)
        assert {r["run_id"] for r in csv.DictReader(out.open())} == {str(laptop), str(gpubox)}
        # import it back as a third run
        await pilot.press("h", "i")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 3)
        # delete the newest (the import), after confirming
        await pilot.press("home", "d")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)


@aio
async def test_overlay_needs_two_runs(tmp_path: Path) -> None:
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h", "o")
        assert any("mark two runs" in n.message for n in app._notifications)


# ---- themes, keys, layout -------------------------------------------------------------------------------
@aio
async def test_theme_switch_redraws_plot(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        plot = app.screen.query_one(PlotView)
        await pilot.pause()
        before = plot.renders
        dark_primary = app.theme_variables["primary"]
        await pilot.press("t")
        await wait_for(pilot, lambda: plot.renders > before)  # redrawn for the new theme
        assert app.theme == "jitscope-light"
        assert app.theme_variables["primary"] != dark_primary
        rendered = str(plot.render())
        assert "1e3" in rendered and "1e5" in rendered
        await pilot.press("t")
        assert app.theme == "jitscope-dark"


@aio
async def test_plot_survives_resizes(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        plot = app.screen.query_one(PlotView)
        for size in ((120, 40), (60, 20), (80, 24), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert "1e4" in str(plot.render())


@aio
async def test_help_and_command_palette_list_the_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [key for key, _ in app.screen.rows]
        for key in ("p", "w", "b", "1-9", "m", "e", "r", "q", "?", "s", "h"):
            assert key in keys
        await pilot.press("escape")
        assert isinstance(app.screen, ResultsScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.endswith("(p)") for t in titles) and any(t.endswith("(e)") for t in titles)
        assert "Theme: jitscope-light" in titles


@aio
async def test_no_color_plots_are_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path, mcpi_selection())
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        assert app.no_color
        rendered = app.screen.query_one(PlotView).render()
        assert not rendered.spans and "\x1b[" not in str(rendered)


def fixed_widgets(screen):
    """Displayed widgets that are not inside a scrolling container (those may be larger)."""
    for widget in screen.query("*"):
        if not widget.display or not widget.region:
            continue
        scrolled = False
        node = widget.parent
        while node is not None and node is not screen:
            if getattr(node, "is_scrollable", False):
                scrolled = True
            node = node.parent
        if not scrolled:
            yield widget


@pytest.mark.parametrize("mode", ["setup", "run", "results", "history"])
@aio
async def test_everything_fits_in_80x24(tmp_path: Path, mode: str) -> None:
    store_with_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path, mcpi_selection(workloads=["mcpi", "linreg"], sizes=None, params={"epochs": "5"}))
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press({"setup": "s", "run": "l", "results": "v", "history": "h"}[mode])
        await pilot.pause()
        screen = app.screen
        width, height = SIZE
        for widget in fixed_widgets(screen):
            region = widget.region
            assert region.right <= width and region.bottom <= height, f"{widget} at {region}"
        keys = list(screen.query("FooterKey"))
        assert keys and all(k.region.right <= width and k.region.width > 0 for k in keys), "footer overflows"
        assert screen.query_one("#modebar").region.y == 0
        assert screen.query_one("Footer").region.y == height - 1
        for tab in screen.query("ModeTab"):
            assert tab.region.right <= width
        for dialog_key in ("question_mark", "e"):
            await pilot.press(dialog_key)
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen if dialog_key == "question_mark" else ExportDialog)
            for widget in fixed_widgets(app.screen):
                assert widget.region.right <= width and widget.region.bottom <= height
            await pilot.press("escape")


@aio
async def test_a_run_stops_the_version_probe_in_flight(tmp_path: Path) -> None:
    """A run kills a slow version probe (think TensorFlow) and starts only once it is gone:
    one worker process at a time. If the run did not cancel it, the probe would run out its
    30 s and say so; if the run did not wait, it would start before the probe ended. (The
    bound is generous so that a loaded machine, slow to start the run, does not fail the
    test: the cancel ends the wait at once in the passing case.)"""
    order: list[str] = []

    def probe(name: str, device: str) -> dict:
        if order:
            return fake_probe(name, device)
        order.append("probe started")
        cancelled = app.session.probes.cancel.wait(30)
        order.append("probe cancelled" if cancelled else "probe ran out its time")
        return {"error": "cancelled", "cancelled": True} if cancelled else fake_probe(name, device)

    def make(plan, registry, db_path, selection):
        order.append("run started")
        return FakeRun(plan)

    app = make_app(tmp_path, mcpi_selection(), probe=probe, run_factory=make)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: order == ["probe started"])
        await run_to_end(app, pilot)
        assert order[:3] == ["probe started", "probe cancelled", "run started"]
        assert [r.status for r in app.session.view.results] == [Status.OK] * 6
        # probing resumes after the run, the cancelled backend included
        await wait_for(pilot, lambda: {"numpy", "python", "turbo"} <= set(app.session.backend_info))
        assert not any(info.get("cancelled") for info in app.session.backend_info.values())


@aio
async def test_a_signal_mid_run_cancels_it_as_interrupted_and_exits_128_plus_signal(tmp_path: Path) -> None:
    """Issue 7 case 3, the app's handler (SIGTERM, or SIGHUP when the terminal goes away; the
    tmux tests send the real signals): the run is cancelled as interrupted, then the app exits."""
    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=1))
    async with app.run_test(size=SIZE) as pilot:
        await run_until_held(app, pilot)
        # what the exit guard's thread does on the signal, from that thread
        await asyncio.to_thread(app.interrupt, signal.SIGTERM)
        await wait_for(pilot, lambda: app.return_code is not None, timeout=10)
    run = FakeRun.instances[-1]
    assert run.cancel_calls == 1 and run.interrupted
    assert app.return_code == 128 + signal.SIGTERM
    assert app.session.job is not None and app.session.job.done.is_set()  # the run's thread let go first


# ---- the UI thread never waits ----------------------------------------------------------------------
@aio
async def test_the_first_frame_comes_before_the_registry_and_keys_work_meanwhile(tmp_path: Path) -> None:
    """Issue 10 item 7: the registry loads in a thread after the first frame."""
    from jitscope.ui.app import JitscopeApp
    from jitscope.ui.screens.setup_form import SetupForm

    gate = threading.Event()

    def load():
        gate.wait(10)
        return make_registry()

    app = JitscopeApp(load, tmp_path / "results.sqlite", mcpi_selection(), run_factory=factory(),
                      probe=fake_probe, export_dir=tmp_path, theme="jitscope-dark")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen) and not app.screen.query(SetupForm)
            assert "loading" in text_of(app.screen.query_one("#workloads-placeholder", Static))
            await pilot.press("t", "r")  # keys are answered while the registry loads
            assert app.theme == "jitscope-light"
            assert any("still loading" in n.message for n in app._notifications)
            gate.set()
            await wait_for(pilot, lambda: bool(app.screen.query(SetupForm)))
            assert app.screen.query_one("#workloads", SelectionList).selected == ["mcpi"]
            await wait_for(pilot, lambda: len(app.session.backend_info) == 3)  # probes follow the registry
            await run_to_end(app, pilot)
            assert len(app.session.view.results) == 6
    finally:
        gate.set()


@aio
async def test_history_answers_keys_while_another_process_locks_the_database(tmp_path: Path) -> None:
    """Issue 10 item 4: reading the store waits in a thread (SQLite's busy timeout is 30 s);
    the app goes on answering keys, and shows the runs once the lock is gone."""
    db = tmp_path / "results.sqlite"
    store_with_runs(db)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")  # not even a reader gets in now
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(db, timeout=0).execute("SELECT count(*) FROM runs")
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("h")
            await pilot.pause()
            await pilot.press("t")
            assert app.theme == "jitscope-light"  # answered while the read still waits
            assert "reading" in text_of(app.screen.query_one("#run-detail", Static))
            await pilot.press("s")
            assert isinstance(app.screen, SetupScreen)
            locker.close()
            await pilot.press("h")
            await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2, timeout=30)
    finally:
        locker.close()


@aio
async def test_progress_events_queued_for_one_cell_coalesce_into_the_latest(tmp_path: Path) -> None:
    """Issue 10 item 3: no hand-made throttle; Textual drops a cell's stale progress from the
    queue (RunEvent.can_replace), so a burst costs one update, not one per event."""
    from jitscope.runner import events as ev
    from jitscope.ui.messages import RunEvent

    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(hold_after=0))
    handled: list[RunEvent] = []
    async with app.run_test(size=SIZE) as pilot:
        await run_until_held(app, pilot)
        await pilot.pause()
        job = app.session.job
        app.session.run_updated.subscribe(app.screen, handled.append)
        spec = job.progress.cells[0]
        for i in range(50):  # posted in one go: all queued before the app handles any
            app.post_message(RunEvent(job, ev.CellProgressed(0, spec, Phase.MEASURING, i / 50)))
        app.post_message(RunEvent(job, ev.CellProgressed(1, job.progress.cells[1], Phase.COMPILING, 0.0)))
        # the last one posted handled: every one before it was too
        await wait_for(pilot, lambda: any(isinstance(m.event, ev.CellProgressed) and m.event.index == 1 for m in handled))
        progress = [m.event for m in handled if isinstance(m.event, ev.CellProgressed)]
        assert [(e.index, e.fraction) for e in progress] == [(0, 49 / 50), (1, 0.0)]
        assert job.progress.states[0].fraction == 49 / 50
        FakeRun.instances[-1].release()
        await wait_for(pilot, lambda: not app.session.running)


def test_a_cells_progress_is_replaced_only_by_later_news_of_the_same_cell() -> None:
    from jitscope.runner import events as ev
    from jitscope.ui.messages import RunEvent

    job, other = object(), object()  # only their identity matters here
    cell = CellSpec("mcpi", "numpy", "default", "cpu", "float64", 10)

    def progress(index: int, fraction: float, of: object = job) -> RunEvent:
        return RunEvent(of, ev.CellProgressed(index, cell, Phase.MEASURING, fraction))

    finished = RunEvent(job, ev.CellFinished(0, ok_result(cell)))
    assert progress(0, 0.1).can_replace(progress(0, 0.2))
    assert progress(0, 0.1).can_replace(finished)
    assert not progress(0, 0.1).can_replace(progress(1, 0.2))  # another cell's news
    assert not progress(0, 0.1).can_replace(progress(0, 0.2, other))  # another run's
    assert not finished.can_replace(RunEvent(job, ev.CellFinished(0, ok_result(cell))))  # results are never dropped


# ---- what the engine observed (issue 8) -------------------------------------------------------------
@aio
async def test_worker_start_up_is_in_the_log_once_per_backend(tmp_path: Path) -> None:
    sel = mcpi_selection(backends=[("numpy", None), ("python", None), ("turbo", None)])
    app = make_app(tmp_path, sel)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        lines = [str(line.text) for line in app.screen.query_one("#run-log").lines]
        startups = [line for line in lines if "start-up" in line]
        assert startups == ["worker ready: numpy 2.0.0 on cpu · numpy start-up 200ms",
                            "worker ready: turbo 0.9 on cpu · turbo start-up 470ms"]
        assert "worker ready: python 3.11.0 on cpu" in lines  # it measured none: nothing made up


@aio
async def test_results_show_compiled_and_peak_memory_and_details_show_every_observation(tmp_path: Path) -> None:
    sel = mcpi_selection(backends=[("python", None), ("turbo", None)], sizes=[1000])
    app = make_app(tmp_path, sel)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        await pilot.press("v")
        table = app.screen.query_one(DataTable)
        rows = [dict(zip(COLUMNS, map(str, table.get_row_at(i)), strict=True)) for i in range(table.row_count)]
        assert [(r["backend"], r["compiled"], r["compile"], r["peak mem"]) for r in rows] == [
            ("python", "unknown", "-", "unknown"), ("turbo", "yes", "500ms", "15.6KiB")]
        detail = app.screen.query_one("#results-detail", Static)
        assert "unknown: compiled, cache, graph breaks, worker start-up, peak host, cpu, cpu contention, dtype" in text_of(detail)
        table.move_cursor(row=1)
        await pilot.pause()
        assert ("compiled yes in 500ms · cache miss · worker start-up 470ms · peak host 15.6KiB · cpu 1.9 cores"
                in " ".join(text_of(detail).split()))
        for _ in range(4):  # time -> accuracy -> speed-up -> compile -> memory
            await pilot.press("p")
        assert app.screen.kind == "memory"
        assert "peak memory vs size" in str(app.screen.query_one(PlotView).render())


MARKUP_REASON = "OSError: cannot open [/tmp/data.bin] [bold]x[/] \x1b[31mred"


@aio
async def test_markup_in_reasons_and_labels_never_crashes_the_app(tmp_path: Path) -> None:
    """Issue 7 case 4: text from a worker or a user reaches the screen as text, not markup."""
    def outcome(index, spec):
        return failed_result(spec, MARKUP_REASON) if spec.backend == "python" else ok_result(spec)

    app = make_app(tmp_path, mcpi_selection(), run_factory=factory(outcome))
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(app, pilot)
        log_text = await reason_shown_everywhere(app, pilot, (1, 1), "cannot open [/tmp/data.bin]")
        assert "\x1b" not in log_text
        await pilot.press("down", "down", "down")  # the detail line of a failed row
        await pilot.pause()
        assert "\x1b" not in text_of(app.screen.query_one("#results-detail", Static))


@aio
async def test_a_markup_label_renders_in_history_results_and_the_export_dialog(tmp_path: Path) -> None:
    from jitscope.results.store import Store

    db = tmp_path / "results.sqlite"
    cells = [ok_result(CellSpec("mcpi", "numpy", "default", "cpu", "float64", n)) for n in (1000, 10000)]
    with Store(db) as store:
        store.import_cells(cells, label="[/] x [bold]", environment={"host": "[red]box"}, command="jitscope run [red]x")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        table = app.screen.query_one(DataTable)
        assert any("[/] x [bold]" in str(cell) for cell in table.get_row_at(0))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert "[/] x [bold]" in text_of(app.screen.query_one("#results-info", Static))
        await open_export(app, pilot)
        assert any("[/] x [bold]" in text_of(label) for label in app.screen.query(Label))
        await pilot.press("escape")


@aio
async def test_names_from_plugins_and_errors_from_the_engine_are_shown_as_text(tmp_path: Path) -> None:
    """A plugin's variant, workload description and load problem, and an engine error, all
    with markup in them, go through Setup, the live grid, Results and notifications."""
    from jitscope.core.backend import Backend, Implementation
    from jitscope.ui.app import JitscopeApp

    def never(ctx):  # pragma: no cover - fake backends never build kernels
        raise AssertionError

    registry = make_registry()
    registry.backends["odd"] = Backend(name="odd", description="a plugin [b]with markup[/b] in it",
                                       implementations=(Implementation("mcpi", "odd", "[/]", never),))
    registry.problems.append("plugin [/bad] failed: [red]boom")
    sel = mcpi_selection(backends=[("odd", "[/]")], sizes=[1000, 10000])

    class EngineFails(FakeRun):
        def events(self):
            yield from list(super().events())[:-1]
            raise OSError("cannot open [/tmp/data.bin]")

    app = JitscopeApp(registry, tmp_path / "results.sqlite", sel, probe=fake_probe, export_dir=tmp_path,
                      run_factory=lambda plan, *a: EngineFails(plan), theme="jitscope-dark")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("plugin [/bad] failed" in n.message for n in app._notifications)
        backends = app.screen.query_one("#backends", SelectionList)
        assert "odd:[/]" in backends.selected
        await run_to_end(app, pilot)
        grid = app.screen.query_one(CellGrid)
        assert str(grid.get_row_at(0)[0]) == "mcpi odd:[/]"
        assert any("cannot open [/tmp/data.bin]" in n.message for n in app._notifications)
        await pilot.press("v")
        table = app.screen.query_one(DataTable)
        assert [str(table.get_row_at(i)[1]) for i in range(table.row_count)] == ["odd:[/]"] * 2
