"""The public ``jitscope.workload(...)`` options the built-in workloads are declared with
(issue 18 item 2), through the real command where a user would see them: a ``check=`` that
returns a :class:`jitscope.Accuracy` and names the cell's ``n``, ``dtype`` and parameters,
presets that are lists of sizes, ``jitscope.param(...)`` with help text and bounds,
``expected_error=``, ``inputs=`` given the cell's seed, ``bytes=`` naming the itemsize, and
the two switches a packaged workload uses (``record_defaults=False``, ``input_modes=False``)."""

from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope, run_json_cells

from jitscope.core.registry import load_registry

SCALED = '''
import math
import jitscope

scaled = jitscope.workload(
    "scaled",
    inputs=lambda n, rng, gain: {"x": rng.standard_normal(n) * gain},
    sizes=(64,),
    params={"gain": jitscope.param(2.0, help="how much the input is scaled", minimum=0.5, maximum=8.0),
            "rounds": 3},
    presets={"small": (8, 16), "loud": {"gain": 4.0}},
    check=lambda result, reference, n, dtype, gain: jitscope.Accuracy(
        float(abs(result.sum() - reference.sum())), "abs_sum_gap", 1e-3 * n * gain, True,
        f"n={n} dtype={dtype} gain={gain}"),
    expected_error=lambda n, gain: gain / math.sqrt(n),
    bytes=lambda n, itemsize: n * (itemsize + 8),
    result_form="the input, doubled",
)

@scaled.reference
def _(x):
    return 2.0 * x

@scaled.kernel("numpy")
def _(x):
    return 2.0 * x
'''


