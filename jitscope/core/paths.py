"""Where jitscope keeps things per user: the results database, caches, the timing lock."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "JITSCOPE_DB"
HOME_ENV = "JITSCOPE_HOME"  # overrides the whole per-user directory (tests use it)


def data_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("jitscope", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(name: str) -> Path:
    """A per-user cache folder (compiled Cython modules, Numba/JAX caches...)."""
    override = os.environ.get(HOME_ENV)
    if override:
        base = Path(override).expanduser() / "cache"
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("jitscope", appauthor=False))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir() / "results.sqlite"


def timing_lock_path() -> Path:
    return data_dir() / "timing.lock"
