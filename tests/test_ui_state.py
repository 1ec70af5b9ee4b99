"""The app's logic without Textual: plans from presets, progress and ETA, result sets and
overlays, observations in words, plot helpers, theme files."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from cli_support import jitscope
from test_ui_support import failed_result, make_registry, ok_result

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, CellSpec, Observations, Phase, Status
from jitscope.plots import Series, loggable, memory_series, render, render_log_bars
from jitscope.runner import events as ev
from jitscope.runner.plan import Selection
from jitscope.ui.planning import compose_plan, positive_seconds, preset_sizes, selection_labels
from jitscope.ui.state import (
    ResultSet,
    RunEnded,
    RunProgress,
    RunRef,
    fmt_duration,
    observed_details,
    results_table_row,
)
from jitscope.ui.themes import DEFAULT_THEME, load_themes, theme_from_mapping
from jitscope.workloads.mcpi import WORKLOAD as MCPI


def sel(**kw) -> Selection:
    base = {"workloads": ["mcpi", "lu"], "backends": [("numpy", None), ("python", None)]}
    base.update(kw)
    return Selection(**base)


# ---- plans ---------------------------------------------------------------------------------
def test_default_preset_runs_each_workload_at_its_default_sizes() -> None:
    """The app's default is the CLI's: no preset means each workload's own default sizes."""
    reg = make_registry()
    plan = compose_plan(reg, sel(), "default")
    for backend in ("numpy", "python"):
        for workload in ("mcpi", "lu"):
            sizes = [c.size for c in plan.cells if (c.backend, c.workload) == (backend, workload)]
            assert sizes == list(reg.workload(workload).default_sizes)
            assert sizes != preset_sizes(reg, workload, "small")  # so the check tells presets apart
    assert [c.backend for c in plan.cells] == sorted([c.backend for c in plan.cells], key=["numpy", "python"].index)


def test_preset_gives_each_workload_its_own_sizes_grouped_by_backend() -> None:
    reg = make_registry()
    plan = compose_plan(reg, sel(params={"p": "0.2"}, workloads=["mcpi", "lu", "nodes"]), "small")
    assert [c.size for c in plan.cells if c.backend == "numpy" and c.workload == "lu"] == preset_sizes(reg, "lu", "small")
    assert [c.size for c in plan.cells if c.backend == "numpy" and c.workload == "mcpi"] == [1000, 10000, 100000]
    assert [c.backend for c in plan.cells] == sorted([c.backend for c in plan.cells], key=["numpy", "python"].index)
    nodes = [c for c in plan.cells if c.workload == "nodes"]
    assert nodes and all(c.params == (("p", 0.2),) for c in nodes)
    assert all(c.params == () for c in plan.cells if c.workload != "nodes")


def test_custom_sizes_win_over_the_preset_and_errors_are_user_errors() -> None:
    reg = make_registry()
    assert {c.size for c in compose_plan(reg, sel(sizes=[16]), "large").cells} == {16}
    with pytest.raises(UserError, match="parameter"):
        compose_plan(reg, sel(params={"nope": "1"}), "small")


# ---- progress -----------------------------------------------------------------------------------
def test_progress_words_fraction_and_eta() -> None:
    now = [0.0]
    specs = [CellSpec("mcpi", "numpy", "default", "cpu", "float64", n, budget_s=1.0) for n in (10, 100, 1000, 10000)]
    p = RunProgress(specs, lambda: now[0])
    assert p.eta() is None  # before any cell: nothing to estimate from (issue 21: not a guess)
    p.progressed(0, Phase.MEASURING, 0.5)
    assert p.states[0].word == "measure 50%" and p.current is p.states[0]
    now[0] = 2.0
    p.finished_cell(0, ok_result(specs[0]))
    p.finished_cell(1, CellResult.skipped(specs[1], "no such thing"))  # instant: costs nothing
    assert p.done == 2 and p.fraction == 0.5
    assert p.eta() is None  # larger sizes, and no cost model to scale the measured 2 s with
    assert [s.tone for s in p.states[:3]] == ["success", "warning", "muted"]
    assert p.counts() == {"ok": 1, "skipped": 1}
    assert fmt_duration(75) == "1:15" and fmt_duration(3725) == "1:02:05" and fmt_duration(None) == "-"


