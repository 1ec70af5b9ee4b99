"""Exporting what the Results screen shows: one run, or several overlaid (no Textual here).

The formats themselves are ``jitscope.results.export``'s; this decides the default file
name, keeps each overlaid run's id on its own CSV rows, and refuses what would do harm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitscope.core.errors import UserError
from jitscope.ui.state import ResultSet


@dataclass(frozen=True)
class ExportRequest:
    """The export dialog's answer: a CSV path, plus JSON/Markdown next to it when asked."""

    csv_path: Path
    json: bool = False
    markdown: bool = False

    @property
    def json_path(self) -> Path | None:
        return self.csv_path.with_suffix(".json") if self.json else None

    @property
    def md_path(self) -> Path | None:
        return self.csv_path.with_suffix(".md") if self.markdown else None

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.csv_path, self.json_path, self.md_path) if p is not None]


def default_export_path(view: ResultSet, folder: Path) -> Path:
    ids = [str(ref.run_id) for ref in view.runs if ref.run_id is not None]
    stem = f"jitscope-run-{ids[0]}" if len(ids) == 1 else f"jitscope-runs-{'-'.join(ids)}" if ids else "jitscope-results"
    return folder / f"{stem}.csv"


def export_view(view: ResultSet, request: ExportRequest, db_path: Path) -> list[Path]:
    """Write the view: CSV (one row per cell, the right run id on each row of an overlay),
    and JSON/Markdown when asked. Never over the results database (or its WAL files), and
    never to standard output, which is the app's own screen. Raises UserError (one line)."""
    from jitscope.results.export import ExportTargets, rows_for, to_csv, write_exports, write_text

    targets = ExportTargets(request.csv_path, request.json_path, request.md_path)
    if targets.uses_stdout:
        raise UserError("the app draws on standard output; export to a file (or use `jitscope export ... --csv -`)")
    targets.check(db_path)
    runs = view.runs
    json_path, md_path = request.json_path, request.md_path
    if len(runs) == 1:
        ref = runs[0]
        record: dict[str, Any] = dict(ref.record) or {"id": ref.run_id, "environment": {}}
        record.setdefault("id", ref.run_id)
        return write_exports(view.results, record, csv_path=request.csv_path, json_path=json_path, md_path=md_path)
    rows = []
    for ref in runs:
        host = str(ref.record.get("environment", {}).get("host", ""))
        rows.extend(rows_for([r for rr, r in view.items if rr is ref], ref.run_id, host))
    written = [write_text(request.csv_path, to_csv(rows))]
    if json_path or md_path:
        record = {"id": "+".join(str(ref.run_id) for ref in runs), "environment": {},
                  "runs": [ref.record for ref in runs]}
        written += write_exports(view.results, record, json_path=json_path, md_path=md_path)
    return written


def export_in_thread(view: ResultSet, request: ExportRequest, db_path: Path,
                     notify: Callable[..., object]) -> None:
    """(a thread) Export ``view`` and say where it went, or why it could not (``notify``
    reaches the UI thread)."""
    try:
        written = export_view(view, request, db_path)
    except UserError as exc:
        notify(str(exc), title="Export failed", severity="error", timeout=10)
        return
    others = ", ".join(p.suffix for p in written[1:])
    notify(f"{len(view.items)} cells to {written[0]}" + (f" (+ {others})" if others else ""),
           title="Exported", timeout=10)
