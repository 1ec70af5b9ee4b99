"""Where jitscope keeps things per user: the results database, caches, the timing lock."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

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


LOCK_ENV = "JITSCOPE_TIMING_LOCK"  # a lock file of your choosing instead (tests, odd systems)
MACHINE_LOCK_NAME = "jitscope-timing"  # Linux: an abstract Unix socket of this name
MACHINE_LOCK_FILE = Path("/tmp/jitscope-timing.lock")  # other systems: fixed, never $TMPDIR
USER_LOCK_FILE = "timing.lock"  # the per-user fallback, in data_dir()


@dataclass(frozen=True)
class LockAddress:
    """Where the machine-wide timing lock lives: an abstract socket name or a file.

    Why not a file in the temp folder: ``$TMPDIR`` differs between users on shared machines
    (per-user temp folders), and in a world-writable folder any user can put a FIFO, a
    directory, an unreadable file or a symlink under the name. An abstract Unix socket has
    no file to squat, no permissions, no TMPDIR, and is released when its holder dies.
    """

    socket_name: str | None = None
    file: Path | None = None

    def __str__(self) -> str:
        return f"@{self.socket_name}" if self.socket_name is not None else str(self.file)


def timing_lock_address() -> LockAddress:
    """One lock for the whole machine, whoever runs jitscope and whatever their TMPDIR or
    JITSCOPE_HOME: two users timing at once would disturb each other's numbers."""
    override = os.environ.get(LOCK_ENV)
    if override:
        return LockAddress(file=Path(override).expanduser())
    if sys.platform.startswith("linux"):
        return LockAddress(socket_name=MACHINE_LOCK_NAME)
    return LockAddress(file=MACHINE_LOCK_FILE)


def user_lock_file() -> Path:
    """The fallback when the machine-wide lock cannot be used: it keeps one user's own
    jitscope processes apart, and nobody else's."""
    return data_dir() / USER_LOCK_FILE


class LockUnusable(Exception):
    """The lock file cannot serve as a lock; ``str()`` says why in a few words."""


_SAFE_FLAGS = os.O_NOCTTY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = os.O_RDONLY | _SAFE_FLAGS


def open_lock_file(path: Path) -> int:
    """Open (creating it if absent) a lock file for ``flock``; returns the fd.

    Safe whatever another user put under the name: never blocks (a FIFO opens at once with
    O_NONBLOCK and is then refused), never follows a symlink (O_NOFOLLOW: root is not led
    to create or lock a file elsewhere), accepts only a regular file, and makes a file
    world-openable (0666) only when this process created it itself (O_EXCL). An existing
    file is opened read-only: ``flock`` needs no write access, and in a sticky
    world-writable folder Linux refuses O_CREAT on another user's file (protected_regular).
    Raises LockUnusable with the reason.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        if os.path.islink(path):
            raise LockUnusable("is a symbolic link to nothing (not followed)") from None
        fd = _create_lock_file(path)
    except OSError as exc:
        raise LockUnusable(_open_error(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise LockUnusable(_open_error(exc)) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise LockUnusable(f"is {_file_kind(mode)}, not a regular file")
    return fd


def _create_lock_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _SAFE_FLAGS, 0o600)
    except FileExistsError:  # another process created it in between: open theirs
        try:
            return os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            raise LockUnusable(_open_error(exc)) from None
    except OSError as exc:
        raise LockUnusable(_open_error(exc)) from None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # ours (O_EXCL): every user must be able to open it
    return fd


def _open_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a symbolic link (not followed)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be opened by you (permission denied; another user's file?)"
    if exc.errno == errno.ENOENT:
        return "cannot be created: its folder does not exist"
    return f"cannot be opened ({exc.strerror or exc})"


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


@dataclass(frozen=True)
class RunFiles:
    """Where one run's own files live: beside the database it is recorded in (so a run
    recorded with ``--db X`` is found through ``--db X``, and run ids of different databases
    never share a name), in ``<database>.runs/``.

    - ``events``: the append-only JSON-lines record of what the run did (every reader —
      ``jitscope attach``, the app's Live run, History — follows this file, never a queue
      inside another process);
    - ``log``: where a run that belongs to no terminal (detached, or whose terminal hung up)
      writes what it would have printed.
    """

    folder: Path
    run_id: int

    @classmethod
    def of(cls, db_path: Path, run_id: int) -> RunFiles:
        db_path = Path(db_path).expanduser()
        return cls(db_path.parent / f"{db_path.name}.runs", run_id)

    @property
    def events(self) -> Path:
        return self.folder / f"{self.run_id}.events"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.run_id}.log"

    def create_folder(self) -> None:
        """Make the folder (owner-only: a run's record may name the user's files)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