def test_eta_scales_what_the_same_backend_took_by_the_workloads_cost_model() -> None:
    """Issue 21 item 14: LU in Python, 16 ms per call at n = 100, is ~16 s per call at
    n = 1000 (n**3): the ETA says ~35 s, not the 0:01 the mean of the cells so far gave."""
    from jitscope.core.registry import load_registry
    from jitscope.ui.planning import cost_model
    from jitscope.ui.state import status_line

    now = [0.0]
    specs = [CellSpec("lu", "python", "default", "cpu", "float64", n, budget_s=1.0) for n in (100, 1000)]
    p = RunProgress(specs, lambda: now[0], cost=cost_model(load_registry()))
    p.progressed(0, Phase.COMPILING, 0.0)
    assert p.states[0].word == "first call"  # nothing compiles in Python: say what is seen
    assert status_line(p).endswith("ETA unknown")
    now[0] = 2.0
    first = ok_result(specs[0])
    p.finished_cell(0, replace(first, stats=replace(first.stats, median=0.016)))
    ratio = cost_model(load_registry())(specs[1]) / cost_model(load_registry())(specs[0])
    assert 900 < ratio < 1100
    assert p.eta() == pytest.approx(2.0 + 2 * 0.016 * (ratio - 1))
    assert 30 < p.eta() < 40 and status_line(p) == "running 1/2 · ETA 0:34"
    p.progressed(1, Phase.MEASURING, 0.1)
    now[0] = 12.0  # 10 s into the big cell
    assert p.eta() == pytest.approx(2.0 + 2 * 0.016 * (ratio - 1) - 10.0)


def test_progress_follows_the_engines_events_and_ignores_cells_outside_the_plan() -> None:
    specs = [CellSpec("mcpi", "numpy", "default", "cpu", "float64", n) for n in (10, 100)]
    p = RunProgress(specs, lambda: 0.0)
    p.apply(ev.CellProgressed(0, specs[0], Phase.MEASURING, 0.25))
    p.apply(ev.CellFinished(1, ok_result(specs[1])))
    p.apply(ev.CellFinished(5, ok_result(specs[1])))  # no cell 5: ignored, not an IndexError
    assert p.states[0].word == "measure 25%" and p.states[1].done and p.done == 1
    assert not p.finished
    p.apply(RunEnded(cancelled=True))
    assert p.finished and p.cancelled


# ---- a backend whose default variant is not called "default" (torch's is "eager") ------------------
def test_setup_labels_are_the_tables_labels_and_a_bare_name_means_the_default_variant() -> None:
    from jitscope.core.backend import Backend, Implementation
    from jitscope.ui.planning import backend_choices

    def never(ctx):  # pragma: no cover - never built
        raise AssertionError

    torchish = Backend(name="torchish", description="two variants, the default called eager", default_variant="eager",
                       implementations=tuple(Implementation("mcpi", "torchish", v, never) for v in ("compile", "eager")))
    reg = make_registry()
    reg.backends["torchish"] = torchish
    choices = [c for c in backend_choices(reg) if c[1] == "torchish"]
    assert choices == [("torchish:eager", "torchish", None), ("torchish:compile", "torchish", "compile")]
    assert selection_labels(reg, "torchish", None) == ["torchish:eager"]
    assert selection_labels(reg, "torchish", "*") == ["torchish:eager", "torchish:compile"]
    assert selection_labels(reg, "torchish", "nope") == [] and selection_labels(reg, "nosuch", None) == []
    plan = compose_plan(reg, sel(workloads=["mcpi"], backends=[("torchish", None)], sizes=[10]))
    assert [c.variant for c in plan.cells] == ["eager"]


# ---- result sets ---------------------------------------------------------------------------------
def results(speed: float = 1.0) -> list[CellResult]:
    return [ok_result(CellSpec("mcpi", b, "default", "cpu", "float64", n), speed * s)
            for b, s in (("numpy", 1e-8), ("python", 2e-7)) for n in (1000, 10000)]


