"""The run's environment: what machine, what software, what thread settings.

Collected in the parent without importing any backend (versions come from package metadata;
devices and runtime details come from each worker's hello message and are merged in).
"""

from __future__ import annotations

import csv
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from jitscope.core.version import __version__

# Every library's own thread cap: ``--threads N`` sets each in a worker, and a run's record
# keeps whichever of them the user had set (BLIS, Accelerate's vecLib and numexpr read their
# own, not OpenMP's).
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
)



def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def installed_versions(modules: Iterable[str] = ()) -> dict[str, str]:
    """The installed version of each importable module's distribution, read from the
    distribution metadata (``numpy`` -> numpy, ``cupy`` -> cupy-cuda12x, ``Cython`` ->
    Cython), for the modules the backends require: no hand-kept table of names."""
    if not modules:
        from jitscope.core.registry import load_registry

        modules = [m for b in load_registry().backends.values() for m in b.requires]
    modules = list(dict.fromkeys(modules))
    owners = distribution_owners(modules)
    versions = {module: _version_of(module, owners) for module in modules}
    return {module: version for module, version in versions.items() if version is not None}


def distribution_owners(modules: Iterable[str]) -> dict[str, list[str]]:
    """For the top-level package of each module, the installed distributions that provide it,
    in the order ``importlib.metadata`` finds them: what ``metadata.packages_distributions()``
    says for these names, without its cost. That one parses every distribution's metadata and
    file list (about 0.15 s of CPU with the ML stacks installed, in every ``jitscope run``);
    this reads each one's ``top_level.txt`` (else its ``RECORD``) as text and the metadata of
    the owners only."""
    wanted = {module.split(".")[0] for module in modules}
    owners: dict[str, list[str]] = {}
    try:
        for dist in metadata.distributions():
            for top in sorted(wanted & _top_level_names(dist)):
                owners.setdefault(top, []).append(dist.metadata["Name"])
    except Exception:  # a corrupt metadata folder: versions unknown, never a crash
        return {}
    return owners


def _top_level_names(dist: metadata.Distribution) -> set[str]:
    """The top-level packages a distribution installs: its declared ``top_level.txt``, else
    inferred from the Python files its ``RECORD`` lists (the rule of ``importlib.metadata``)."""
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    record = dist.read_text("RECORD")
    if record is None:  # an egg-info install: its own file list
        return {f.parts[0] if len(f.parts) > 1 else f.with_suffix("").name
                for f in dist.files or () if f.suffix == ".py"}
    names = set()
    for row in csv.reader(record.splitlines()):
        path = row[0] if row else ""
        if path.endswith(".py"):
            top, _, rest = path.partition("/")
            names.add(top if rest else top[:-3])
    return names


def _version_of(module: str, owners: Mapping[str, list[str]]) -> str | None:
    """The first distribution that owns the module's top-level package and is installed; else
    a distribution of the module's own name (metadata without a top-level.txt)."""
    top = module.split(".")[0]
    for dist in [*owners.get(top, ()), top]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def gpus() -> list[dict[str, str]]:
    """NVIDIA GPUs and driver via nvidia-smi (no CUDA library is loaded in this process)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2:
            found.append({"name": parts[0], "driver": parts[1], "memory": parts[2] if len(parts) > 2 else ""})
    return found


def collect_environment(threads: int | list[int | None] | None = None, modules: Iterable[str] = ()) -> dict[str, Any]:
    """``threads``: the run's thread cap (a list for a thread sweep; each worker's own is in
    ``workers``); ``modules``: what the backends require (``Backend.requires``), whose
    versions are recorded."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "jitscope": __version__,
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": affinity,
        "memory_bytes": memory_total_bytes(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "threads": threads,
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "versions": installed_versions(modules),
        "gpus": gpus(),
        "workers": {},  # filled per backend x device from each worker's hello
    }
