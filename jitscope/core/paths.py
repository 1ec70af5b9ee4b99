"""Where jitscope keeps things per user: the results database, caches, the timing lock."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from jitscope.core.errors import UserError

DB_ENV = "JITSCOPE_DB"
HOME_ENV = "JITSCOPE_HOME"  # overrides the whole per-user directory (tests use it)


def data_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("jitscope", appauthor=False))
    return _own_folder(path)


def cache_dir(name: str) -> Path:
    """A per-user cache folder (compiled Cython modules, Numba/JAX caches...)."""
    override = os.environ.get(HOME_ENV)
    if override:
        base = Path(override).expanduser() / "cache"
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("jitscope", appauthor=False))
    return _own_folder(base / name)


def _own_folder(path: Path) -> Path:
    """Create one of jitscope's own folders, or say in one line why it cannot be (``HOME``
    is /dev/null, ``JITSCOPE_HOME`` names a file, a read-only home) and what to do instead:
    an odd environment is the user's to fix, never a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"cannot use {path} for jitscope's files: it is a file, not a folder; set "
                        f"{HOME_ENV} to a folder (or pass --db PATH)") from None
    except OSError as exc:
        raise UserError(f"cannot use {path} for jitscope's files: {exc.strerror or exc}; set "
                        f"{HOME_ENV} to a writable folder (or pass --db PATH)") from None
    return path


def default_db_path() -> Path:
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir() / "results.sqlite"


LOCK_ENV = "JITSCOPE_TIMING_LOCK"  # a different machine-wide lock file (tests, odd systems)


def timing_lock_path() -> Path:
    """One lock file for the whole machine, whoever runs jitscope and whatever their
    JITSCOPE_HOME: two users timing at once would disturb each other's numbers. It lives in
    the system temp dir and is created world-readable/writable (see ``open_lock_file``)."""
    override = os.environ.get(LOCK_ENV)
    path = Path(override).expanduser() if override else Path(tempfile.gettempdir()) / "jitscope-timing.lock"
    if not path.exists():
        open_lock_file(path).close()
    return path


def open_lock_file(path: Path) -> BinaryIO:
    """Open (creating if needed, mode 0666) the lock file for ``flock``.

    An existing file is opened read-only: ``flock`` needs no write access, and in a sticky
    world-writable folder Linux refuses O_CREAT on another user's file (protected_regular).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)  # the umask took bits away; every user must be able to open it
    return os.fdopen(fd, "rb")
