"""Listings for the CLI: backends, workloads, the coverage matrix, history."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from jitscope.core.errors import UserError
from jitscope.core.registry import Registry, load_registry
from jitscope.results.store import Store


def installed_version(module: str) -> str | None:
    """Version of the distribution that provides ``module``, without importing it."""
    try:
        dists = metadata.packages_distributions().get(module, [])
    except Exception:
        dists = []
    for dist in [*dists, module]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def print_backends(console: Console, *, probe: bool, files: Sequence[str]) -> None:
    registry = load_registry(files)
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/] {problem}", soft_wrap=True)
    rows: list[tuple[str, Any]] = []
    infos: dict[str, dict[str, Any]] = {}
    available = {name: b.availability() for name, b in registry.backends.items()}
    if probe:
        from jitscope.runner.probe import probe_backend

        names = [n for n, a in available.items() if a.available]
        with console.status(f"asking {len(names)} backends about themselves in worker processes..."), \
                ThreadPoolExecutor(max_workers=2) as pool:
            for name, info in zip(names, pool.map(lambda n: probe_backend(n, "cpu", tuple(registry.workload_files)), names), strict=True):
                infos[name] = info
    table = Table(title="backends", title_justify="left")
    for col in ("backend", "status", "version", "devices", "variants", "notes"):
        table.add_column(col, overflow="fold")
    for name, backend in sorted(registry.backends.items()):
        avail = available[name]
        info = infos.get(name, {})
        version = str(info.get("version") or (installed_version(backend.requires[0]) if backend.requires else "") or "")
        if not avail.available:
            status, notes, devices = "[red]unavailable[/]", avail.reason, ""
        elif "error" in info:
            status, notes, devices = "[red]broken[/]", str(info["error"]), ""
        else:
            status = "[green]available[/]"
            if info:
                devices = ", ".join(info.get("devices", []))
                reasons = info.get("device_reasons") or {}
                notes = "; ".join(f"no {d}: {why}" for d, why in reasons.items())
                extra = {k: v for k, v in info.items() if k in ("blas", "gpu", "driver", "threadpools", "compiler")}
                if extra:
                    notes = "; ".join([*(f"{k}: {v}" for k, v in extra.items()), *( [notes] if notes else [])])
            else:
                devices = ", ".join(backend.devices) + " (not probed)"
                notes = backend.description
        rows.append((name, (status, version, devices, ", ".join(registry.variants(name)), notes)))
        table.add_row(name, status, version, devices, ", ".join(registry.variants(name)), notes)
    console.print(table)


def print_workloads(console: Console, *, files: Sequence[str]) -> None:
    registry = load_registry(files)
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/] {problem}", soft_wrap=True)
    for name, w in sorted(registry.workloads.items()):
        console.print(f"[bold]{name}[/] — {w.description}")
        console.print(f"  size: {w.size_label}; default sizes {', '.join(str(s) for s in w.default_sizes)}")
        if w.presets:
            console.print("  presets: " + "; ".join(f"{k} {','.join(str(v) for v in vals)}" for k, vals in w.presets.items()))
        for p in w.params:
            console.print(f"  -p {p.name}={p.default}  {p.help}")
        labels = list(dict.fromkeys(i.label for i in registry.implementations(workload=name)))
        console.print(f"  implemented by: {', '.join(labels) or 'nobody yet'}")
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
        table.add_row(label, *(marks.get((label, w), "[dim]–[/]") for w in workloads))
    console.print(table)


def resolve_run_id(store: Store, text: str) -> int:
    if text == "latest":
        rid = store.latest_run_id()
        if rid is None:
            raise UserError(f"no runs in {store.path} yet")
        return rid
    try:
        return int(text)
    except ValueError:
        raise UserError(f"run id {text!r} is not a number or 'latest' (see `jitscope history`)") from None


def print_history(console: Console, db_path: Path, limit: int) -> None:
    with Store(db_path) as store:
        runs = store.runs(limit)
    if not runs:
        console.print(f"no runs in {db_path} yet — try `jitscope run -w mcpi -b numpy`")
        return
    table = Table(title=f"runs in {db_path}", title_justify="left")
    for col in ("id", "started", "state", "host", "cells ok/total", "label", "command"):
        table.add_column(col, overflow="fold")
    for r in runs:
        table.add_row(str(r.id), r.started, r.state, r.host, f"{r.ok_count}/{r.cell_count}", r.label, r.command)
    console.print(table)