def test_single_run_labels_speedups_and_plots() -> None:
    view = ResultSet.single(results(), RunRef(1, "#1"))
    assert not view.overlay and view.labels() == ["numpy", "python"]
    assert [round(x, 2) for x in view.speedups("numpy")] == [1.0, 1.0, 0.05, 0.05]
    assert view.plot("time", "mcpi", None).series[0].y == pytest.approx([1e-5, 1e-4])
    assert [s.y for s in view.plot("speedup", "mcpi", "python").series] == [pytest.approx([20.0, 20.0]), [1.0, 1.0]]
    bars = view.plot("compile", "mcpi", None)
    assert bars.groups == ["numpy", "python"] and [b.label.split()[0] for b in bars.bars] == ["compile", "worker", "steady"]
    assert bars.where == {"numpy": "@1e3", "python": "@1e3"}  # nothing compiled: where the worker started


def test_compile_and_start_up_are_drawn_where_they_happened() -> None:
    """Issue 21 item 3: a JIT compiles at its first size only; the compile plot showed the
    largest size, where compile is empty. Each series' bars are at the size it compiled."""

    jit = [ok_result(CellSpec("mcpi", "turbo", "default", "cpu", "float64", n), 1e-9) for n in (1000, 10000, 100000)]
    jit = [replace(r, compile_s=0.5 if r.spec.size == 1000 else None) for r in jit]
    late = [ok_result(CellSpec("mcpi", "lazy", "default", "cpu", "float64", n), 1e-9) for n in (1000, 10000)]
    late = [replace(r, compile_s=0.2 if r.spec.size == 10000 else None) for r in late]
    bars = ResultSet.single(jit + late, RunRef(1, "#1")).plot("compile", "mcpi", None)
    assert bars.groups == ["turbo", "lazy"] and bars.where == {"turbo": "@1e3", "lazy": "@1e4"}
    compile_bar, startup_bar, steady_bar = bars.bars
    assert compile_bar.y == [0.5, 0.2]
    assert startup_bar.y[0] == jit[0].observed.startup_s
    assert steady_bar.y == pytest.approx([jit[0].median_s, late[1].median_s])


def test_overlay_tags_series_and_compares_across_runs() -> None:
    laptop, gpu = RunRef(1, "laptop"), RunRef(2, "gpubox")
    view = ResultSet([(laptop, r) for r in results()] + [(gpu, r) for r in results(0.25)])
    assert view.overlay and view.labels() == ["laptop numpy", "laptop python", "gpubox numpy", "gpubox python"]
    speed = dict(zip([view.label(ref, r) for ref, r in view.items], view.speedups("laptop numpy"), strict=True))
    assert speed["gpubox numpy"] == pytest.approx(4.0)
    labels = [s.label for s in view.plot("time", "mcpi", None).series]
    assert labels == ["laptop numpy", "laptop python", "gpubox numpy", "gpubox python"]


def test_failed_cells_are_in_the_table_not_in_the_plots() -> None:
    spec = CellSpec("mcpi", "numpy", "default", "cpu", "float64", 100)
    view = ResultSet.single([CellResult(spec, Status.FAILED, reason="boom")], RunRef(1, "#1"))
    assert view.speedups("numpy") == [None]
    assert view.plot("time", "mcpi", None).series == []


# ---- observations (issue 8): filled and unknown -------------------------------------------------------
def observed(device: str = "cpu", compile_s: float | None = None, **fields) -> CellResult:
    spec = CellSpec("lu", "numpy", "default", device, "float32", 2000)
    return replace(ok_result(spec), compile_s=compile_s, observed=Observations(**fields))


def columns_of(result: CellResult) -> dict[str, str]:
    from jitscope.ui.screens.results import COLUMNS

    return dict(zip(COLUMNS, results_table_row(result, None, "numpy"), strict=True))


