"""``jitscope compare`` and ``jitscope run --compare-to``: through the real command, against
runs made by the real ``jitscope run`` at tiny sizes; and the statistics on synthetic samples.

No test asserts on how fast anything is: B is made slower by a workload parameter (linreg
``epochs=200`` does 10x the work of the default 20), so its verdict does not hang on the
machine's noise. On a shared machine nearly every cell is flagged unstable, so the tests
that need a verdict pass ``--allow-unstable`` (the default, not comparable, is tested on its own).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_support import assert_clean_error, jitscope

from jitscope.core.compare import Samples, Verdict, compare_medians, compare_samples

# 0.2 s, not 0.05: a verdict needs at least 5 samples a side, and a loaded machine can stretch
# a 4 ms call (epochs=200) until a 0.05 s budget holds fewer.
RUN = ("run", "-w", "linreg", "-b", "numpy", "--budget", "0.2", "--no-plot")


class Runs:
    """Two real runs in one database, with the first one's exports.

    run 1: linreg numpy sizes 2 and 10, default epochs; run 2: size 2 with epochs=200."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "results.sqlite"
        self.env = {"JITSCOPE_HOME": str(root / "home")}
        self.json_a = root / "a.json"
        self.csv_a = root / "a.csv"
        self.json_b = root / "b.json"
        self.compares = 0

    def cmd(self, *args: str) -> Any:
        return jitscope(*args, "--db", str(self.db), env=self.env)

    def pairs(self, *args: str) -> list[dict[str, Any]]:
        """``compare ARGS --json -``: the pairs as the JSON export gives them."""
        proc = self.cmd("compare", *args, "--json", "-")
        assert proc.returncode in (0, 1), proc.stderr
        return list(json.loads(proc.stdout)["pairs"])

    def compared(self, *args: str) -> tuple[Any, list[dict[str, Any]]]:
        """``compare ARGS --json FILE``, one process: what it printed and its exit code, and
        the pairs as the JSON export gives them (the export depends on no gate option). Each
        ``compare`` start imports SciPy's stats (over a second of CPU): one, not two."""
        self.compares += 1
        out = self.root / f"compared-{self.compares}.json"
        proc = self.cmd("compare", *args, "--json", str(out))
        assert proc.returncode in (0, 1), proc.stderr
        return proc, list(json.loads(out.read_text())["pairs"])


# Under xdist every test that reads `runs` shares one worker, so its two runs happen once
# (ungrouped, each worker that drew one of these tests ran them again).
RUNS_GROUP = pytest.mark.xdist_group("compare-runs")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    r = Runs(tmp_path_factory.mktemp("compare"))
    first = r.cmd(*RUN, "-s", "2,10", "--json", str(r.json_a), "--csv", str(r.csv_a))
    assert first.returncode == 0, first.stdout + first.stderr
    second = r.cmd(*RUN, "-s", "2", "-p", "epochs=200", "--json", str(r.json_b))
    assert second.returncode == 0, second.stdout + second.stderr
    return r


def _edited(source: Path, target: Path, edit: Any) -> Path:
    """A copy of an exported JSON with ``edit(payload)`` applied (a run from elsewhere)."""
    payload = json.loads(source.read_text())
    edit(payload)
    target.write_text(json.dumps(payload))
    return target


