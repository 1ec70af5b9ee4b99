"""A cell measured in several worker processes (``--processes N``, docs/design.md §4).

One process sees one draw of what changes from process to process (memory layout, code
placement, the machine's phase): its samples agree with each other and can still sit several
per cent away from the next process's. So the supervisor runs the plan's cells N times, in
rounds: round r starts a fresh worker per backend x device that runs every cell once, with
1/N of the cell's budget; a slow phase of the machine then hits every cell alike, not one.
:class:`Rounds` sits between the supervisor's conversation and its consumers: it hands each
round the cells still open, holds each cell's per-round results, and lets a cell finish once,
when its last round is in (or earlier, when a round did not measure it), with the rounds
merged by :func:`merge_rounds`. After each of a cell's rounds but the last, what it measured so
far goes out as :class:`CellMeasuredSoFar` and is committed: the rounds of a cut run are never
lost, and the note on such a row says how many processes it got.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from jitscope.core.model import CellResult, CellSpec, Phase, Status
from jitscope.core.stats import summarize_groups
from jitscope.core.timing import NEAR_FLOOR_WORDS, near_floor_note
from jitscope.runner.events import CellFinished, CellMeasuredSoFar, CellProgressed, Event


@dataclass
class Rounds:
    """The rounds of one run: which cells each round runs, and their results until merged."""

    count: int
    specs: dict[int, CellSpec]  # each cell as planned (its whole budget)
    taken: dict[int, list[CellResult]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, cells: Sequence[CellSpec], count: int) -> Rounds:
        return cls(count=max(1, int(count)), specs=dict(enumerate(cells)))

    def open(self, cells: Sequence[tuple[int, CellSpec]]) -> list[tuple[int, CellSpec]]:
        """The cells a round runs: those not finished yet, each with its share of the budget."""
        share = 1.0 / self.count
        return [(i, dataclasses.replace(spec, budget_s=spec.budget_s * share) if self.count > 1 else spec)
                for i, spec in cells if i not in self.done]

    def take(self, event: Event, round_no: int) -> Iterator[Event]:
        """The events consumers see for one event of round ``round_no``: progress as the cell
        was planned (measuring's fraction over all rounds), a cell's result only once its
        rounds are done, the rest as it came."""
        if isinstance(event, CellProgressed):
            fraction = event.fraction
            if event.phase == Phase.MEASURING:
                fraction = (round_no + fraction) / self.count
            yield dataclasses.replace(event, spec=self.specs.get(event.index, event.spec), fraction=fraction)
        elif isinstance(event, CellFinished):
            results = self.taken.setdefault(event.index, [])
            results.append(event.result)
            if round_no == self.count - 1 or event.result.status is not Status.OK:
                self.done.add(event.index)
                del self.taken[event.index]
                spec = self.specs.get(event.index, event.result.spec)
                yield CellFinished(event.index, merge_rounds(spec, results, self.count))
            else:  # saved now, so a run cut before the cell's last round keeps what it measured
                spec = self.specs.get(event.index, event.result.spec)
                so_far = merge_rounds(spec, results, self.count)
                yield CellMeasuredSoFar(event.index, _with_note(
                    so_far, f"measured in {len(results)} of {self.count} processes: the run ended before the others"))
        else:
            yield event


def merge_rounds(spec: CellSpec, results: Sequence[CellResult], planned: int) -> CellResult:
    """One cell's result from its processes' results, in the order they ran.

    The samples stay grouped by process (``sample_groups``); the statistics are
    :func:`summarize_groups` (median over all samples, the two-level bootstrap interval, the
    between-process stability rule). What the first call saw (first-call and compile times,
    compile and cache observations, the fairness record) is the first process's: later
    processes compile again, and their first calls are not a user's first call. Sampling
    observations are over all processes (CPU use: the mean; contention and peak memory: the
    largest). A round that did not measure the cell ends it with that round's status and
    reason; what the earlier rounds measured is kept (a cancelled run keeps it as ``ok``,
    saying how many processes measured it)."""
    measured = [r for r in results if r.status is Status.OK and r.stats is not None]
    last = results[-1]
    if not measured or (len(results) == 1 and planned == 1):
        return dataclasses.replace(last, spec=spec)
    merged = _merged(spec, measured)
    if last.status is Status.OK:
        return merged
    said = f"measured in {len(measured)} of {planned} processes"
    if last.status is Status.CANCELLED:
        return _with_note(merged, f"{said}: the run was cancelled")
    reason = f"process {len(results)} of {planned}: {last.reason}" if last.reason else f"process {len(results)} of {planned}"
    return dataclasses.replace(_with_note(merged, said), status=last.status, reason=reason)


def _merged(spec: CellSpec, measured: Sequence[CellResult]) -> CellResult:
    first = measured[0]
    assert first.stats is not None
    groups = [r.raw_samples for r in measured if r.raw_samples]
    if len(groups) < len(measured):  # a result without its samples: its median stands in
        groups = [r.raw_samples or (r.stats.median,) for r in measured if r.stats is not None]
    contentions = [r.observed.cpu_contention for r in measured if r.observed.cpu_contention is not None]
    stats = summarize_groups(groups, first.stats.loops, max(contentions) if contentions else None)
    scale = first.stats.median / stats.median if stats.median > 0 else 1.0
    return dataclasses.replace(
        first, spec=spec, stats=stats,
        gflops=first.gflops * scale if first.gflops is not None else None,
        gbs=first.gbs * scale if first.gbs is not None else None,
        info=_merged_info(first.info, measured, stats.median),
        observed=dataclasses.replace(
            first.observed,
            cpu_util=_mean([r.observed.cpu_util for r in measured]),
            cpu_contention=max(contentions) if contentions else None,
            peak_host_bytes=_largest([r.observed.peak_host_bytes for r in measured]),
            peak_device_bytes=_largest([r.observed.peak_device_bytes for r in measured]),
        ),
        raw_samples=tuple(v for g in groups for v in g),
        sample_groups=tuple(len(g) for g in groups) if len(groups) >= 2 else (),
    )


def _merged_info(info: dict[str, object], measured: Sequence[CellResult], median: float) -> dict[str, object]:
    """The first process's record, with the harness-floor note judged again on the merged
    median against the lowest floor any of the processes measured."""
    out = dict(info)
    floors = [f for r in measured if isinstance(f := r.info.get("harness_floor_s"), (int, float))]
    notes = [n for n in str(out.pop("note", "") or "").split("; ") if n and not n.startswith(NEAR_FLOOR_WORDS)]
    if floors:
        out["harness_floor_s"] = min(floors)
        notes.append(near_floor_note(median, min(floors)))
    note = "; ".join(n for n in notes if n)
    if note:
        out["note"] = note
    return out


def _with_note(result: CellResult, text: str) -> CellResult:
    note = "; ".join(str(n) for n in (result.info.get("note"), text) if n)
    return dataclasses.replace(result, info={**result.info, "note": note})


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _largest(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None
