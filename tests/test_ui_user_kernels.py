"""The app with users' own kernels: their workloads in Setup, a file (re)loaded with ctrl+o,
a broken file reported while the app keeps its workloads (App.run_test, no worker processes)."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import SIZE
from test_ui_support import aio, factory, fake_probe, wait_for
from textual.widgets import Input, SelectionList

from jitscope.core.registry import load_registry
from jitscope.ui.screens.dialogs import PathDialog

FILE = """
import jitscope

w = jitscope.workload("{name}", inputs=lambda n, rng: {{"x": rng.random(n)}}, sizes=(10, 20),
                      description="{description}")

@w.reference
def _(x):
    return x

@w.kernel("numpy")
def _(x):
    return x
"""


def _write(path: Path, name: str, description: str) -> Path:
    path.write_text(FILE.format(name=name, description=description))
    return path


def _app(tmp_path: Path, files: list[Path]):
    from jitscope.ui.app import JitscopeApp

    return JitscopeApp(load_registry([str(f) for f in files]), tmp_path / "results.sqlite", None,
                       run_factory=factory(), probe=fake_probe, clock=lambda: 0.0, export_dir=tmp_path,
                       theme="jitscope-dark")


def _workloads(app) -> dict[str, str]:
    options = app.screen.query_one("#workloads", SelectionList).options
    return {str(o.value): str(o.prompt) for o in options}


async def _load(pilot, app, path: Path) -> None:
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
    box = app.screen.query_one(Input)
    box.value = str(path)
    await pilot.press("enter")


@aio
async def test_a_user_workload_appears_in_setup_with_its_description(tmp_path: Path) -> None:
    app = _app(tmp_path, [_write(tmp_path / "k.py", "mine", "my own kernel")])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#workloads")))
        prompts = _workloads(app)
        assert "mine" in prompts and "my own kernel" in prompts["mine"]
        assert "mcpi" in prompts  # the built-ins stay


@aio
async def test_ctrl_o_loads_a_file_then_reloads_it_after_an_edit(tmp_path: Path) -> None:
    app = _app(tmp_path, [])
    path = _write(tmp_path / "k.py", "first", "before the edit")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#workloads")))
        assert "first" not in _workloads(app)
        await _load(pilot, app, path)
        await wait_for(pilot, lambda: "first" in _workloads(app))
        assert app.screen.query_one("#workloads", SelectionList).selected == ["first"]  # the file's, selected
        assert app.session.registry is not None and str(path.resolve()) in app.session.registry.workload_files
        _write(path, "first", "after the edit")  # the same file, edited: a fresh load
        await _load(pilot, app, path)
        await wait_for(pilot, lambda: "after the edit" in _workloads(app).get("first", ""))


@aio
async def test_a_broken_file_is_reported_and_the_app_keeps_its_workloads(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.py", "good", "works")
    app = _app(tmp_path, [good])
    broken = tmp_path / "broken.py"
    broken.write_text("import jitscope\nw = jitscope.workload('bad', inputs=lambda n, rng: {})\n"
                      "@w.reference\ndef _(): return 1\n@w.kernel('numbaa')\ndef _(): return 1\n")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#workloads")))
        before = app.session.registry
        await _load(pilot, app, broken)
        await wait_for(pilot, lambda: any("numbaa" in str(n.message) for n in app._notifications))
        assert app.session.registry is before  # the old registry is still the one in use
        assert "good" in _workloads(app) and "bad" not in _workloads(app)
        syntax = tmp_path / "syntax.py"
        syntax.write_text("import jitscope\ndef broken(:\n")
        await _load(pilot, app, syntax)
        await wait_for(pilot, lambda: any("line 2" in str(n.message) for n in app._notifications))
        assert app.session.registry is before and app.is_running