def test_results_row_shows_compiled_and_the_peak_that_matters_or_says_unknown() -> None:
    cpu = columns_of(observed(compiled="yes", compile_s=0.5, peak_host_bytes=32 * 2**20, peak_device_bytes=None))
    assert (cpu["compiled"], cpu["compile"], cpu["peak mem"]) == ("yes", "500ms", "32MiB")
    gpu = columns_of(observed("cuda", compiled="no", peak_host_bytes=5 * 2**20, peak_device_bytes=2**30))
    assert (gpu["compiled"], gpu["compile"], gpu["peak mem"]) == ("no", "-", "1GiB")  # the device's peak
    unknown = columns_of(observed())
    assert (unknown["compiled"], unknown["peak mem"]) == ("unknown", "unknown")
    failed = columns_of(failed_result(CellSpec("lu", "numpy", "default", "cpu", "float64", 10)))
    assert (failed["compiled"], failed["peak mem"]) == ("-", "-")  # never measured: nothing observed


def test_cell_details_name_every_observation_filled_or_unknown() -> None:
    filled = observed("cuda", compile_s=0.012, startup_s=0.47, compiled="yes", cache="miss", graph_breaks=2,
                      peak_host_bytes=31 * 2**20, peak_device_bytes=2**30, cpu_util=1.9, cpu_contention=0.25,
                      dtype_used="float32")
    assert observed_details(filled).split(" · ") == [
        "compiled yes in 12ms", "cache miss", "graph breaks 2", "worker start-up 470ms", "peak host 31MiB",
        "peak device 1GiB", "cpu 1.9 cores", "cpu contention 25%", "dtype float32"]
    # every field of Observations is set above: a new one the details forget fails here
    assert {f.name for f in fields(Observations)} == {k for k, v in vars(filled.observed).items() if v is not None}
    nothing = observed_details(observed())
    assert nothing == "unknown: compiled, cache, graph breaks, worker start-up, peak host, cpu, cpu contention, dtype"
    assert observed_details(observed("cuda")).endswith("peak host, peak device, cpu, cpu contention, dtype")
    assert "cpu contention 0%" in observed_details(observed(cpu_contention=0.0))  # zero is observed, not unknown
    uncompiled = observed_details(observed(compiled="no", compile_s=None, cache="n/a", peak_host_bytes=0))
    assert uncompiled.startswith("compiled no · cache n/a · peak host 0B · unknown: graph breaks")


def test_memory_plot_shows_observed_peaks_only() -> None:
    def cell(backend: str, size: int, peak: int | None, device: str = "cpu") -> CellResult:
        spec = CellSpec("lu", backend, "default", device, "float64", size)
        host, dev = (peak, None) if device == "cpu" else (1, peak)
        return replace(ok_result(spec), observed=Observations(peak_host_bytes=host, peak_device_bytes=dev))

    cells = [cell("numpy", 1000, 8_000_000), cell("numpy", 10, 4096), cell("python", 10, None),
             cell("turbo", 10, 2**20, "cuda")]
    series = {s.label: s for s in memory_series(cells)["lu"]}
    assert series["numpy"].x == [10.0, 1000.0] and series["numpy"].y == [4096.0, 8_000_000.0]
    assert "python" not in series  # nothing observed: left out, not drawn as zero
    assert series["turbo@cuda"].y == [2.0**20]  # the device's peak on a GPU
    data = ResultSet.single(cells, RunRef(1, "#1")).plot("memory", "lu", None)
    assert data.yunit == "bytes" and data.note == ""
    none = ResultSet.single([cell("python", 10, None)], RunRef(1, "#1")).plot("memory", "lu", None)
    assert none.series == [] and none.note == "no peak memory observed"


# ---- plots -------------------------------------------------------------------------------------------
def test_loggable_drops_only_the_points_a_log_axis_cannot_show() -> None:
    kept, dropped = loggable([Series("a", [1, 10, 100], [0.0, 1e-3, float("nan")]), Series("b", [1], [2.0])])
    assert dropped == 2 and kept[0].x == [10] and kept[1].y == [2.0]


