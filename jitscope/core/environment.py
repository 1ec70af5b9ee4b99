"""The run's environment: what machine, what software, what thread settings.

Collected in the parent without importing any backend (versions come from package metadata;
devices and runtime details come from each worker's hello message and are merged in).
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

from jitscope import __version__

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

DISTRIBUTIONS = {
    "numpy": "numpy",
    "numba": "numba",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "triton": "triton",
    "cython": "Cython",
    "scipy": "scipy",
    "cupy": "cupy-cuda12x",
}


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


def installed_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for key, dist in DISTRIBUTIONS.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


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


def collect_environment(threads: int | None = None) -> dict[str, Any]:
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
        "versions": installed_versions(),
        "gpus": gpus(),
        "workers": {},  # filled per backend x device from each worker's hello
    }
