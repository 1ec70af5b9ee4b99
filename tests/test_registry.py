from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from cli_support import jitscope
from conftest import BROKEN, EXAMPLE, ROOT

from jitscope.core import registry as registry_module
from jitscope.core.errors import PluginError, UserError
from jitscope.core.registry import BUILTIN_BACKENDS, BUILTIN_WORKLOADS, load_registry


def test_builtins_are_declared_as_entry_points_too() -> None:
    """Built-ins register the way a third party would: every backend module found on disk has
    its entry point (a new backend is its module, its entry point and its test file)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert project["jitscope.workloads"] == BUILTIN_WORKLOADS
    assert project["jitscope.backends"] == BUILTIN_BACKENDS


def test_seed_workloads_and_baseline_backends_present() -> None:
    reg = load_registry()
    assert {"linreg", "mcpi", "lu", "nodes"} <= set(reg.workloads)
    assert {"python", "numpy"} <= set(reg.backends)
    assert reg.problems == []
    for w in ("linreg", "mcpi", "lu", "nodes"):
        assert reg.find(w, "numpy", "default") is not None
        assert reg.find(w, "python", "default") is not None


def test_broken_entry_point_is_reported_and_the_rest_works(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEP:
        name = "brokenthing"
        value = "no_such_pkg.mod:BACKEND"

        def load(self) -> object:
            raise ImportError("No module named 'no_such_pkg'")

    real = registry_module._entry_points

    def fake(group: str) -> list[object]:
        return [*real(group), FakeEP()] if group == registry_module.BACKEND_GROUP else real(group)

    monkeypatch.setattr(registry_module, "_entry_points", fake)
    reg = load_registry()
    assert any("brokenthing" in p and "no_such_pkg" in p for p in reg.problems)
    assert "numpy" in reg.backends and "mcpi" in reg.workloads


def test_a_worker_loads_the_entry_points_its_parent_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handed the entry points (as the supervisor hands its worker the parent's), the registry
    loads exactly those, reads no installed metadata, and reports a broken one as usual."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins" / "toy_backend_pkg"))
    found = registry_module.entry_point_refs()
    assert ("mcpi", BUILTIN_WORKLOADS["mcpi"]) in found[registry_module.WORKLOAD_GROUP]
    assert ("toy", "toybackend:BACKEND") in found[registry_module.BACKEND_GROUP]
    here = load_registry()

    def no_metadata(group: str) -> list[object]:
        raise AssertionError(f"read the installed metadata for {group}")

    monkeypatch.setattr(registry_module, "_entry_points", no_metadata)
    handed = load_registry(entry_points=found)
    assert (list(handed.backends), list(handed.workloads)) == (list(here.backends), list(here.workloads))
    broken = {registry_module.BACKEND_GROUP: [("brokenthing", "no_such_pkg.mod:BACKEND [extra]")]}
    reg = load_registry(entry_points=broken)
    assert any("brokenthing" in p and "no_such_pkg" in p for p in reg.problems), reg.problems
    assert "toy" not in reg.backends and "numpy" in reg.backends  # the built-ins still load


def test_entry_point_values_load_as_importlib_metadata_reads_them() -> None:
    assert registry_module._load_object("jitscope.core.errors:UserError") is UserError
    assert registry_module._load_object("jitscope.core:errors.UserError [extra]") is UserError
    assert registry_module._load_object("jitscope.core.errors") is sys.modules["jitscope.core.errors"]


def test_file_plugins() -> None:
    reg = load_registry([EXAMPLE])
    assert "dot" in reg.workloads and list(reg.workloads_by_file.values()) == [["dot"]]
    assert reg.find("dot", "numpy", "default") is not None
    with pytest.raises(PluginError, match=r"broken_plugin.py failed to import \(line 3\): RuntimeError"):
        load_registry([BROKEN])
    with pytest.raises(PluginError, match="does not exist"):
        load_registry(["/no/such/plugin.py"])


def test_plugin_defining_nothing_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(PluginError, match="defines no jitscope.workload"):
        load_registry([str(empty)])


def test_core_and_cli_import_no_heavy_backend_and_core_no_ui() -> None:
    code = (
        "import sys, jitscope.core.registry, jitscope.runner.supervisor, jitscope.results.store\n"
        "from jitscope.core.registry import load_registry; load_registry()\n"
        "assert 'textual' not in sys.modules, 'core imported textual'\n"
        "import jitscope.cli\n"
        "heavy = [m for m in ('numba','jax','tensorflow','torch','triton','cupy','scipy') if m in sys.modules]\n"
        "print(' '.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_workload_inputs_are_deterministic() -> None:
    import numpy as np

    reg = load_registry()
    for name, size in (("linreg", 5), ("lu", 7)):
        w = reg.workload(name)
        params = w.resolve_params({})
        a, b = w.make_inputs(size, params, 1), w.make_inputs(size, params, 1)
        c = w.make_inputs(size, params, 2)
        key = "X" if name == "linreg" else "A"
        assert np.array_equal(a[key], b[key]) and not np.array_equal(a[key], c[key])


# ---- a -w file's top level runs once per process -------------------------------------------------
COUNTED = '''
import os, jitscope
with open({counter!r}, "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")
w = jitscope.workload("counted", inputs=lambda n, rng: {{"x": rng.standard_normal(n)}}, sizes=[8])
w.reference(lambda x: x.sum())
w.kernel("numpy")(lambda x: x.sum())
'''


def _counted_file(tmp_path: Path) -> tuple[Path, Path]:
    counter = tmp_path / "imports.txt"
    kernels = tmp_path / "counted.py"
    kernels.write_text(COUNTED.format(counter=str(counter)))
    return kernels, counter


def test_a_files_top_level_runs_once_in_the_command_and_once_in_its_worker(tmp_path: Path) -> None:
    """Importing a user's file is running their code (prints, downloads, a slow setup): once in
    ``jitscope run`` and once in the worker that must import it to run its kernels."""
    kernels, counter = _counted_file(tmp_path)
    proc = jitscope("run", "-w", str(kernels), "-b", "numpy", "--budget", "0.05", "--no-plot",
                    "--db", str(tmp_path / "r.db"), env={"JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    pids = counter.read_text().split()
    assert len(pids) == 2 and len(set(pids)) == 2, pids  # the command's process, then its worker's


def test_a_files_top_level_runs_once_when_the_app_opens_with_it(tmp_path: Path) -> None:
    """``jitscope -w file.py`` checks the file's names, then the app loads the registry: one
    import of the file between them, in the one process."""
    import os
    import pty
    import time

    kernels, counter = _counted_file(tmp_path)
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "-w", str(kernels), "--db", str(tmp_path / "r.db")],
                            stdin=sub, stdout=sub, stderr=sub,
                            env={**os.environ, "JITSCOPE_HOME": str(tmp_path / "home"), "COLUMNS": "120", "LINES": "40"})
    os.close(sub)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while b"counted" not in seen and time.monotonic() < deadline:  # Setup lists the file's workload
            seen += os.read(main, 65536)
        time.sleep(1)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        os.close(main)
    pids = counter.read_text().split()
    assert pids.count(str(proc.pid)) == 1, (proc.pid, pids)  # (a worker probing a backend imports it too)
