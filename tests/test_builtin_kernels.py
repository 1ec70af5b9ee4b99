"""Built-in workloads declare their kernels in their own file (issue 18 item 2): the
workload's module is the one list of what runs it, found through its entry point like a
third party's, and a plugin file declares kernels the same way."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import textwrap
from pathlib import Path

import pytest
from cli_support import jitscope

from jitscope.core.backend import BuildRef
from jitscope.core.registry import load_registry


@pytest.mark.parametrize("name", ["linreg", "mcpi", "lu", "nodes"])
def test_a_builtin_workloads_kernels_are_declared_in_its_file_and_each_names_a_build(name: str) -> None:
    """Every cell of a built-in workload comes from its own file, and each BuildRef resolves to
    a build taking the cell context (a typo, or a factory left uncalled, would otherwise surface
    only when that backend's cell runs, perhaps only on a GPU machine)."""
    workload = importlib.import_module(f"jitscope.workloads.{name}").WORKLOAD.workload  # the engine's view
    declared = [(i.backend, i.variant) for i in workload.kernel_builds]
    declared += [(k.backend, k.variant) for k in workload.function_kernels]
    assert ("numpy", "default") in declared and ("torch", "compile") in declared
    reg = load_registry()
    for backend in reg.backends.values():
        assert not [i for i in backend.implementations if i.workload == name], backend.name
    assert sorted((i.backend, i.variant) for i in reg.implementations(workload=name)) == sorted(declared)
    for impl in workload.kernel_builds:
        ref = impl.build
        assert isinstance(ref, BuildRef)
        module, _, attr = ref.target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        build = target(*ref.args) if ref.args else target
        assert list(inspect.signature(build).parameters) == ["ctx"], (impl.label, ref)


def test_a_backend_keeps_its_variant_order_when_a_workload_adds_one() -> None:
    """numba:vectorize exists only through mcpi.py; it is still listed (and run) where it was."""
    assert load_registry().variants("numba") == ("default", "parallel", "vectorize", "jitclass", "seed", "cuda")


def test_a_workload_file_declares_a_kernel_the_way_the_builtins_do(tmp_path: Path) -> None:
    """A -w file's Workload with ``kernel_build`` runs like mcpi's kernels: through the real
    command, the declared description and notes reach the cell."""
    plugin = tmp_path / "halves.py"
    plugin.write_text(textwrap.dedent('''
        import numpy as np
        from jitscope.core.backend import FunctionKernel
        from jitscope.core.model import Accuracy
        from jitscope.core.workload import Workload

        class Halves(Workload):
            name = "halves"
            default_sizes = (8,)

            def make_inputs(self, size, params, seed):
                return {"x": np.arange(size, dtype=np.float64)}

            def reference(self, inputs, size, params):
                return inputs["x"] / 2

            def check(self, result, reference, inputs, size, params, dtype):
                error = float(np.max(np.abs(np.asarray(result) - reference)))
                return Accuracy(error, "max_abs", 0.0, error == 0.0)

        def build(ctx):
            return FunctionKernel(lambda: ctx.inputs["x"] * 0.5, compiler=False, notes={"layout": "one multiply"})

        WORKLOAD = Halves()
        WORKLOAD.kernel_build("numpy", "default", build, "x * 0.5")
    '''))
    proc = jitscope("run", "-w", str(plugin), "-b", "numpy", "--budget", "0.02", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    assert (cell["spec"]["workload"], cell["status"]) == ("halves", "ok"), cell
    assert "one multiply" in json.dumps(cell)


def test_one_kernel_shape_takes_every_hook_where_it_is_built() -> None:
    """A backend states the compile watch, the arrays that ran and the device peak when it
    makes the kernel (no attribute set afterwards, no second class for the hooks)."""
    from jitscope.core.backend import CompileObservation, CompileWatch, FunctionKernel

    class Seen(CompileWatch):
        def stop(self) -> CompileObservation:
            return CompileObservation("yes", "miss")

    class Peak:
        def __init__(self) -> None:
            self.resets = 0

        def reset(self) -> None:
            self.resets += 1

        def peak(self) -> int | None:
            return 4096

    peak = Peak()
    kernel = FunctionKernel(lambda: (1.0, "probe"), watch=Seen, ran_with=lambda out: out[1], device_peak=peak)
    out = kernel.run()
    kernel.reset_device_peak()
    assert (kernel.compile_watch().stop().compiled, kernel.ran_with(out)) == ("yes", "probe")
    assert (peak.resets, kernel.device_peak_bytes()) == (1, 4096)


@pytest.mark.parametrize("name", ["linreg", "lu", "nodes", "mcpi"])
def test_a_builtin_plain_function_kernel_is_bound_by_the_adapter_as_a_users_is(name: str) -> None:
    """numpy's and python's built-in kernels are ``@WORKLOAD.kernel`` functions (the public
    decorator): the registry binds them through the backend's adapter, with the description
    the file gives and the adapter's limits (python: float64 only)."""
    workload = importlib.import_module(f"jitscope.workloads.{name}").WORKLOAD
    python = workload.kernel_for("python", "default")
    assert python is not None and python.option("description")
    impl = load_registry().find(name, "python", "default")
    assert impl is not None and not isinstance(impl.build, BuildRef)
    assert (impl.description, impl.dtypes) == (python.option("description"), ("float64",))


def test_a_users_kernel_takes_the_cells_dtype_and_declares_its_notes(tmp_path: Path) -> None:
    """What the built-ins' function kernels need is public: a kernel that names ``dtype``
    gets the cell's (it makes its own data in it), ``notes=`` reach the cell's record and
    ``description=`` the matrix; neither is recorded as a library option."""
    plugin = tmp_path / "draws.py"
    plugin.write_text(textwrap.dedent('''
        import numpy as np
        import jitscope

        draws = jitscope.workload("draws", inputs=lambda n, rng: {"n": n}, sizes=(64,))

        @draws.reference
        def _(n):
            return np.full(n, 0.5)

        @draws.kernel("numpy", description="halves in the cell's dtype", notes={"layout": "one full()"})
        def _(n, dtype):
            return np.full(n, 0.5, dtype=dtype)
    '''))
    proc = jitscope("run", "-w", str(plugin), "-b", "numpy", "--dtype", "float32", "--budget", "0.02", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    assert (cell["status"], cell["observed"]["dtype_used"]) == ("ok", "float32"), cell
    assert cell["info"]["layout"] == "one full()" and "kernel_options" not in cell["info"], cell["info"]
    impl = load_registry([plugin]).find("draws", "numpy", "default")
    assert impl is not None and impl.description == "halves in the cell's dtype"


def test_a_packaged_workload_on_the_public_api_is_found_by_its_entry_point(tmp_path: Path) -> None:
    """One way to find a workload: an entry point may name what ``jitscope.workload(...)``
    returns (the public API), as a built-in's names its WORKLOAD; its kernels are bound by
    the adapters as a -w file's are."""
    package = Path(__file__).parent / "plugins" / "toy_workload_pkg"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(package), os.environ.get("PYTHONPATH", "")]))}
    proc = jitscope("run", "-w", "toyhalves", "-b", "numpy", "--budget", "0.02", "--json", "-", env=env)
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    assert (cell["spec"]["workload"], cell["status"], cell["info"]["layout"]) == ("toyhalves", "ok", "one multiply")