def test_the_accuracy_plot_draws_the_workloads_own_expected_error() -> None:
    view = ResultSet.single(results(), RunRef(1, "#1"))
    line = view.plot("accuracy", "mcpi", None, MCPI.workload.expected_error).extra
    assert len(line) == 1 and line[0].x == [1000.0, 10000.0]
    assert line[0].y[0] == pytest.approx(1.6422 / 1000**0.5, rel=1e-3)  # sigma of a 1000-sample estimate
    assert view.plot("accuracy", "mcpi", None, None).extra == []  # no model, no line
    assert view.plot("accuracy", "mcpi", None, lambda size, params: None).extra == []


def test_log_log_plot_and_log_bars_survive_repeated_renders_of_any_size() -> None:
    series = [Series("numpy", [1e3, 1e4, 1e5], [1e-5, 1e-4, 1e-3])]
    for width, height in ((80, 20), (30, 8), (120, 40), (80, 20)):
        text = render(series, width=width, height=height, colors=[(10, 20, 30)], legend=False, color=False,
                      extra=[Series("expected", [1e3, 1e5], [MCPI.workload.expected_error(1000, {}), MCPI.workload.expected_error(100000, {})])])
        assert "1e3" in text and "1e5" in text and "\x1b[" not in text
        bars = render_log_bars(["numpy", "numba"], [Series("compile", [], [1e-4, 2.0]), Series("steady", [], [1e-3, None])],
                               width=width, height=height, color=False, legend=False)
        # the narrowest plot keeps fewer ticks; a seconds tick is there at every size
        assert "numba" in bars and any(tick in bars for tick in ("1s", "10s"))


def test_y_ticks_stay_inside_the_data_range() -> None:
    text = render([Series("a", [1, 10], [2e-5, 8e-3])], width=60, height=12, color=False)
    first_line = text.splitlines()[0]
    assert "100ms" not in text and "1e-5" not in first_line


# ---- themes ---------------------------------------------------------------------------------------------
def test_theme_files_load_dark_first_and_light_too() -> None:
    themes, problems = load_themes()
    names = [t.name for t in themes]
    assert problems == [] and names[0] == DEFAULT_THEME and "jitscope-light" in names
    light = next(t for t in themes if t.name == "jitscope-light")
    assert light.dark is False and light.primary.startswith("#")


def test_user_theme_files_and_broken_ones(jitscope_home: Path) -> None:
    folder = jitscope_home / "themes"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\ndark = false\n')
    (folder / "bad.toml").write_text('name = "bad"\nprimary = "not a colour"\n')
    (folder / "worse.toml").write_text("this is not toml")
    themes, problems = load_themes()
    assert "mine" in [t.name for t in themes]
    assert len(problems) == 2 and any("not a colour" in p for p in problems)
    with pytest.raises(ValueError, match="unknown keys"):
        theme_from_mapping({"name": "x", "primary": "#fff", "colour": "red"}, "x.toml")


def test_probe_backend_can_be_cancelled() -> None:
    import threading
    import time

    from jitscope.runner.probe import probe_backend

    cancel = threading.Event()
    cancel.set()
    start = time.monotonic()
    assert probe_backend("python", cancel=cancel) == {"error": "cancelled", "cancelled": True}
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(("option", "typed"), [("budget", "0"), ("timeout", "-3"), ("budget", "inf")])
def test_the_setup_form_and_the_command_refuse_seconds_by_one_rule_in_the_same_words(option: str, typed: str,
                                                                                      tmp_path: Path) -> None:
    """A budget or timeout the command refuses, the form refuses in the same sentence, named
    as each place names the option (``--budget`` there, ``budget`` here)."""
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", f"--{option}", typed, "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 2
    with pytest.raises(UserError) as refused:
        positive_seconds(typed, option)
    assert proc.stderr.strip() == f"jitscope: error: {refused.value}".replace(option, f"--{option}")


def test_cycling_keys_go_round_and_start_over_when_the_choice_is_gone() -> None:
    from jitscope.ui.keys import next_in_cycle

    assert next_in_cycle(["a", "b", "c"], "b") == "c"
    assert next_in_cycle(["a", "b", "c"], "c") == "a"  # round the end
    assert next_in_cycle(["a", "b", "c"], None) == "a"  # nothing chosen yet
    assert next_in_cycle(["a", "b"], "gone") == "a"  # a workload no longer in the view
