"""execute_cell reports what was observed, in-process, with kernels whose observations are
known (tests/plugins/observed_backend.py): compile time only when a compilation was seen,
the dtype of the arrays that ran, retired notes dropped, the memory hooks called around the
right region, the worker's start-up on each cell."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.registry import Registry, load_registry
from jitscope.runner.execute import execute_cell

PLUGIN = Path(__file__).parent / "plugins" / "observed_backend.py"
SIZE = 1000


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry([PLUGIN])


@pytest.fixture(scope="module")
def plugin(registry: Registry) -> ModuleType:
    return sys.modules[registry.backend("observer").implementations[0].build.__module__]


def _run(registry: Registry, variant: str, *, dtype: str = "float64", device: str = "cpu",
         backend_info: dict[str, Any] | None = None) -> CellResult:
    spec = CellSpec("echo", "observer", variant, device, dtype, SIZE, budget_s=0.02)
    result = execute_cell(spec, registry, backend_info)
    assert result.status == Status.OK, result.reason
    return result


def test_compile_time_is_filled_when_the_library_saw_a_compilation(registry: Registry, plugin: ModuleType) -> None:
    r = _run(registry, "compiles")
    o = r.observed
    assert (o.compiled, o.cache, o.graph_breaks) == ("yes", "miss", 2)
    assert r.compile_s is not None and r.stats is not None and r.first_call_s is not None
    assert r.compile_s == pytest.approx(r.first_call_s - r.stats.median)
    # The first call surely took its sleep; the steady median it is compared with can take
    # tens of ms on a loaded machine (then a single sample), so bound the first call, not the difference.
    assert r.first_call_s >= plugin.FIRST_CALL_SLEEP_S
    assert r.compile_s > 0
    assert r.info["compile_detail"] == "built one kernel"


@pytest.mark.parametrize(
    ("variant", "compiled", "cache"),
    [("silent", "unknown", "unknown"), ("cached", "no", "hit"), ("nothing", "no", "n/a")],
)
def test_no_compile_time_unless_a_compilation_was_seen(registry: Registry, plugin: ModuleType,
                                                       variant: str, compiled: str, cache: str) -> None:
    """Each of these first calls is 50 ms slower than the rest; without a compilation seen,
    that difference is not called compile time."""
    r = _run(registry, variant)
    assert (r.observed.compiled, r.observed.cache) == (compiled, cache)
    assert r.first_call_s is not None and r.first_call_s >= plugin.FIRST_CALL_SLEEP_S
    assert r.compile_s is None
    assert "compile_detail" not in r.info


def test_the_watch_brackets_the_first_call_after_the_transfer(registry: Registry, plugin: ModuleType) -> None:
    _run(registry, "compiles")
    log = plugin.LAST[0].log
    assert log[:4] == ["transfer", "watch.start", "first call", "watch.stop"]


def test_dtype_is_read_from_the_arrays_and_retired_notes_are_dropped(registry: Registry) -> None:
    """The kernel was asked for float64, ran float32, and its notes claim float64 and a cache
    hit: the cell says float32, drops the claims, keeps the other notes."""
    r = _run(registry, "float32", dtype="float64")
    assert r.observed.dtype_used == "float32"
    assert "dtype_used" not in r.info and "cache" not in r.info
    assert r.info["layout"] == "C"
    assert r.observed.cache == "unknown"  # the default watch, not the note's "hit"


def test_bandwidth_uses_the_itemsize_that_ran(registry: Registry) -> None:
    r = _run(registry, "float32", dtype="float64")
    assert r.gbs is not None and r.stats is not None
    assert r.gbs * 1e9 * r.stats.median == pytest.approx(4 * SIZE)  # 4-byte items, not 8


def test_device_peak_is_reset_before_the_transfer_and_read_after_the_timing(registry: Registry, plugin: ModuleType) -> None:
    r = _run(registry, "compiles", device="cuda")
    assert r.observed.peak_device_bytes == plugin.DEVICE_PEAK
    log = plugin.LAST[0].log
    assert log.index("reset_device_peak") < log.index("transfer") < log.index("first call")
    assert log[-1] == "device_peak_bytes"


def test_no_device_peak_on_the_cpu(registry: Registry, plugin: ModuleType) -> None:
    r = _run(registry, "compiles", device="cpu")
    assert r.observed.peak_device_bytes is None
    assert "device_peak_bytes" not in plugin.LAST[0].log


def test_the_workers_start_up_is_on_each_cell(registry: Registry) -> None:
    info = {"startup_s": 0.47, "startup": {"interpreter_s": 0.07, "import_s": 0.2, "init_s": 0.2}}
    assert _run(registry, "compiles", backend_info=info).observed.startup_s == 0.47
    assert _run(registry, "silent", backend_info=info).observed.startup_s == 0.47
    assert _run(registry, "silent").observed.startup_s is None  # not measured: unknown


def test_raw_samples_are_the_samples_the_statistics_came_from(registry: Registry) -> None:
    r = _run(registry, "silent")
    assert r.stats is not None and len(r.raw_samples) == r.stats.samples >= 1
    assert min(r.raw_samples) == r.stats.min
    assert sorted(r.raw_samples)[(len(r.raw_samples) - 1) // 2] <= r.stats.median <= sorted(r.raw_samples)[len(r.raw_samples) // 2]


def test_threads_is_the_configured_cap_and_empty_without_one(registry: Registry) -> None:
    """``threads`` is configuration, not use: no cap and no runtime setting noted -> None
    (never the core count); a cap -> the cap."""
    spec = CellSpec("echo", "observer", "silent", "cpu", "float64", SIZE, budget_s=0.02)
    assert execute_cell(spec, registry).info["threads"] is None
    capped = CellSpec("echo", "observer", "silent", "cpu", "float64", SIZE, budget_s=0.02, threads=3)
    assert execute_cell(capped, registry).info["threads"] == 3
