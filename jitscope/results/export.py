"""Export: tidy CSV (one row per cell), JSON and Markdown — one flattening for every path.

The CLI and the app both call :func:`write_exports`, so a CSV from either is identical and
CSVs from two machines concatenate (the environment that matters per row — host, threads,
backend version — is in the row itself).
"""

from __future__ import annotations

import contextlib
import csv
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

from jitscope.core.columns import (
    ACCURACY,
    BY_NAME,
    CSV_NAMES,
    IN_CSV,
    INFO,
    MD_OBSERVATIONS,
    MD_RESULTS,
    OBSERVED,
    REQUIRED_CSV,
    RESULT,
    RUN,
    SPEC,
    STATS,
    Cell,
    View,
    headers,
    row_words,
)
from jitscope.core.errors import UserError
from jitscope.core.model import Accuracy, CellResult, CellSpec, Observations, Stats

# The CSV's columns, in order: declared once in jitscope.core.columns with every other view.
CSV_COLUMNS = CSV_NAMES


def cell_row(result: CellResult, run_id: int | None, host: str) -> dict[str, Any]:
    """One CSV row: each column's value, taken from where its declaration says it lives."""
    run = {"run_id": run_id, "host": host}
    return {c.name: run[c.name] if c.part == RUN else c.value(result) for c in IN_CSV}


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
    cells = [{**r.to_json(), "device_label": BY_NAME["device"].value(r)} for r in results]
    payload = {"format": "jitscope-run", "version": 1, "run": run, "cells": cells}
    return json.dumps(payload, indent=2, default=str, allow_nan=True)


def _md_table(view: View, results: Sequence[CellResult]) -> list[str]:
    """A Markdown table of ``view``: its headers, numbers right-aligned, one line per cell."""
    align = ("---:" if BY_NAME[name].right else "---" for name in view.order)
    lines = ["| " + " | ".join(headers(view)) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(row_words(view, Cell(r))) + " |" for r in results]


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
        *_md_table(MD_RESULTS, results),
    ]
    ran = [r for r in results if r.stats is not None]
    if any(r.stats.unstable for r in ran if r.stats):
        lines += ["", "`~`: unstable, the median is not to be trusted (why: below; README \"Stability flag\")."]
    if ran:
        lines += ["", "## What was observed", "", *_md_table(MD_OBSERVATIONS, ran)]
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


# A part of a cell read only when this column has text: no median, no statistics.
_PART_PRESENT_WHEN = {STATS: "median_s", ACCURACY: "error"}


def _parts_of(row: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each column read back by its declaration, grouped by the part of a cell it fills
    (an empty or absent column is read as ``""``: each reader says what that means)."""
    parts: dict[str, dict[str, Any]] = {SPEC: {}, STATS: {}, ACCURACY: {}, RESULT: {}, INFO: {}, OBSERVED: {}}
    for column in IN_CSV:
        present_when = _PART_PRESENT_WHEN.get(column.part)
        if column.read is None or (present_when and not row.get(present_when)):
            continue
        parts[column.part][column.field_name] = column.read(row.get(column.name) or "", column.name)
    return parts


def _result_of(row: dict[str, str]) -> CellResult:
    """A CSV row as a cell (enough for tables and plots). An empty observation or info
    column is the field's default; a value a field refuses (``compiled=maybe``) is a
    ValueError: an invalid row."""
    parts = _parts_of(row)
    spec = dict(parts[SPEC])
    threads = str(parts[INFO].get("threads") or "")
    if spec.get("threads") is None and threads.isdigit() and int(threads) > 0:
        # A CSV has one threads column (the thread setting the cell ran with): read back as the
        # cell's thread count, so an imported sweep keeps its axis for labels and plots.
        spec["threads"] = int(threads)
    return CellResult(
        spec=CellSpec(**spec),
        stats=Stats(**parts[STATS]) if parts[STATS] else None,
        accuracy=Accuracy(**parts[ACCURACY]) if parts[ACCURACY] else None,
        info={k: v for k, v in parts[INFO].items() if v is not None},
        observed=Observations(**{k: v for k, v in parts[OBSERVED].items() if v is not None}),
        **parts[RESULT],
    )


def _read_rows(reader: csv.DictReader[str], p: Path) -> tuple[list[CellResult], str]:
    missing = REQUIRED_CSV - set(reader.fieldnames or [])
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
            results.append(_result_of(row))
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
