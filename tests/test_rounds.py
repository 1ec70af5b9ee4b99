"""A cell measured in several worker processes (``--processes``, runner/rounds.py): through the
real ``jitscope run``/``compare`` with a plugin kernel whose speed depends on the process
(tests/plugins/process_kernels.py), plus the merging and the statistics on made-up samples.

No assertion on how fast anything is: the process-dependent kernel sleeps 2, 8 and 32 ms in
its first, second and third process, far apart whatever the machine's load adds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import TESTS, assert_clean_error, jitscope

from jitscope.core.compare import Samples, compare_samples
from jitscope.core.model import CellResult, CellSpec, Status
from jitscope.core.stats import median_ci, summarize, summarize_groups
from jitscope.runner.events import CellFinished, CellMeasuredSoFar
from jitscope.runner.plan import default_processes
from jitscope.runner.rounds import Rounds, merge_rounds

KERNELS = str(TESTS / "plugins" / "process_kernels.py")


def _run(tmp_path: Path, name: str, *args: str) -> dict[str, Any]:
    """``jitscope run -w process_kernels.py ARGS --json -``, each run with its own ordinal folder
    (so every run's processes are 0, 1, 2...); the JSON export."""
    folder = tmp_path / f"ordinals-{name}"
    folder.mkdir()
    proc = jitscope("run", "-w", KERNELS, "-b", "python", "--no-plot", "--db", str(tmp_path / "r.sqlite"),
                    "--json", "-", *args, env={"JITSCOPE_TEST_ROUNDS": str(folder), "JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def _cell(export: dict[str, Any], workload: str) -> dict[str, Any]:
    return next(c for c in export["cells"] if c["spec"]["workload"] == workload)


def _groups(cell: dict[str, Any]) -> list[list[float]]:
    samples, out = cell["raw_samples"], []
    for size in cell["sample_groups"]:
        out.append(samples[:size])
        samples = samples[size:]
    return out


# Under xdist every test that reads `two_runs` shares one worker, so its two runs happen once
# (ungrouped, each worker that drew one of these tests made them again).
RUNS_GROUP = pytest.mark.xdist_group("rounds-two-runs")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("rounds")
    first = _run(root, "a", "-w", "perprocess", "--budget", "0.3", "--processes", "3")
    second = _run(root, "b", "-w", "perprocess", "--budget", "0.3", "--processes", "3")
    return root, first, second


@RUNS_GROUP
def test_processes_3_keeps_three_groups_of_samples_per_cell(two_runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, first, _ = two_runs
    cell = _cell(first, "perprocess")
    assert cell["status"] == "ok"
    assert len(cell["sample_groups"]) == 3
    assert all(size > 0 for size in cell["sample_groups"])
    assert sum(cell["sample_groups"]) == len(cell["raw_samples"]) == cell["stats"]["samples"]
    assert cell["spec"]["budget_s"] == 0.3  # the cell as planned; each process had a third of it


@RUNS_GROUP
def test_the_interval_covers_the_spread_between_processes(two_runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    """Processes sleeping 2, 8 and 32 ms: the cell's interval is wider than any one process's
    own, reaches from the slowest to the fastest process's median, and the cell is flagged
    for it."""
    _, first, _ = two_runs
    cell = _cell(first, "perprocess")
    groups = _groups(cell)
    medians = sorted(sorted(g)[len(g) // 2] for g in groups)
    assert medians[0] < medians[1] < medians[2]  # the plugin did make the processes differ
    low, high = cell["stats"]["ci_low"], cell["stats"]["ci_high"]
    own = [median_ci(sorted(g)) for g in groups]
    assert all(high - low > h - lo for lo, h in own)
    assert low <= medians[1] <= high
    assert cell["stats"]["unstable"]
    assert "3 processes' medians span" in cell["stats"]["unstable_reason"]


@RUNS_GROUP
def test_compare_of_two_runs_uses_the_groups(two_runs: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    """``jitscope compare 1 2`` on two --processes 3 runs: the process is the unit (its interval
    is the grouped one, computed here from the exported samples) and identical runs whose
    processes differ this much are no significant change."""
    root, first, second = two_runs
    proc = jitscope("compare", "1", "2", "--allow-unstable", "--json", "-", "--db", str(root / "r.sqlite"),
                    env={"JITSCOPE_HOME": str(root / "home")})
    assert proc.returncode == 0, proc.stderr
    pair = next(p for p in json.loads(proc.stdout)["pairs"] if p["workload"] == "perprocess")
    assert (pair["processes_a"], pair["processes_b"]) == (3, 3)
    want = compare_samples(Samples(tuple(map(tuple, _groups(_cell(first, "perprocess"))))),
                           Samples(tuple(map(tuple, _groups(_cell(second, "perprocess"))))))
    assert pair["ci_low"] == pytest.approx(want.ci_low) and pair["ci_high"] == pytest.approx(want.ci_high)
    assert pair["p_value"] == pytest.approx(want.p_value)
    assert pair["verdict"] == "no significant change"


def test_an_empty_kernel_is_said_to_be_near_the_harness_floor(tmp_path: Path) -> None:
    export = _run(tmp_path, "e", "-w", "empty", "--budget", "0.05")
    cell = _cell(export, "empty")
    assert cell["status"] == "ok"
    floor = cell["info"]["harness_floor_s"]
    assert 0 < floor < 1e-3
    assert f"near the harness floor ({floor * 1e9:.0f} ns" in cell["info"]["note"]
    assert cell["sample_groups"] == []  # 0.05 s: one process by default


def test_each_worker_says_its_harness_floor(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", KERNELS, "-w", "empty", "-b", "python", "--budget", "0.3", "--no-plot",
                    "--db", str(tmp_path / "r.sqlite"), env={"JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stdout.splitlines() if "ready on cpu" in line]
    assert len(said) == 3 and all("; harness floor " in line for line in said), proc.stdout  # 3 processes


def test_a_cell_that_dies_in_its_second_process_keeps_the_first_ones_samples(tmp_path: Path) -> None:
    """The worker exits mid-cell in round 2: the cell is crashed, says which process, keeps
    round 1's samples; the cell after it in the same worker still gets its three processes."""
    folder = tmp_path / "ordinals"
    folder.mkdir()
    proc = jitscope("run", "-w", KERNELS, "-w", "crashes", "-w", "empty", "-b", "python", "--budget", "0.3",
                    "--no-plot", "--db", str(tmp_path / "r.sqlite"), "--json", "-",
                    env={"JITSCOPE_TEST_ROUNDS": str(folder), "JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode != 0  # a crashed cell is no success
    export = json.loads(proc.stdout)
    crashed, after = _cell(export, "crashes"), _cell(export, "empty")
    assert crashed["status"] == "crashed"
    assert crashed["reason"].startswith("process 2 of 3: worker exited with code 3")
    assert crashed["raw_samples"] and crashed["stats"]["samples"] == len(crashed["raw_samples"])
    assert "measured in 1 of 3 processes" in crashed["info"]["note"]
    assert after["status"] == "ok" and len(after["sample_groups"]) == 3


@pytest.mark.parametrize("value", ["0", "x", "101"])
def test_a_bad_processes_count_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", "--processes", value, "--db", str(tmp_path / "r.sqlite"))
    assert_clean_error(proc, "--processes")


# ---- the rule, the merge and the statistics, in-process ------------------------------------
def test_the_default_is_three_processes_where_each_gets_a_tenth_of_a_second() -> None:
    assert default_processes(1.0) == 3
    assert default_processes(0.3) == 3
    assert default_processes(0.29) == 1


SPEC = CellSpec("perprocess", "python", "default", "cpu", "float64", 1, budget_s=0.3)


def _ok(samples: tuple[float, ...], note: str = "") -> CellResult:
    return CellResult(spec=SPEC, status=Status.OK, first_call_s=0.1, stats=summarize(samples, 1),
                      raw_samples=samples, info={"note": note} if note else {})


def test_rounds_finish_a_cell_once_with_its_rounds_merged() -> None:
    rounds = Rounds.of([SPEC], 3)
    assert rounds.open([(0, SPEC)])[0][1].budget_s == pytest.approx(0.1)
    events = []
    for r, samples in enumerate(((1.0, 1.1, 1.0), (2.0, 2.1, 2.0), (3.0, 3.1, 3.0))):
        events += list(rounds.take(CellFinished(0, _ok(samples)), r))
    finished = [e for e in events if isinstance(e, CellFinished)]
    assert len(finished) == 1 and events[-1] is finished[0]  # finished once, after its last round
    so_far = [e for e in events if isinstance(e, CellMeasuredSoFar)]  # each earlier round, saved as it came
    assert [e.result.sample_groups or (len(e.result.raw_samples),) for e in so_far] == [(3,), (3, 3)]
    result = finished[0].result
    assert result.spec.budget_s == 0.3 and "the run ended before the others" not in str(result.info.get("note"))
    assert result.sample_groups == (3, 3, 3) and len(result.raw_samples) == 9
    assert result.first_call_s == 0.1


def test_a_later_round_that_fails_keeps_what_the_earlier_ones_measured() -> None:
    crashed = CellResult(spec=SPEC, status=Status.CRASHED, reason="worker killed by SIGSEGV")
    result = merge_rounds(SPEC, [_ok((1.0, 1.2, 1.1)), crashed], 3)
    assert result.status is Status.CRASHED
    assert result.reason == "process 2 of 3: worker killed by SIGSEGV"
    assert result.raw_samples == (1.0, 1.2, 1.1) and result.stats is not None
    assert "measured in 1 of 3 processes" in result.info["note"]


def test_a_cancelled_round_keeps_the_cell_measured_and_says_so() -> None:
    cancelled = CellResult(spec=SPEC, status=Status.CANCELLED, reason="cancelled by the user")
    result = merge_rounds(SPEC, [_ok((1.0, 1.2, 1.1)), _ok((1.1, 1.0, 1.2)), cancelled], 3)
    assert result.status is Status.OK
    assert result.sample_groups == (3, 3)
    assert "measured in 2 of 3 processes: the run was cancelled" in result.info["note"]


def test_processes_that_agree_give_about_the_pooled_interval_and_no_flag() -> None:
    import random

    rng = random.Random(7)
    groups = [[1.0 + 0.01 * rng.random() for _ in range(40)] for _ in range(3)]
    grouped = summarize_groups(groups, 1)
    pooled = summarize([v for g in groups for v in g], 1)
    assert not grouped.unstable
    assert grouped.median == pooled.median
    assert grouped.ci_high - grouped.ci_low < 3 * (pooled.ci_high - pooled.ci_low)


def test_processes_that_disagree_widen_the_interval_and_flag_the_cell() -> None:
    import random

    rng = random.Random(7)
    groups = [[base + 0.01 * rng.random() for _ in range(40)] for base in (1.0, 1.3, 1.6)]
    grouped = summarize_groups(groups, 1)
    assert grouped.ci_low < 1.1 and grouped.ci_high > 1.5
    assert "processes' medians span" in grouped.unstable_reason


def test_a_run_killed_between_rounds_keeps_what_its_first_processes_measured(tmp_path: Path) -> None:
    """Nothing measured is lost (README "What jitscope guarantees"): each round a cell gets is
    committed as it comes (CellMeasuredSoFar), so a run SIGKILLed before a cell's last round
    keeps that cell, ok, saying how many of its processes measured it; fails where the rounds
    were held in memory until the last one."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    db = tmp_path / "r.db"
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", "-w", "mcpi", "-b", "python", "-s",
                             "1000,2000", "--budget", "0.9", "--processes", "3", "--no-plot", "--db", str(db)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows: list[tuple[str, str]] = []
    deadline = time.monotonic() + 120
    try:
        while not rows and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        rows = conn.execute("SELECT status, data FROM cells").fetchall()
                except sqlite3.Error:
                    rows = []
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert rows, "no round was ever committed"
    status, data = rows[0]
    note = str(json.loads(data).get("info", {}).get("note", ""))
    assert status == "ok"
    assert "of 3 processes: the run ended before the others" in note, note
    shown = jitscope("export", "1", "--db", str(db), "--json", "-")
    assert shown.returncode == 0, shown.stderr
    assert "of 3 processes" in shown.stdout


def test_a_finished_run_keeps_no_so_far_note(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", "mcpi", "-b", "python", "-s", "1000", "--budget", "0.3", "--processes", "2",
                    "--no-plot", "--db", str(tmp_path / "r.db"), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    cell = _cell(json.loads(proc.stdout), "mcpi")
    assert "the run ended before the others" not in json.dumps(cell)
    assert len(_groups(cell)) == 2
