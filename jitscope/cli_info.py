"""Listings for the CLI: backends, workloads, the coverage matrix, history."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jitscope.cli_tables import choose_columns
from jitscope.core.environment import installed_versions
from jitscope.core.labels import device_label
from jitscope.core.registry import Registry, load_registry
from jitscope.core.text import printable
from jitscope.core.units import fmt_size
from jitscope.results.store import RunRecord, Store


def plain(*parts: object, style: str = "") -> Text:
    """Text from a plugin, a user or a database, ready to print: control characters out and
    never read as markup (``[/]`` in a description or a path is shown as it is)."""
    return Text("".join(printable(p) for p in parts), style=style)


def warning(problem: str) -> Text:
    return Text("warning: ", style="yellow") + plain(problem)


def print_backends(console: Console, *, probe: bool, files: Sequence[str], only: Sequence[str] = ()) -> None:
    """The backends table; ``only``: these backends alone (each probe starts a worker that
    imports its library: TensorFlow's alone costs seconds), a name nobody declares refused."""
    registry = load_registry(files)
    for problem in registry.problems:
        console.print(warning(problem), soft_wrap=True)
    listed = {name: registry.backend(name) for name in only} if only else registry.backends  # unknown: UserError
    infos: dict[str, dict[str, Any]] = {}
    available = {name: b.availability() for name, b in listed.items()}
    if probe:
        from jitscope.runner.probe import probe_backend

        names = [n for n, a in available.items() if a.available]
        with console.status(f"asking {len(names)} backends about themselves in worker processes..."), \
                ThreadPoolExecutor(max_workers=2) as pool:
            for name, info in zip(names, pool.map(lambda n: probe_backend(n, "cpu", tuple(registry.workload_files)), names), strict=True):
                infos[name] = info
    # One pass over the installed packages' metadata for every backend, not one per backend.
    versions = installed_versions([b.requires[0] for b in listed.values() if b.requires])
    table = Table(title="backends", title_justify="left")
    for col in ("backend", "status", "version", "devices", "variants", "notes"):
        table.add_column(col, overflow="fold")
    for name, backend in sorted(listed.items()):
        avail = available[name]
        info = infos.get(name, {})
        version = str(info.get("version") or (versions.get(backend.requires[0]) if backend.requires else "") or "")
        if not avail.available:
            status, notes, devices = "unavailable", avail.reason, ""
        elif "error" in info:
            status, notes, devices = "broken", str(info["error"]), ""
        else:
            status = "available"
            if info:
                simulated = info.get("simulated_devices") or ()
                devices = ", ".join(device_label(d, d in simulated) for d in info.get("devices", []))
                reasons = info.get("device_reasons") or {}
                notes = "; ".join(f"no {d}: {why}" for d, why in reasons.items())
                extra = {k: v for k, v in info.items() if k in ("blas", "gpu", "driver", "threadpools", "compiler")}
                if extra:
                    notes = "; ".join([*(f"{k}: {v}" for k, v in extra.items()), *( [notes] if notes else [])])
            else:
                devices = ", ".join(backend.devices) + " (not probed)"
                notes = backend.description
        cells = [Text(printable(str(v))) for v in (name, status, version, devices, ", ".join(registry.variants(name)), notes)]
        cells[1].stylize("green" if status == "available" else "red")
        table.add_row(*cells)
    console.print(table)


def print_workloads(console: Console, *, files: Sequence[str]) -> None:
    registry = load_registry(files)
    for problem in registry.problems:
        console.print(warning(problem), soft_wrap=True)
    for name, w in sorted(registry.workloads.items()):
        console.print(plain(name, style="bold") + plain(" — ", w.description))
        sizes = ", ".join(fmt_size(s) for s in w.default_sizes) or "none (sized by its parameters)"
        console.print(plain("  size: ", w.size_label, "; default sizes ", sizes))
        if w.preset_names():
            console.print(plain("  presets: ", "; ".join(w.describe_presets())))
        for p in w.params:
            console.print(plain(f"  -p {p.name}={p.default}  {p.help}"))
        labels = list(dict.fromkeys(i.label for i in registry.implementations(workload=name)))
        console.print(plain("  implemented by: ", ", ".join(labels) or "nobody yet"))
        console.print()


def coverage(registry: Registry) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    """(workloads, backend:variant labels, cell marks) for the coverage matrix."""
    workloads = sorted(registry.workloads)
    labels: list[str] = []
    marks: dict[tuple[str, str], str] = {}
    for bname in sorted(registry.backends):
        for variant in registry.variants(bname):
            label = f"{bname}:{variant}"
            labels.append(label)
            for w in workloads:
                impl = registry.find(w, bname, variant)
                if impl is None:
                    continue
                mark = "✓"
                if impl.devices != ("cpu",):
                    mark += " " + "/".join(impl.devices)
                if impl.dtypes != ("float64", "float32"):
                    mark += " " + "/".join(d.replace("float", "f") for d in impl.dtypes)
                if impl.max_size is not None:
                    mark += f" ≤{impl.max_size}"
                marks[(label, w)] = mark
    return workloads, labels, marks


def print_matrix(console: Console, *, markdown: bool, files: Sequence[str]) -> None:
    registry = load_registry(files)
    workloads, labels, marks = coverage(registry)
    if markdown:
        lines = ["| backend:variant | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
        for label in labels:
            lines.append(f"| {label} | " + " | ".join(marks.get((label, w), "–") for w in workloads) + " |")
        console.print("\n".join(lines), soft_wrap=True, markup=False)
        return
    table = Table(title="coverage: workload x backend:variant (✓ = implemented; devices, dtypes, size limits noted)", title_justify="left")
    table.add_column("backend:variant")
    for w in workloads:
        table.add_column(w, justify="center")
    for label in labels:
        table.add_row(Text(printable(label)), *(Text(marks[(label, w)]) if (label, w) in marks else Text("–", style="dim") for w in workloads))
    console.print(table)


MIN_COMMAND_WIDTH = 16


def _fit_commands(rows: list[dict[str, str]], chosen: list[str], width: int) -> bool:
    """Cut each command to the room the other columns leave, with an ellipsis (a long command
    would otherwise push the whole column off the table); False when too little is left."""
    # each column: its text, a space either side and a divider; the table's two edges
    used = sum(max(len(c), *(len(r[c]) for r in rows)) + 3 for c in chosen) + 2 + 3
    room = width - used
    if room < MIN_COMMAND_WIDTH:
        return False
    for row in rows:
        command = row["command"]
        row["command"] = command if len(command) <= room else command[: room - 1] + "…"
    return True


def _state_word(run: RunRecord) -> str:
    """``running 3/12`` for a run in progress (cells done of those planned, from the selection
    it stored), else its state."""
    planned = run.selection.get("planned")
    if run.state == "running" and isinstance(planned, int):
        return f"running {run.cell_count}/{planned}"
    return run.state


def print_history(console: Console, db_path: Path, limit: int) -> list[str]:
    """The table of runs; returns what was damaged and left out (one line each, for stderr)."""
    with Store(db_path, create=False) as store:
        runs = store.runs(limit)
        damaged = store.damaged
    if not runs:
        console.print(plain(f"no runs in {db_path} yet — try `jitscope run -w mcpi -b numpy`"))
        return damaged
    rows = [
        {"id": str(r.id), "started": r.started, "host": printable(r.host),
         "state": _state_word(r) + (f" ({r.timing_exclusion})" if r.timing_exclusion else ""),
         "ok/cells": f"{r.ok_count}/{r.cell_count}", "label": printable(r.label), "command": printable(r.command)}
        for r in runs
    ]
    order = ("id", "started", "state", "host", "ok/cells", "label", "command")
    chosen = choose_columns(rows, ("id", "state", "ok/cells"), ("started", "label", "host"), console.width)
    if _fit_commands(rows, chosen, console.width):
        chosen.append("command")
    table = Table(title=plain(f"runs in {db_path}"), title_justify="left", box=None if console.width < 80 else box.SIMPLE_HEAD)
    for col in order:
        if col in chosen:
            table.add_column(col, overflow="ellipsis" if col == "command" else "fold",
                             no_wrap=col in ("id", "state", "ok/cells", "started", "command"))
    for row in rows:  # Text, not markup: labels and commands are whatever the user typed
        table.add_row(*(Text(row[c]) for c in order if c in chosen))
    console.print(table)
    return damaged