def _file(tmp_path: Path, text: str = SCALED, name: str = "scaled.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_check_returning_accuracy_names_n_dtype_and_parameters(tmp_path: Path) -> None:
    cells = run_json_cells(tmp_path, "-w", str(_file(tmp_path)), "-b", "numpy", "-s", "32", "--dtype", "float32")
    (cell,) = cells
    assert cell["status"] == "ok", cell
    accuracy = cell["accuracy"]
    assert (accuracy["metric"], accuracy["accurate"]) == ("abs_sum_gap", True), accuracy
    assert accuracy["detail"] == "n=32 dtype=float32 gain=2.0", accuracy
    assert accuracy["tolerance"] == pytest.approx(1e-3 * 32 * 2.0)


def test_a_preset_of_sizes_runs_each_size_and_is_listed_as_sizes(tmp_path: Path) -> None:
    path = _file(tmp_path)
    cells = run_json_cells(tmp_path, "-w", str(path), "-b", "numpy", "-s", "small")
    assert sorted(c["spec"]["size"] for c in cells) == [8, 16]
    listing = jitscope("workloads", "-w", str(path))
    assert listing.returncode == 0, listing.stderr
    text = " ".join(listing.stdout.split())
    assert "presets: small 8,16; loud gain=4.0" in text, listing.stdout
    assert "-p gain=2.0 how much the input is scaled" in text, listing.stdout


@pytest.mark.parametrize(("value", "words"), [("0.1", "below its minimum 0.5"), ("9", "above its maximum 8.0")])
def test_a_parameter_outside_its_bounds_is_refused_with_one_line(tmp_path: Path, value: str, words: str) -> None:
    proc = jitscope("run", "-w", str(_file(tmp_path)), "-b", "numpy", "-p", f"gain={value}",
                    "--db", str(tmp_path / "db.sqlite"))
    assert_clean_error(proc, f"gain={value}", words)


def test_a_parameter_default_outside_its_own_bounds_is_refused_at_load(tmp_path: Path) -> None:
    path = _file(tmp_path, SCALED.replace("jitscope.param(2.0,", "jitscope.param(9.5,"), "bad.py")
    assert_clean_error(jitscope("workloads", "-w", str(path)), "bad.py", "gain")


def test_the_engine_reads_expected_error_bytes_and_the_result_form(tmp_path: Path) -> None:
    workload = load_registry([_file(tmp_path)]).workload("scaled")
    params = workload.resolve_params({})
    assert workload.expected_error(100, params) == pytest.approx(2.0 / 10.0)
    assert workload.bytes_moved(100, params, 4) == 100 * 12  # named itemsize: not rescaled
    assert workload.bytes_moved(100, params, 8) == 100 * 16
    assert workload.result_form == "the input, doubled"
    assert "small" in workload.presets and workload.presets["small"] == (8, 16)  # the app's preset menu


SEEDED = '''
import jitscope

seeded = jitscope.workload("seeded", inputs=lambda n, seed: {"n": n, "seed": seed}, sizes=(5,),
                           record_defaults=False, input_modes=False, params={"k": 1.0})

@seeded.reference
def _(n, seed):
    return float(seed)

@seeded.kernel("python")
def _(n, seed, k):
    return float(seed) * k
'''


def test_inputs_may_take_the_seed_and_need_no_numpy(tmp_path: Path) -> None:
    workload = load_registry([_file(tmp_path, SEEDED, "seeded.py")]).workload("seeded")
    assert workload.make_inputs(5, workload.resolve_params({}), 1234) == {"n": 5, "seed": 1234}


def test_a_packaged_workload_records_only_the_parameters_given_and_has_no_input_modes(tmp_path: Path) -> None:
    path = _file(tmp_path, SEEDED, "seeded.py")
    out = tmp_path / "out.csv"
    proc = jitscope("run", "-w", str(path), "-b", "python", "-s", "5,6", "-p", "k=1", "--budget", "0.02",
                    "--no-plot", "--db", str(tmp_path / "db.sqlite"), "--csv", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert {r["params"] for r in rows} == {"k=1.0"}, rows  # given: recorded; no inputs=resident
    default = jitscope("run", "-w", str(path), "-b", "python", "-s", "5", "--budget", "0.02", "--no-plot",
                       "--db", str(tmp_path / "db.sqlite"), "--csv", str(out))
    assert default.returncode == 0, default.stderr
    assert [r["params"] for r in csv.DictReader(out.open())] == [""]
    refused = jitscope("run", "-w", str(path), "-b", "python", "-p", "inputs=fresh", "--db", str(tmp_path / "db.sqlite"))
    assert_clean_error(refused, "parameter 'inputs'")


def test_a_check_in_the_old_form_still_returns_a_verdict(tmp_path: Path) -> None:
    """``check(result, reference)`` -> bool or float, as documented before: unchanged."""
    text = SCALED.replace("check=lambda result, reference, n, dtype, gain: jitscope.Accuracy(\n"
                          "        float(abs(result.sum() - reference.sum())), \"abs_sum_gap\", 1e-3 * n * gain, True,\n"
                          "        f\"n={n} dtype={dtype} gain={gain}\"),",
                          "check=lambda got, want: float(abs(got - want).max()),")
    assert "got, want" in text
    workload = load_registry([_file(tmp_path, text, "old.py")]).workload("scaled")
    params = workload.resolve_params({})
    inputs = workload.make_inputs(10, params, 1)
    reference = workload.reference(inputs, 10, params)
    accuracy = workload.check(reference + 1.0, reference, inputs, 10, params, "float64")
    assert (accuracy.metric, accuracy.accurate) == ("check", False)
    assert math.isclose(accuracy.error, 1.0)


@pytest.mark.parametrize("preset", ["(0, 10)", "('10', 20)", "()", "5"])
def test_a_preset_that_is_neither_sizes_nor_parameters_is_refused_at_load(tmp_path: Path, preset: str) -> None:
    path = _file(tmp_path, SCALED.replace('"small": (8, 16)', f'"small": {preset}'), "presets.py")
    assert_clean_error(jitscope("workloads", "-w", str(path)), "presets.py", "preset 'small'")


def test_fresh_inputs_without_input_modes_is_refused() -> None:
    import jitscope as js

    with pytest.raises(ValueError, match="fresh_inputs=True needs the inputs= modes"):
        js.workload("w", inputs=lambda n: {"n": n}, fresh_inputs=True, input_modes=False)