def _by_size(pairs: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for p in pairs:
        out.setdefault(int(p["size"]), []).append(p)
    return out


# ---- matching ---------------------------------------------------------------------------------
@RUNS_GROUP
def test_cells_on_one_side_are_listed_never_dropped(runs: Runs) -> None:
    proc, pairs = runs.compared("1", "2")
    assert proc.returncode == 0, proc.stderr
    assert "only in A" in proc.stdout and "only in B" in proc.stdout
    # epochs=200 is another measurement: nothing pairs, all three cells are listed
    assert sorted((p["size"], p["params"], p["verdict"]) for p in pairs) == [
        (2, "", "only in A"), (2, "epochs=200", "only in B"), (10, "", "only in A")]


@RUNS_GROUP
def test_latest_and_latest_tilde_name_the_runs(runs: Runs) -> None:
    pairs = runs.pairs("latest~1", "latest", "--ignore-param", "epochs")
    assert {(p["a"], p["b"]) for p in pairs} == {("run 1", "run 2")}


# ---- the gate and every exit code ------------------------------------------------------------------
@RUNS_GROUP
def test_fail_if_slower_exits_1_and_names_the_slower_cell(runs: Runs) -> None:
    proc, listed = runs.compared("1", "2", "--ignore-param", "epochs", "--allow-unstable", "--fail-if-slower", "10")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "linreg numpy cpu float64 size=2" in proc.stderr and "slower by" in proc.stderr
    assert "size=10" not in proc.stderr  # only in A: listed in the table, never a failure
    pairs = _by_size(listed)
    slower = pairs[2][0]
    assert slower["verdict"] == "slower" and slower["significant"] is True
    assert slower["ci_low"] > 1.0 and slower["p_value"] < 0.05
    assert pairs[10][0]["verdict"] == "only in A"


@RUNS_GROUP
def test_a_faster_b_passes_the_gate_with_exit_0(runs: Runs) -> None:
    proc = runs.cmd("compare", "2", "1", "--ignore-param", "epochs", "--allow-unstable", "--fail-if-slower", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "faster" in proc.stdout and "slower by" not in proc.stderr


@pytest.mark.parametrize("args, needle", [
    (("99", "1"), "no run 99"),
    (("latest~7", "1"), "latest~7"),
    (("1", "no-such-file.csv"), "no-such-file.csv"),
    (("1", "1", "--fail-if-slower", "-3"), "--fail-if-slower"),
    (("1", "1", "--threshold", "nan"), "--threshold"),
])
@RUNS_GROUP
def test_unusable_input_exits_2_with_one_line(runs: Runs, args: tuple[str, ...], needle: str) -> None:
    assert_clean_error(runs.cmd("compare", *args), needle)


@RUNS_GROUP
def test_unreadable_and_foreign_files_exit_2(runs: Runs, tmp_path: Path) -> None:
    foreign = tmp_path / "other.json"
    foreign.write_text('{"benchmarks": []}')
    assert_clean_error(runs.cmd("compare", str(foreign), "1"), "not a jitscope JSON export")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "jitscope-run", "cells": [')
    assert_clean_error(runs.cmd("compare", str(broken), "1"), "not valid JSON")
    assert_clean_error(runs.cmd("compare", str(tmp_path), "1"), "is a directory")
    unreadable = _edited(runs.json_a, tmp_path / "locked.json", lambda p: None)
    os.chmod(unreadable, 0)
    proc = jitscope("compare", str(unreadable), "1", "--db", str(runs.db), env=runs.env, obey_permissions=True)
    assert_clean_error(proc, "cannot read")


# ---- other sides: exported files ------------------------------------------------------------------
@RUNS_GROUP
def test_compare_against_an_exported_csv_gives_ratios_but_no_verdict(runs: Runs) -> None:
    pairs = runs.pairs(str(runs.csv_a), "1", "--allow-unstable", "--fail-if-slower", "0")
    assert len(pairs) == 2
    for p in pairs:  # the CSV keeps medians, not samples: no significance is invented
        assert p["verdict"] == "no verdict" and p["p_value"] is None and p["ci_low"] is None
        assert "no raw samples" in p["note"] and p["ratio"] == 1.0  # the same run, exactly


@RUNS_GROUP
def test_compare_against_its_own_json_export_is_no_change(runs: Runs) -> None:
    pairs = runs.pairs(str(runs.json_a), "1", "--allow-unstable")
    assert [p["verdict"] for p in pairs] == ["no significant change"] * 2
    assert all(p["ratio"] == 1.0 and p["p_value"] == 1.0 for p in pairs)


@RUNS_GROUP
def test_differing_versions_or_host_are_not_comparable_and_do_not_gate(runs: Runs, tmp_path: Path) -> None:
    def older_numpy(payload: dict[str, Any]) -> None:
        for cell in payload["cells"]:
            cell["info"]["backend_version"] = "1.21.0"

    def other_host(payload: dict[str, Any]) -> None:
        payload["run"]["environment"]["host"] = "elsewhere"

    for name, edit, needle in (("v.json", older_numpy, "numpy version differs"),
                               ("h.json", other_host, "host differs")):
        b = _edited(runs.json_b, tmp_path / name, edit)
        args = ("1", str(b), "--ignore-param", "epochs", "--allow-unstable", "--fail-if-slower", "10")
        proc, pairs = runs.compared(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # 10x slower, but not comparable
        pair = _by_size(pairs)[2][0]
        assert pair["verdict"] == "not comparable" and needle in pair["note"]
        assert pair["ratio"] > 1.0  # the numbers are still shown


@RUNS_GROUP
def test_unstable_cells_are_not_comparable_unless_allowed(runs: Runs, tmp_path: Path) -> None:
    def flag(unstable: bool) -> Any:
        def edit(payload: dict[str, Any]) -> None:
            for cell in payload["cells"]:
                cell["stats"]["unstable"] = unstable
                cell["stats"]["unstable_reason"] = "the two halves' medians differ by 30%" if unstable else ""
        return edit

    a = _edited(runs.json_a, tmp_path / "stable.json", flag(False))
    b = _edited(runs.json_b, tmp_path / "unstable.json", flag(True))
    pair = _by_size(runs.pairs(str(a), str(b), "--ignore-param", "epochs"))[2][0]
    assert pair["verdict"] == "not comparable" and "B is unstable" in pair["note"]
    assert "A is unstable" not in pair["note"]
    allowed = _by_size(runs.pairs(str(a), str(b), "--ignore-param", "epochs", "--allow-unstable"))[2][0]
    assert allowed["verdict"] == "slower" and "compared anyway" in allowed["note"]


@RUNS_GROUP
def test_csv_and_markdown_exports(runs: Runs, tmp_path: Path) -> None:
    md = tmp_path / "cmp.md"
    proc = runs.cmd("compare", "1", "2", "--ignore-param", "epochs", "--allow-unstable", "--csv", "-", "--md", str(md))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {(r["size"], r["verdict"]) for r in rows} == {("2", "slower"), ("10", "only in A")}
    assert "A = run 1" in proc.stderr  # with an export on stdout, the table goes to stderr
    text = md.read_text()
    assert "| linreg numpy cpu float64 size=2 |" in text and "Mann-Whitney" in text


# ---- jitscope run --compare-to ------------------------------------------------------------------
@RUNS_GROUP
def test_run_compare_to_gates_right_after_the_run(runs: Runs, tmp_path: Path) -> None:
    def five_times_faster(payload: dict[str, Any]) -> None:  # "main" was 5x faster than this run
        for cell in payload["cells"]:
            cell["raw_samples"] = [s / 5 for s in cell["raw_samples"]]
            cell["stats"]["median"] /= 5

    main = _edited(runs.json_a, tmp_path / "main.json", five_times_faster)
    base = (*RUN, "-s", "2", "--compare-to", str(main), "--allow-unstable")
    slow = runs.cmd(*base, "--fail-if-slower", "50")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "slower by" in slow.stderr and "size=2" in slow.stderr
    # The table's title wraps to the table's width, inside a long path too (xdist's are long).
    assert "saved as run" in slow.stdout and _unwrapped(f"A = {main}") in _unwrapped(slow.stdout)
    ok = runs.cmd(*base, "--fail-if-slower", "100000")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "only in A" in ok.stdout  # size 10 was not run this time: listed


@RUNS_GROUP
def test_run_refuses_a_bad_compare_to_before_any_cell_runs(runs: Runs) -> None:
    before = runs.cmd("history").stdout
    assert_clean_error(runs.cmd(*RUN, "-s", "2", "--compare-to", "999", "--fail-if-slower", "5"), "no run 999")
    assert_clean_error(runs.cmd(*RUN, "-s", "2", "--fail-if-slower", "5"), "--compare-to")
    assert runs.cmd("history").stdout == before  # nothing ran


# ---- the statistics, on synthetic samples ------------------------------------------------------
def _lognormal(seed: int, n: int = 60, scale: float = 1.0) -> Samples:
    return Samples.single(np.random.default_rng(seed).lognormal(np.log(1e-3 * scale), 0.1, n))


def test_equal_distributions_are_no_significant_change() -> None:
    change = compare_samples(_lognormal(1), _lognormal(2))
    assert change.verdict is Verdict.SAME and not change.significant
    assert change.ci_low is not None and change.ci_high is not None
    assert change.ci_low < 1.0 < change.ci_high and change.p_value is not None and change.p_value > 0.05


def test_a_1_5x_shift_is_slower_with_an_interval_excluding_1() -> None:
    change = compare_samples(_lognormal(1), _lognormal(2, scale=1.5))
    assert change.verdict is Verdict.SLOWER and change.significant
    assert change.ci_low is not None and change.ci_low > 1.0
    assert change.ci_high is not None and change.ci_low < 1.5 < change.ci_high
    assert change.slower_by_more_than(40) and not change.slower_by_more_than(60)
    assert compare_samples(_lognormal(2, scale=1.5), _lognormal(1)).verdict is Verdict.FASTER


def test_a_significant_change_below_the_threshold_is_no_verdict_of_change() -> None:
    a = Samples.single(np.random.default_rng(3).normal(1.0, 0.001, 200))
    b = Samples.single(np.random.default_rng(4).normal(1.02, 0.001, 200))
    change = compare_samples(a, b)  # 2% slower, certainly; under the 5% threshold
    assert change.significant and change.verdict is Verdict.SAME and "within" in change.note
    assert compare_samples(a, b, threshold=0.01).verdict is Verdict.SLOWER
    assert change.slower_by_more_than(1) and not change.slower_by_more_than(5)


def test_too_few_samples_and_missing_samples_get_no_verdict() -> None:
    few = compare_samples(Samples.single([1.0, 1.0, 1.0]), Samples.single([3.0, 3.0, 3.0]))
    assert few.verdict is Verdict.NO_VERDICT and few.ratio == 3.0 and few.p_value is None
    medians = compare_medians(1e-3, 2e-3, "no raw samples")
    assert medians.verdict is Verdict.NO_VERDICT and not medians.significant and medians.ratio == 2.0


def test_the_interval_is_reproducible() -> None:
    assert compare_samples(_lognormal(1), _lognormal(2)) == compare_samples(_lognormal(1), _lognormal(2))


def test_samples_grouped_by_process_count_the_spread_between_processes() -> None:
    """Five worker processes a side, each tight, their levels a few per cent apart: pooled,
    the samples call a 2% difference a certainty; per process, it is not significant."""
    rng = np.random.default_rng(5)

    def side(level: float) -> Samples:
        return Samples(tuple(tuple(rng.normal(level + offset, 0.0005, 40)) for offset in rng.normal(0, 0.04, 5)))

    a, b = side(1.0), side(1.02)
    pooled = compare_samples(Samples.single(a.values), Samples.single(b.values), threshold=0.0)
    grouped = compare_samples(a, b, threshold=0.0)
    assert pooled.significant
    assert not grouped.significant and grouped.verdict is Verdict.SAME
    assert grouped.ci_low is not None and grouped.ci_high is not None and pooled.ci_low is not None and pooled.ci_high is not None
    assert grouped.ci_high - grouped.ci_low > pooled.ci_high - pooled.ci_low


def _unwrapped(text: str) -> str:
    """Text with every white space taken out: what a wrapped line said, wherever it broke."""
    return "".join(text.split())


def test_three_processes_a_side_can_show_a_real_change() -> None:
    """The default --processes 3: a 20% slowdown far beyond the processes' spread of ~2% is
    called slower (Mann–Whitney on 3 against 3 process medians could never go below p = 0.1);
    the same levels on both sides are no significant change."""
    rng = np.random.default_rng(11)

    def side(level: float) -> Samples:
        return Samples(tuple(tuple(rng.normal(level * (1 + offset), 0.0005, 30)) for offset in rng.normal(0, 0.02, 3)))

    a = side(1.0)
    slower = compare_samples(a, side(1.2))
    assert slower.verdict is Verdict.SLOWER and slower.p_value is not None and slower.p_value < 0.05
    same = compare_samples(a, side(1.0))
    assert same.verdict is Verdict.SAME
