"""Export: tidy CSV (one row per cell), JSON and Markdown — one flattening for every path.

The CLI and the app both call :func:`write_exports`, so a CSV from either is identical and
CSVs from two machines concatenate (the environment that matters per row — host, threads,
backend version — is in the row itself).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.labels import result_device, split_device_label
from jitscope.core.model import (
    OBSERVATION_FIELDS,
    Accuracy,
    CellResult,
    CellSpec,
    Observations,
    Stats,
    Status,
)
from jitscope.core.units import fmt_bytes, fmt_seconds

CSV_COLUMNS = (
    "run_id", "workload", "backend", "variant", "device", "dtype", "size", "status", "reason",
    "first_call_s", "compile_s", "transfer_s", "median_s", "iqr_s", "min_s", "mean_s", "stdev_s",
    "ci_low_s", "ci_high_s", "samples", "loops", "unstable", "unstable_reason", "error", "error_metric", "tolerance",
    "accurate", "gflops", "gbs", "threads", "backend_version", "host",
    # what was observed (jitscope.core.model.Observations, one column per field)
    *OBSERVATION_FIELDS,
    # the fairness record and context
    "rng", "sync", "params", "kernel_options", "seed", "budget_s", "note",
)

_INFO_COLUMNS = ("rng", "sync", "kernel_options")


def cell_row(result: CellResult, run_id: int | None, host: str) -> dict[str, Any]:
    s, st, acc, info = result.spec, result.stats, result.accuracy, result.info
    row: dict[str, Any] = {
        "run_id": run_id,
        "workload": s.workload,
        "backend": s.backend,
        "variant": s.variant,
        "device": result_device(result),  # "cuda (simulated)" from numba's CUDA simulator
        "dtype": s.dtype,
        "size": s.size,
        "status": result.status.value,
        "reason": result.reason,
        "first_call_s": result.first_call_s,
        "compile_s": result.compile_s,
        "transfer_s": result.transfer_s,
        "median_s": st.median if st else None,
        "iqr_s": st.iqr if st else None,
        "min_s": st.min if st else None,
        "mean_s": st.mean if st else None,
        "stdev_s": st.stdev if st else None,
        "ci_low_s": st.ci_low if st else None,
        "ci_high_s": st.ci_high if st else None,
        "samples": st.samples if st else None,
        "loops": st.loops if st else None,
        "unstable": st.unstable if st else None,
        "unstable_reason": st.unstable_reason if st else None,
        "error": acc.error if acc else None,
        "error_metric": acc.metric if acc else None,
        "tolerance": acc.tolerance if acc else None,
        "accurate": acc.accurate if acc else None,
        "gflops": result.gflops,
        "gbs": result.gbs,
        "threads": info.get("threads", s.threads),
        "backend_version": info.get("backend_version"),
        "host": host,
        "params": ";".join(f"{k}={v}" for k, v in s.params),
        "seed": s.seed,
        "budget_s": s.budget_s,
        "note": info.get("note"),
    }
    row.update(result.observed.to_json())
    for key in _INFO_COLUMNS:
        row[key] = info.get(key)
    return row


def rows_for(results: Sequence[CellResult], run_id: int | None, host: str) -> list[dict[str, Any]]:
    return [cell_row(r, run_id, host) for r in results]


# A text cell a spreadsheet would evaluate as a formula starts with one of these (OWASP's
# list); such a cell is written with a leading ' (the spreadsheet convention for "text"),
# and read_csv takes it off again. A cell that already starts with ' followed by one of them
# (or by another ') gets one more, so that taking one off is always exact.
FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _needs_quote(text: str) -> bool:
    if not text or _NUMBER.fullmatch(text):  # "-5" is a number to a spreadsheet, not a formula
        return False
    if text[0] in FORMULA_STARTS:
        return True
    return text[0] == "'" and len(text) > 1 and text[1] in FORMULA_STARTS | {"'"}


def neutralise_formula(text: str) -> str:
    return "'" + text if _needs_quote(text) else text


def restore_formula(text: str) -> str:
    """The inverse of :func:`neutralise_formula`, for ``jitscope import``."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_STARTS | {"'"}:
        return text[1:]
    return text


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return neutralise_formula(value)
    return value


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def to_json(results: Sequence[CellResult], run: dict[str, Any]) -> str:
    # "device_label": the device as every table shows it ("cuda (simulated)"); the spec keeps
    # the device asked for, observed.simulated the flag.
    cells = [{**r.to_json(), "device_label": result_device(r)} for r in results]
    payload = {"format": "jitscope-run", "version": 1, "run": run, "cells": cells}
    return json.dumps(payload, indent=2, default=str, allow_nan=True)


