"""Export: tidy CSV (one row per cell), JSON and Markdown — one flattening for every path.

The CLI and the app both call :func:`write_exports`, so a CSV from either is identical and
CSVs from two machines concatenate (the environment that matters per row — host, threads,
backend version — is in the row itself).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.model import Accuracy, CellResult, CellSpec, Stats, Status
from jitscope.core.units import fmt_seconds

CSV_COLUMNS = (
    "run_id", "workload", "backend", "variant", "device", "dtype", "size", "status", "reason",
    "first_call_s", "compile_s", "transfer_s", "median_s", "iqr_s", "min_s", "mean_s", "stdev_s",
    "ci_low_s", "ci_high_s", "samples", "loops", "unstable", "error", "error_metric", "tolerance",
    "accurate", "gflops", "gbs", "threads", "backend_version", "host",
    # the fairness record and context
    "dtype_used", "rng", "sync", "cache", "params", "seed", "budget_s", "note",
)

_INFO_COLUMNS = ("dtype_used", "rng", "sync", "cache")
_FLOAT_COLUMNS = {
    "first_call_s", "compile_s", "transfer_s", "median_s", "iqr_s", "min_s", "mean_s", "stdev_s",
    "ci_low_s", "ci_high_s", "error", "tolerance", "gflops", "gbs", "budget_s",
}


def cell_row(result: CellResult, run_id: int | None, host: str) -> dict[str, Any]:
    s, st, acc, info = result.spec, result.stats, result.accuracy, result.info
    row: dict[str, Any] = {
        "run_id": run_id,
        "workload": s.workload,
        "backend": s.backend,
        "variant": s.variant,
        "device": s.device,
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
    for key in _INFO_COLUMNS:
        row[key] = info.get(key)
    return row


def rows_for(results: Sequence[CellResult], run_id: int | None, host: str) -> list[dict[str, Any]]:
    return [cell_row(r, run_id, host) for r in results]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return value


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def to_json(results: Sequence[CellResult], run: dict[str, Any]) -> str:
    payload = {"format": "jitscope-run", "version": 1, "run": run, "cells": [r.to_json() for r in results]}
    return json.dumps(payload, indent=2, default=str, allow_nan=True)


def _fmt_time(value: float | None) -> str:
    return fmt_seconds(value) if value is not None else ""


def to_markdown(results: Sequence[CellResult], run: dict[str, Any]) -> str:
    env = run.get("environment", {})
    lines = [
        f"# jitscope run {run.get('id', '')}".rstrip(),
        "",
        f"- host: {env.get('host', '?')} — {env.get('cpu', '?')}, {env.get('cores', '?')} cores",
        f"- python: {env.get('python', '?')}; started {run.get('started', '')}",
        "",
        "| workload | backend | device | dtype | size | status | median | compile | error | accurate | reason |",
        "|---|---|---|---|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        s = r.spec
        err = f"{r.accuracy.error:.3g}" if r.accuracy else ""
        acc = ("yes" if r.accuracy.accurate else "NO") if r.accuracy else ""
        reason = r.reason.replace("|", "\\|")
        lines.append(
            f"| {s.workload} | {s.backend}:{s.variant} | {s.device} | {s.dtype} | {s.size} | {r.status.value} "
            f"| {_fmt_time(r.median_s)} | {_fmt_time(r.compile_s)} | {err} | {acc} | {reason} |"
        )
    return "\n".join(lines) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """Write atomically-ish, turning OS errors into one-line user errors."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"cannot write {p}: it is a directory")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    except OSError as exc:
        raise UserError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def check_writable(path: str | Path) -> None:
    """Fail before a sweep, not after, when an export path cannot be written: create the
    folder and a probe file for real (permission bits say nothing when running as root)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"export path {p} is a directory")
    probe = p.with_name(f".{p.name}.jitscope-probe")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(probe, "x", encoding="utf-8"):
            pass
        probe.unlink()
        if p.exists():
            with open(p, "a", encoding="utf-8"):
                pass
    except OSError as exc:
        raise UserError(f"export path {p} is not writable: {exc.strerror or exc}") from None


def write_exports(results: Sequence[CellResult], run: dict[str, Any], *, csv_path: str | Path | None = None,
                  json_path: str | Path | None = None, md_path: str | Path | None = None) -> list[Path]:
    """Write whichever formats were asked for; ``run`` has id, environment, started..."""
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
def _num(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def read_csv(path: str | Path) -> tuple[list[CellResult], str]:
    """Parse a jitscope CSV into results (enough for tables and plots) and its host."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"workload", "backend", "variant", "device", "dtype", "size", "status"} - set(reader.fieldnames or [])
    if missing:
        raise UserError(f"{p} is not a jitscope CSV (missing columns: {', '.join(sorted(missing))})")
    results: list[CellResult] = []
    host = ""
    for line_no, row in enumerate(reader, start=2):
        try:
            params = tuple(sorted(tuple(kv.split("=", 1)) for kv in (row.get("params") or "").split(";") if "=" in kv))
            spec = CellSpec(row["workload"], row["backend"], row["variant"], row["device"], row["dtype"], int(row["size"]),
                            params=params, budget_s=float(row.get("budget_s") or 1.0), seed=int(row.get("seed") or 0))
            stats = None
            if row.get("median_s"):
                stats = Stats(
                    median=float(row["median_s"]), iqr=_num(row.get("iqr_s", "")) or 0.0, min=_num(row.get("min_s", "")) or 0.0,
                    mean=_num(row.get("mean_s", "")) or 0.0, stdev=_num(row.get("stdev_s", "")) or 0.0,
                    ci_low=_num(row.get("ci_low_s", "")) or 0.0, ci_high=_num(row.get("ci_high_s", "")) or 0.0,
                    samples=int(row.get("samples") or 0), loops=int(row.get("loops") or 0),
                    unstable=row.get("unstable") == "true",
                )
            acc = None
            if row.get("error"):
                acc = Accuracy(float(row["error"]), row.get("error_metric", ""), _num(row.get("tolerance", "")) or 0.0,
                               row.get("accurate") == "true")
            info = {k: row[k] for k in ("backend_version", "threads", *_INFO_COLUMNS) if row.get(k)}
            results.append(CellResult(spec=spec, status=Status(row["status"]), reason=row.get("reason", ""),
                                      first_call_s=_num(row.get("first_call_s", "")), compile_s=_num(row.get("compile_s", "")),
                                      transfer_s=_num(row.get("transfer_s", "")), stats=stats, accuracy=acc,
                                      gflops=_num(row.get("gflops", "")), gbs=_num(row.get("gbs", "")), info=info))
            host = host or row.get("host", "")
        except (KeyError, ValueError) as exc:
            raise UserError(f"{p} line {line_no}: not a valid jitscope row ({exc})") from None
    return results, host
