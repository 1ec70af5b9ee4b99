"""What ``-w`` and ``-s`` select, in the terms typed: workload files, workloads picked from a
file (``-w kernels.py:crc16``), sizes meant for one workload (``-s crc16=1e6``) and presets.

Kept apart from ``cli.py`` so the run command and the app's launcher share one reading.
"""

from __future__ import annotations

from pathlib import Path

from jitscope.core.errors import UserError
from jitscope.core.parsing import parse_size_requests, split_list


def _is_file(item: str) -> bool:
    return item.endswith(".py") or "/" in item or Path(item).suffix == ".py"


def split_workloads(items: list[str] | None) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Names, files, and the workloads picked from each file: ``-w kernels.py:crc16,softmax``
    is read as ``kernels.py:crc16`` and ``softmax`` (a name, which may be one of the file's)."""
    names: list[str] = []
    files: list[str] = []
    picked: dict[str, list[str]] = {}
    for item in split_list(items or []):
        path, sep, name = item.rpartition(":")
        if sep and path.endswith(".py") and name:
            files.append(path) if path not in files else None
            picked.setdefault(path, []).append(name)
        elif _is_file(item):
            files.append(item) if item not in files else None
        else:
            names.append(item)
    return names, files, picked


def select_workloads(items: list[str] | None) -> tuple[list[str], list[str]]:
    """The workload names to run and the files to load. A file alone selects every workload
    it defines, unless some of them are named (``-w kernels.py -w crc16`` or
    ``-w kernels.py:crc16``): then only those."""
    names, files, picked = split_workloads(items)
    if not files:
        return names, files
    from jitscope.core.registry import (
        load_registry,  # NumPy and every backend module: only for a file
    )

    registry = load_registry(files)
    selected = list(names)
    for path in files:
        defined = registry.workloads_of_file(path)
        for name in picked.get(path, []):
            if name not in defined:
                raise UserError(f"-w {path}:{name}: {path} defines no workload {name!r} "
                                f"(it defines: {', '.join(defined) or 'none'})")
            if name not in selected:
                selected.append(name)
        if not picked.get(path) and not any(n in defined for n in names):
            selected.extend(n for n in defined if n not in selected)
    return selected, files


def select_sizes(texts: list[str] | None) -> tuple[list[int] | None, dict[str, list[int | str]]]:
    """``-s``: plain sizes for every workload as before, or per-workload sizes and preset
    names (``-s S``, ``-s crc16=1e6,1e7``) for the planner to resolve per workload."""
    if not texts:
        return None, {}
    requests = parse_size_requests(texts)
    common = requests.get("", [])
    if all(isinstance(t, int) for t in common) and len(requests) == (1 if common else 0):
        return [t for t in common if isinstance(t, int)], {}
    return None, requests