def _fmt_time(value: float | None) -> str:
    return fmt_seconds(value) if value is not None else ""


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _fmt_number(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else ""


def to_markdown(results: Sequence[CellResult], run: dict[str, Any]) -> str:
    """Two tables: the results (``~`` after an unstable median; compiled, cache, peak memory
    on the cell's device), then the rest of what was observed about each cell that ran
    (start-up, graph breaks, host and device peaks, CPU use and contention, dtype, why
    unstable)."""
    env = run.get("environment", {})
    lines = [
        f"# jitscope run {run.get('id', '')}".rstrip(),
        "",
        f"- host: {env.get('host', '?')} — {env.get('cpu', '?')}, {env.get('cores', '?')} cores",
        f"- python: {env.get('python', '?')}; started {run.get('started', '')}",
        "",
        "| workload | backend | device | dtype | size | status | median | compiled | compile | cache | peak memory | error | accurate | reason |",
        "|---|---|---|---|---:|---|---:|---|---:|---|---:|---:|---|---|",
    ]
    for r in results:
        s = r.spec
        err = f"{r.accuracy.error:.3g}" if r.accuracy else ""
        acc = ("yes" if r.accuracy.accurate else "NO") if r.accuracy else ""
        median = _fmt_time(r.median_s) + (" ~" if r.stats and r.stats.unstable else "")
        lines.append(
            f"| {s.workload} | {s.backend}:{s.variant} | {result_device(r)} | {s.dtype} | {s.size} | {r.status.value} "
            f"| {median} | {r.observed.compiled} | {_fmt_time(r.compile_s)} | {r.observed.cache} "
            f"| {fmt_bytes(r.peak_memory_bytes)} "
            f"| {err} | {acc} | {_md(r.reason)} |"
        )
    ran = [r for r in results if r.stats is not None]
    if any(r.stats.unstable for r in ran if r.stats):
        lines += ["", "`~`: unstable, the median is not to be trusted (why: below; README \"Stability flag\")."]
    if ran:
        lines += [
            "",
            "## What was observed",
            "",
            "| workload | backend | device | dtype | size | start-up | graph breaks "
            "| peak host | peak device | cpu util | cpu contention | dtype used | unstable because |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in ran:
            s, o = r.spec, r.observed
            lines.append(
                f"| {s.workload} | {s.backend}:{s.variant} | {result_device(r)} | {s.dtype} | {s.size} "
                f"| {_fmt_time(o.startup_s)} | {_fmt_number(o.graph_breaks, 'd')} "
                f"| {fmt_bytes(o.peak_host_bytes)} | {fmt_bytes(o.peak_device_bytes)} "
                f"| {_fmt_number(o.cpu_util, '.2f')} | {_fmt_number(o.cpu_contention, '.0%')} | {o.dtype_used} "
                f"| {_md(r.stats.unstable_reason if r.stats else '')} |"
            )
    return "\n".join(lines) + "\n"


STDOUT = "-"
# Names of our own standard output: reopening them would truncate a redirected file under
# the text already printed, so they are written as "-" is, through the open stream.
_STDOUT_ALIASES = {STDOUT, "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"}


def _is_stdout(path: str | Path) -> bool:
    return str(path) in _STDOUT_ALIASES


def write_text(path: str | Path, text: str) -> Path:
    """Write an export; returns how to name where it went.

    * ``-``: standard output (and nothing else is printed there);
    * a symlink, a FIFO, a device (``/dev/stdout``), anything not a regular file: written
      through as a stream — never renamed over, which would replace the link or the device;
    * a regular file (or a new one): atomically, through a temporary file in the same
      folder and a rename, so a reader never sees half an export.
    OS errors become one-line user errors.
    """
    if _is_stdout(path):
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as exc:
            raise UserError(f"cannot write to standard output: {exc.strerror or exc}") from None
        return Path("/dev/stdout")
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"cannot write {p}: it is a directory")
    try:
        if p.is_symlink() or (p.exists() and not stat.S_ISREG(p.stat().st_mode)):
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(text)
            return p
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            _take_mode(fd, p)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise UserError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def _take_mode(fd: int, target: Path) -> None:
    """Give the temporary file (mkstemp makes it 0600) the mode ``open(target, "w")`` would
    leave: an existing file keeps its mode (and, when we may, its owner and group: a shared
    0664 file stays shared), a new one gets 0666 less the umask. Done before the rename, so
    the file is never seen with the wrong mode."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        os.fchmod(fd, 0o666 & ~current_umask())
        return
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # only root (or the group's member) may
            os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def current_umask() -> int:
    """The process umask, read without changing it (os.umask sets it; the app exports from a
    thread while others may create files). Linux: /proc/self/status; elsewhere the
    set-and-restore."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _is_special(path: str | Path) -> bool:
    """An existing target that is not a regular file (a FIFO, a device): written as a stream."""
    try:
        return not stat.S_ISREG(os.stat(Path(path).expanduser()).st_mode)
    except OSError:
        return False


def _same_place(a: str | Path, b: str | Path) -> bool:
    """The same file by resolved name, or (when both exist) by device and inode."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return os.path.realpath(pa) == os.path.realpath(pb) or _same_file(pa, pb)


def refuse_database_alias(path: str | Path, db_path: str | Path) -> None:
    """An export must never overwrite the results database (or its WAL/shared-memory files):
    compared by resolved path and, for files that exist, by device and inode, so symlinks
    and hard links are caught too."""
    if _is_stdout(path):
        return
    target = Path(path).expanduser()
    db = Path(db_path).expanduser()
    for protected in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        if _same_place(target, protected):
            raise UserError(f"export path {path} is the results database {protected}; choose another file")


def check_writable(path: str | Path) -> None:
    """Fail before a sweep, not after, when an export path cannot be written: create the
    folder and a probe file for real (permission bits say nothing when running as root).
    Special files (a FIFO, a device, stdout) are not opened here: opening a FIFO would wait
    for its reader."""
    if _is_stdout(path):
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"export path {p} is a directory")
    if p.exists() and not stat.S_ISREG(p.stat().st_mode):
        if not os.access(p, os.W_OK):
            raise UserError(f"export path {p} is not writable")
        return
    folder = p.resolve().parent if p.is_symlink() else p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".jitscope-probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
        if p.exists():
            with open(p, "a", encoding="utf-8"):
                pass
    except OSError as exc:
        raise UserError(f"export path {p} is not writable: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class ExportTargets:
    """Where a run's exports go (any of them may be ``-`` for stdout, at most one)."""

    csv: str | Path | None = None
    json: str | Path | None = None
    md: str | Path | None = None

    @property
    def paths(self) -> list[str | Path]:
        return [p for p in (self.csv, self.json, self.md) if p]

    @property
    def uses_stdout(self) -> bool:
        return any(_is_stdout(p) for p in self.paths)

    def check(self, db_path: str | Path | None, inputs: Sequence[str | Path] = ()) -> None:
        """Everything that can be refused before a run: stdout twice, the database itself,
        one of the run's ``inputs`` (a workload file: ``-w k.py --csv k.py`` would replace
        the user's source with a CSV), unwritable places."""
        if sum(_is_stdout(p) for p in self.paths) > 1:
            raise UserError("only one export can go to standard output ('-')")
        files = [p for p in self.paths if not _is_stdout(p) and not _is_special(p)]
        for i, path in enumerate(files):
            for other in files[:i]:
                if _same_place(path, other):
                    raise UserError(f"exports {other} and {path} are the same file; the second would replace the first")
        for path in self.paths:
            if db_path is not None:
                refuse_database_alias(path, db_path)
            for source in inputs:
                if not _is_stdout(path) and _same_place(path, source):
                    raise UserError(f"export path {path} is {source}, an input of this run; choose another file")
            check_writable(path)

    def write(self, results: Sequence[CellResult], run: dict[str, Any]) -> list[Path]:
        return write_exports(results, run, csv_path=self.csv, json_path=self.json, md_path=self.md)


def write_exports(results: Sequence[CellResult], run: dict[str, Any], *, csv_path: str | Path | None = None,
                  json_path: str | Path | None = None, md_path: str | Path | None = None) -> list[Path]:
    """Write whichever formats were asked for; ``run`` has id, environment, started...
    Returns where each went (``/dev/stdout`` for ``-``)."""
    written: list[Path] = []
    host = str(run.get("environment", {}).get("host", ""))
    if csv_path:
        written.append(write_text(csv_path, to_csv(rows_for(results, run.get("id"), host))))
    if json_path:
        written.append(write_text(json_path, to_json(results, run)))
    if md_path:
        written.append(write_text(md_path, to_markdown(results, run)))
    return written


# ---- reading CSV back (overlay a run from another machine) -----------------------------
MAX_WHOLE = 2**63 - 1  # what SQLite (and every size, seed and run id) can hold


def _optional_float(text: str | None) -> float | None:
    return float(text) if text not in ("", None) else None


def _seconds(row: dict[str, str], key: str) -> float | None:
    """A duration column: empty, or a finite number of seconds not below 0."""
    value = _optional_float(row.get(key))
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{key} {row.get(key)!r} is not a duration in seconds")
    return value


def read_csv(path: str | Path) -> tuple[list[CellResult], str]:
    """Parse a jitscope CSV into results (enough for tables and plots) and its host."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{p} is not UTF-8 text (byte {exc.start}); not a jitscope CSV") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        return _read_rows(reader, p)
    except csv.Error as exc:
        raise UserError(f"{p} line {reader.line_num}: not valid CSV ({exc})") from None


def _observed_from_row(row: dict[str, str]) -> Observations:
    """The observation columns of a CSV row, one per ``Observations`` field. An empty or
    absent column (not observed, or a CSV from an older jitscope) is the field's default;
    a value the field refuses (``compiled=maybe``) is a ValueError: an invalid row."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Observations):
        text = row.get(f.name) or ""
        if not text:
            continue
        kind = str(f.type)  # "float | None", "int | None", "str" (postponed annotations)
        if kind == "bool":
            values[f.name] = text == "true"
        elif kind.startswith("int"):
            values[f.name] = int(float(text))
        elif kind.startswith("float"):
            values[f.name] = float(text)
        else:
            values[f.name] = text
    return Observations(**values)


def _whole(text: str | None, what: str, minimum: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= MAX_WHOLE:
        raise ValueError(f"{what} {text!r} is not a whole number from {minimum} to 2**63-1")
    return value


def _read_rows(reader: csv.DictReader[str], p: Path) -> tuple[list[CellResult], str]:
    missing = {"workload", "backend", "variant", "device", "dtype", "size", "status"} - set(reader.fieldnames or [])
    if missing:
        raise UserError(f"{p} is not a jitscope CSV (missing columns: {', '.join(sorted(missing))})")
    results: list[CellResult] = []
    host = ""
    for raw in reader:
        line_no = reader.line_num
        row = {k: restore_formula(v) if isinstance(v, str) else v for k, v in raw.items()}
        try:
            if None in row.values() or None in row:
                raise ValueError("its number of fields differs from the header's")
            params = tuple(sorted(tuple(kv.split("=", 1)) for kv in (row.get("params") or "").split(";") if "=" in kv))
            device, _ = split_device_label(row["device"])  # "cuda (simulated)": the simulated column says it
            spec = CellSpec(row["workload"], row["backend"], row["variant"], device, row["dtype"], _whole(row["size"], "size", 1),
                            params=params, budget_s=_seconds(row, "budget_s") or 1.0, seed=_whole(row.get("seed") or "0", "seed", 0))
            stats = None
            median = _seconds(row, "median_s")
            if median is not None:
                stats = Stats(
                    median=median, iqr=_seconds(row, "iqr_s") or 0.0, min=_seconds(row, "min_s") or 0.0,
                    mean=_seconds(row, "mean_s") or 0.0, stdev=_seconds(row, "stdev_s") or 0.0,
                    ci_low=_seconds(row, "ci_low_s") or 0.0, ci_high=_seconds(row, "ci_high_s") or 0.0,
                    samples=_whole(row.get("samples") or "0", "samples", 0), loops=_whole(row.get("loops") or "0", "loops", 0),
                    unstable=row.get("unstable") == "true", unstable_reason=row.get("unstable_reason") or "",
                )
            acc = None
            if row.get("error"):
                acc = Accuracy(float(row["error"]), row.get("error_metric", ""), _optional_float(row.get("tolerance", "")) or 0.0,
                               row.get("accurate") == "true")
            info = {k: row[k] for k in ("backend_version", "threads", "note", *_INFO_COLUMNS) if row.get(k)}
            observed = _observed_from_row(row)
            results.append(CellResult(spec=spec, status=Status(row["status"]), reason=row.get("reason", ""),
                                      first_call_s=_seconds(row, "first_call_s"), compile_s=_seconds(row, "compile_s"),
                                      transfer_s=_seconds(row, "transfer_s"), stats=stats, accuracy=acc,
                                      gflops=_optional_float(row.get("gflops", "")), gbs=_optional_float(row.get("gbs", "")), info=info,
                                      observed=observed))
            host = host or row.get("host", "")
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise UserError(f"{p} line {line_no}: not a valid jitscope row ({exc})") from None
    return results, host


# ---- reading JSON back (compare against a run exported elsewhere) ----------------------
def read_json(path: str | Path) -> tuple[list[CellResult], dict[str, Any]]:
    """Parse a ``--json`` export (format ``jitscope-run``) into its cells, raw samples
    included, and its run record (id, environment, command); every problem is one line."""
    p = Path(path).expanduser()
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{p} is not UTF-8 text (byte {exc.start}); not a jitscope JSON export") from None
    except ValueError as exc:
        raise UserError(f"{p} is not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != "jitscope-run":
        raise UserError(f"{p} is not a jitscope JSON export (no \"format\": \"jitscope-run\")")
    cells = payload.get("cells")
    if not isinstance(cells, list):
        raise UserError(f"{p} has no list of cells")
    results: list[CellResult] = []
    for index, cell in enumerate(cells):
        try:
            results.append(CellResult.from_json(cell))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise UserError(f"{p} cell {index}: not a valid jitscope cell ({exc})") from None
    run = payload.get("run")
    return results, run if isinstance(run, dict) else {}
