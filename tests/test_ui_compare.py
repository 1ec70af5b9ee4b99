"""History -> Compare (issue 20 item 3): two runs compared in the app, against what
``jitscope compare A B`` prints for the same pair (its ``--json``), never hard-coded numbers.

The store holds two fixed runs whose raw samples make every verdict appear: numpy slower,
python faster, one pair the same, one not comparable (another library version), and a cell
on each side only. The samples are fixed (no clock, no machine), and the statistics are
seeded, so the snapshot is the same on every machine.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import jitscope
from test_ui_app import fixed_widgets
from test_ui_support import SPEED, aio, make_app, ok_result, store_with_runs, wait_for
from textual.widgets import DataTable

from jitscope.core.model import CellResult, CellSpec
from jitscope.core.units import fmt_size
from jitscope.ui.screens.compare import CompareScreen, RatioPlot
from jitscope.ui.screens.history import HistoryScreen

SIZES = (1000, 10000, 100000)
# (backend, size) -> how much longer B takes than A; None: the same samples on both sides
CHANGE = {("numpy", 1000): 2.0, ("numpy", 10000): 2.0, ("numpy", 100000): None,
          ("python", 1000): 0.5, ("python", 10000): 0.5, ("python", 100000): 0.5}
SYMBOLS = {"slower": "▲ slower", "faster": "▼ faster", "no significant change": "= no significant change",
           "not comparable": "? not comparable"}


def _cell(backend: str, size: int, factor: float = 1.0, workload: str = "mcpi", version: str = "1.0") -> CellResult:
    """A cell whose 31 raw samples spread ±1% around its median (always the same spread)."""
    result = ok_result(CellSpec(workload, backend, "default", "cpu", "float64", size), SPEED[backend] * factor)
    assert result.stats is not None
    samples = tuple(result.stats.median * (1 + 0.002 * ((i * 7) % 11 - 5)) for i in range(31))
    return dataclasses.replace(result, raw_samples=samples, info={"backend_version": version})


def two_runs(db: Path) -> tuple[int, int]:
    """Run A (older) and run B (newer) of the module docstring, in ``db``."""
    from jitscope.results.store import Store

    a = [_cell(b, n) for b in ("numpy", "python") for n in SIZES] + [_cell("numpy", 1000, workload="linreg")]
    b = [_cell(bk, n, CHANGE[bk, n] or 1.0, version="2.0" if (bk, n) == ("python", 100000) else "1.0")
         for bk in ("numpy", "python") for n in SIZES] + [_cell("turbo", 1000)]
    with Store(db) as store:
        ids = (store.import_cells(a, label="before", environment={"host": "box"}),
               store.import_cells(b, label="after", environment={"host": "box"}))
        store._conn.execute("UPDATE runs SET started_at = 1700000000 + id * 3600")
    return ids


@dataclasses.dataclass(frozen=True)
class CliCompare:
    """What ``jitscope compare A B --json FILE`` printed (its table) and exported (its pairs)."""

    table: str
    pairs: list[dict[str, Any]]


# The tests that read the CLI's comparison of the two runs share one process on one xdist
# worker: each ``compare`` start imports SciPy's stats (over a second of CPU).
CLI_GROUP = pytest.mark.xdist_group("ui-compare-cli")


@pytest.fixture(scope="module")
def cli_compare(tmp_path_factory: pytest.TempPathFactory) -> CliCompare:
    """The CLI's comparison of :func:`two_runs` (fixed samples: the same in any database)."""
    root = tmp_path_factory.mktemp("cli-compare")
    db, out = root / "results.sqlite", root / "pairs.json"
    older, newer = two_runs(db)
    proc = jitscope("compare", str(older), str(newer), "--json", str(out), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    return CliCompare(proc.stdout, list(json.loads(out.read_text())["pairs"]))


def table_rows(screen: CompareScreen) -> list[dict[str, str]]:
    table = screen.query_one(DataTable)
    names = [str(c.label) for c in table.ordered_columns]
    return [dict(zip(names, map(str, table.get_row_at(i)), strict=True)) for i in range(table.row_count)]


async def open_compare(app: Any, pilot: Any, *keys: str) -> CompareScreen:
    await pilot.press("h")
    await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
    await pilot.press(*keys)
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=30)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen


@CLI_GROUP
@aio
async def test_c_with_two_marked_shows_the_rows_jitscope_compare_prints(tmp_path: Path, cli_compare: CliCompare) -> None:
    db = tmp_path / "results.sqlite"
    older, newer = two_runs(db)
    expected = cli_compare.pairs
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, "space", "space", "c")  # newest first: marks B, then A
        title = str(screen.query_one("#compare-title").render())
        assert f"A = run #{older} before (older)" in title and f"B = run #{newer} after (newer)" in title
        rows = table_rows(screen)
        assert len(rows) == len(expected)
        for row, pair in zip(rows, expected, strict=True):
            assert (row["workload"], row["backend"], row["size"]) == (pair["workload"], pair["backend"],
                                                                      fmt_size(pair["size"]))
            assert row["verdict"] == SYMBOLS.get(pair["verdict"], pair["verdict"])
            assert row["B/A"] == ("" if pair["ratio"] is None else f"{pair['ratio']:.3f}x")
            assert row["95% CI"] == ("" if pair["ci_low"] is None else f"[{pair['ci_low']:.3f}, {pair['ci_high']:.3f}]")
        # every verdict the store was made for, by symbol; cells of one side listed with their side
        assert {r["verdict"] for r in rows} == {*SYMBOLS.values(), "only in A", "only in B"}
        # the plot: one series per workload x backend with a ratio, each point with its interval
        plot = screen.query_one(RatioPlot)
        assert [s.label for s in plot.series] == ["mcpi numpy", "mcpi python"]
        assert all(lo is not None and lo <= y <= hi for s in plot.series  # type: ignore[operator]
                   for y, lo, hi in zip(s.y, s.low, s.high, strict=True))
        drawn = str(plot.render())
        assert "B/A" in drawn and "│" in drawn and fmt_size(1000) in drawn
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)


@aio
async def test_one_marked_and_another_highlighted_are_compared_older_as_a(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    older, newer = two_runs(db)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, "space", "c")  # B marked, cursor on A
        assert (screen.comparison.a.label, screen.comparison.b.label) == (f"run {older}", f"run {newer}")


@aio
async def test_c_without_two_runs_says_what_to_do(tmp_path: Path) -> None:
    two_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        await pilot.press("down", "space", "c")  # the last run marked, and still highlighted
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert any("mark two runs" in n.message and "press c" in n.message for n in app._notifications)


@CLI_GROUP
def test_the_cli_table_shows_the_same_symbols(cli_compare: CliCompare) -> None:
    for words in SYMBOLS.values():
        assert words in cli_compare.table


@aio
async def test_runs_without_raw_samples_from_two_hosts_show_ratios_and_why_no_verdict(tmp_path: Path) -> None:
    laptop, gpubox = store_with_runs(tmp_path / "results.sqlite")  # imported: medians only, two hosts
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, "space", "space", "c")
        assert {r["verdict"] for r in table_rows(screen)} == {"? not comparable"}
        assert "host differs (laptop vs gpubox)" in str(screen.query_one("#compare-detail").render())
        plot = screen.query_one(RatioPlot)
        assert all(lo is None for s in plot.series for lo in s.low)  # no interval without samples
        assert "B/A" in str(plot.render())


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
@aio
async def test_compare_fits_with_the_verdict_in_sight_and_keys_in_the_footer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    two_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(app, pilot, "space", "space", "c")
        width, height = size
        for widget in fixed_widgets(screen):
            assert widget.region.right <= width and widget.region.bottom <= height, f"{widget} at {widget.region}"
        table = screen.query_one(DataTable)
        verdict = table.ordered_columns[0]
        assert str(verdict.label) == "verdict" and verdict.get_render_width(table) <= width
        assert table.region.height >= 4 and screen.query_one(RatioPlot).region.height >= 7
        keys = {k.key_display: k for k in screen.query("FooterKey")}
        assert "esc" in keys and all(k.region.right <= width for k in keys.values()), list(keys)
        # without colour the verdict is carried by its symbol, and the plot is plain text
        assert app.no_color and "▲ slower" in {r["verdict"] for r in table_rows(screen)}
        assert not screen.query_one(RatioPlot).render().spans  # type: ignore[union-attr]


def test_compare_screen_snapshot(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    two_runs(tmp_path / "results.sqlite")
    app = make_app(tmp_path)

    async def compared(pilot):
        await open_compare(app, pilot, "space", "space", "c")
        await pilot.pause(0.3)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=compared)


@aio
async def test_a_comparison_finished_while_away_opens_when_history_comes_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from jitscope.results import compare as rc
    from jitscope.ui.screens.results import ResultsScreen

    two_runs(tmp_path / "results.sqlite")
    gate, real = threading.Event(), rc.compare_sides
    monkeypatch.setattr(rc, "compare_sides", lambda *a, **k: (gate.wait(10), real(*a, **k))[1])
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        history = app.screen
        await pilot.press("space", "space", "c", "v")  # compute, and look at Results meanwhile
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        gate.set()
        await wait_for(pilot, lambda: any("comparison is ready" in n.message for n in app._notifications), timeout=30)
        assert isinstance(app.screen, ResultsScreen)  # not pushed over another screen
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("escape")
        assert app.screen is history
