"""The results store: SQLite (stdlib), WAL mode, one committed row per finished cell.

Every cell is committed the moment it finishes, so a crash, a Ctrl-C or a full disk later in
the sweep loses nothing already measured. WAL and a busy timeout let two jitscope processes
write to one database at once. A database is recognised by ``PRAGMA application_id``; any
other SQLite file (or a non-SQLite file) is refused rather than written into.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult
from jitscope.core.processes import pid_alive, stat_fields

APPLICATION_ID = 0x4A495453  # "JITS"
SCHEMA_VERSION = 2  # 2: runs.owner (who is running it, to tell a live run from an abandoned one)
BUSY_TIMEOUT_MS = 30_000
MAX_RUN_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range
TIMING_LOCK_KEY = "timing_lock"  # in a run's environment only when it fell back: {scope, problem}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    state TEXT NOT NULL DEFAULT 'running',
    label TEXT NOT NULL DEFAULT '',
    command TEXT NOT NULL DEFAULT '',
    selection TEXT NOT NULL DEFAULT '{}',
    environment TEXT NOT NULL DEFAULT '{}',
    owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS cells (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    workload TEXT NOT NULL,
    backend TEXT NOT NULL,
    variant TEXT NOT NULL,
    device TEXT NOT NULL,
    dtype TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    median_s REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS cells_by_run ON cells(run_id);
"""


F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(method: F) -> F:
    """SQLite errors after opening (a full disk, a page found corrupt while reading, a lock)
    become one-line UserErrors naming the database."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise UserError(describe_sqlite_error(exc, self.path)) from None

    return cast(F, wrapper)


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: float
    finished_at: float | None
    state: str  # running | finished | cancelled | interrupted | abandoned | imported
    label: str
    command: str
    selection: dict[str, Any]
    environment: dict[str, Any]
    cell_count: int = 0
    ok_count: int = 0

    @property
    def host(self) -> str:
        return str(self.environment.get("host", ""))

    @property
    def timing_exclusion(self) -> str:
        """``per-user lock`` or ``no lock`` for a run timed without machine-wide exclusion
        (another user's jitscope may have timed at the same moment); "" otherwise."""
        scope = (self.environment.get(TIMING_LOCK_KEY) or {}).get("scope", "")
        return {"per-user": "per-user lock", "none": "no lock"}.get(str(scope), "")

    @property
    def started(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))


@dataclass(frozen=True)
class StoredCell:
    """One cell row as recorded: where it sits in the run's plan, how it ended, what it holds."""

    seq: int
    status: str
    result: CellResult | None


class Store:
    """A jitscope results database. Use one Store per thread (sqlite3 connections are not
    shared across threads here); they may all point at the same file."""

    def __init__(self, path: str | Path, *, create: bool = True, writable: bool = False) -> None:
        """Open (``create``: or create) a jitscope database. Every problem is one UserError:
        a missing file when ``create`` is False, a directory, a foreign or corrupt file, one
        written by a newer jitscope, and with ``writable`` one that cannot be written (ask
        before a sweep, not after its first cell). Without ``create`` (history, show, export)
        the file is opened read-only: reading never changes it, and works where we may not
        write."""
        self.path = Path(path).expanduser()
        if not create and not self.path.exists():
            raise UserError(f"no database at {self.path} (run `jitscope run ...` first, or pass --db)")
        self.read_only = not create and not writable
        self.damaged: list[str] = []  # rows read but left out (see cells), one line each
        self.schema_version = SCHEMA_VERSION
        self._abandoned: set[int] = set()
        self._conn = self._open()
        try:
            if writable:
                self._check_writable()
            self._mark_abandoned_runs()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise UserError(describe_sqlite_error(exc, self.path)) from None

    # ---- opening ------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """A connection to a file that is a jitscope database of this schema: read-only as
        it is, or writable (created, stamped and given the schema when new, migrated when older)."""
        self._refuse_non_file()
        if self.read_only:
            return self._open_read_only()
        existed = self._prepare_folder()
        try:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open database {self.path}: {exc}") from None
        try:
            self._ready_for_writing(conn, existed)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise UserError(describe_sqlite_error(exc, self.path, opening=True)) from None
        except UserError:
            conn.close()
            raise
        return conn

    def _refuse_non_file(self) -> None:
        """'-', a directory, a device or FIFO: one clear line before SQLite is asked anything."""
        path = self.path
        if str(path) == "-":  # '-' is standard output for exports; a database needs a file
            raise UserError("database path '-' is not a file; pass --db PATH (e.g. --db results.sqlite)")
        if path.exists() and path.is_dir():
            raise UserError(f"database {path} is a directory, not a jitscope database file")
        if path.exists() and not path.is_file():
            raise UserError(f"database {path} is not a regular file (a device, a FIFO...); pass a file with --db")

    def _prepare_folder(self) -> bool:
        """Create the database's folder; True when the file already holds something."""
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the folder for database {path}: {exc.strerror or exc}") from None
        return path.exists() and path.stat().st_size > 0

    def _ready_for_writing(self, conn: sqlite3.Connection, existed: bool) -> None:
        """Validate the file, then WAL and foreign keys; a new file gets the id, version and
        schema in one transaction, an older one is migrated."""
        app_id = self._validate(conn, existed)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if app_id != APPLICATION_ID:
            with _transaction(conn):
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in _statements(SCHEMA):
                    conn.execute(statement)
        elif self.schema_version < SCHEMA_VERSION:
            _migrate(conn, self.schema_version)
            self.schema_version = SCHEMA_VERSION

    def _open_read_only(self) -> sqlite3.Connection:
        """For history, show and export: never create, migrate or write a file (an existing
        zero-byte file stays zero bytes), and read a database we may not write: a read-only
        file, folder or filesystem. A WAL database whose -shm file cannot be created there is
        opened ``immutable`` (nobody can be writing to it through WAL in such a place)."""
        path = self.path
        if path.stat().st_size == 0:
            raise UserError(f"{path} is an empty file, not a jitscope database; nothing was written to it")
        uri = "file:" + urllib.parse.quote(str(path.absolute()))
        last: sqlite3.Error | None = None
        for options in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(uri + options, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            except sqlite3.Error as exc:
                last = exc
                continue
            try:
                self._validate(conn, existed=True)
            except sqlite3.OperationalError as exc:  # cannot open the -shm/-wal here: try immutable
                conn.close()
                last = exc
                continue
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise UserError(describe_sqlite_error(exc, path, opening=True)) from None
            except UserError:
                conn.close()
                raise
            return conn
        raise UserError(f"cannot read database {path}: {last}")

    def _validate(self, conn: sqlite3.Connection, existed: bool) -> int:
        """Refuse a foreign, damaged or newer file before anything is written to it; returns
        its application id (0 for a new file) and sets ``schema_version``."""
        path = self.path
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        if existed and app_id != APPLICATION_ID:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables or app_id or self.read_only:
                raise UserError(f"{path} is an SQLite database, but not a jitscope one; refusing to write to it"
                                if not self.read_only else f"{path} is not a jitscope database")
        if existed:
            # Cheap next to a sweep, and it keeps us from writing into a damaged file.
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                found = " ".join("; ".join(problems).split())[:200]
                raise UserError(f"database {path} is corrupt ({found}); "
                                "nothing was written to it — use another --db (or restore a copy)")
        self.schema_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if app_id == APPLICATION_ID and self.schema_version > SCHEMA_VERSION:
            raise UserError(f"database {path} was written by a newer jitscope (schema {self.schema_version}); upgrade jitscope")
        return app_id

    def _check_writable(self) -> None:
        """Write for real and roll back: a read-only file (or folder) answers only to a write,
        and permission bits say nothing when running as root."""
        with contextlib.suppress(_RolledBack), _transaction(self._conn):
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            self._conn.execute(f"PRAGMA user_version = {int(version)}")
            raise _RolledBack

    def _mark_abandoned_runs(self) -> None:
        """A run left ``running`` by a process of this host that no longer exists will never
        finish: say ``abandoned`` instead of ``running`` for ever. Runs of live processes and
        of other hosts are left alone. In a database we cannot write (read-only, for
        ``history``), such runs are still shown ``abandoned``."""
        if self.schema_version < 2:  # read-only and not migrated: no owner column to ask
            return
        rows = self._conn.execute("SELECT id, owner FROM runs WHERE state = 'running'").fetchall()
        dead = [run_id for run_id, owner in rows if _owner_is_dead(owner)]
        if not dead:
            return
        self._abandoned = set(dead)
        if self.read_only:
            return
        try:
            with _transaction(self._conn):
                self._conn.executemany(
                    "UPDATE runs SET state = 'abandoned', finished_at = coalesce(finished_at, ?) WHERE id = ? AND state = 'running'",
                    [(time.time(), run_id) for run_id in dead],
                )
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc).lower():
                raise

    def _shown(self, record: RunRecord) -> RunRecord:
        if record.state == "running" and record.id in self._abandoned:
            return dataclasses.replace(record, state="abandoned")
        return record

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------
    @_user_errors
    def start_run(self, *, command: str = "", selection: dict[str, Any] | None = None,
                  environment: dict[str, Any] | None = None, label: str = "") -> int:
        with _transaction(self._conn):
            cur = self._conn.execute(
                "INSERT INTO runs (started_at, state, label, command, selection, environment, owner)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (time.time(), label, command, json.dumps(selection or {}, default=str),
                 json.dumps(environment or {}, default=str), current_owner()),
            )
        return int(cur.lastrowid or 0)

    @_user_errors
    def add_cell(self, run_id: int, seq: int, result: CellResult) -> None:
        """Commit one finished cell now (its own transaction)."""
        s = result.spec
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO cells (run_id, seq, workload, backend, variant, device, dtype, size, status, median_s, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, seq, s.workload, s.backend, s.variant, s.device, s.dtype, s.size, result.status.value,
                 result.median_s, json.dumps(result.to_json(), default=str)),
            )

    @_user_errors
    def update_environment(self, run_id: int, environment: dict[str, Any]) -> None:
        with _transaction(self._conn):
            self._conn.execute("UPDATE runs SET environment = ? WHERE id = ?", (json.dumps(environment, default=str), run_id))

    @_user_errors
    def finish_run(self, run_id: int, state: str = "finished") -> None:
        with _transaction(self._conn):
            self._conn.execute("UPDATE runs SET finished_at = ?, state = ? WHERE id = ?", (time.time(), state, run_id))

    @_user_errors
    def resume_run(self, run_id: int, environment: dict[str, Any], *, seen_state: str,
                   seen_finished_at: float | None) -> None:
        """Take a cut run up again: ``running`` once more, owned by this process, with its
        environment (the original plus a ``resumed`` entry). Only if the run is still as the
        caller saw it: a second resume that got there first (or finished meanwhile) is
        refused, so no cell is run twice by two processes."""
        with _transaction(self._conn):
            cur = self._conn.execute(
                "UPDATE runs SET state = 'running', finished_at = NULL, owner = ?, environment = ?"
                " WHERE id = ? AND state = ? AND finished_at IS ?",
                (current_owner(), json.dumps(environment, default=str), run_id, seen_state, seen_finished_at),
            )
        if cur.rowcount != 1:
            raise UserError(f"run {run_id} changed while it was being resumed (another jitscope took it up?); "
                            "nothing was run")

    @_user_errors
    def delete_run(self, run_id: int) -> bool:
        with _transaction(self._conn):
            self._conn.execute("DELETE FROM cells WHERE run_id = ?", (run_id,))
            cur = self._conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return cur.rowcount > 0

    @_user_errors
    def import_cells(self, results: list[CellResult], *, label: str, environment: dict[str, Any], command: str = "import") -> int:
        """Store cells read from elsewhere (e.g. another machine's CSV) as a run of their own."""
        run_id = self.start_run(command=command, environment=environment, label=label)
        for seq, result in enumerate(results):
            self.add_cell(run_id, seq, result)
        self.finish_run(run_id, "imported")
        return run_id

    # ---- reading ------------------------------------------------------------------------
    @_user_errors
    def runs(self, limit: int | None = None) -> list[RunRecord]:
        sql = (
            "SELECT r.id, r.started_at, r.finished_at, r.state, r.label, r.command, r.selection, r.environment,"
            " count(c.seq), sum(CASE WHEN c.status = 'ok' THEN 1 ELSE 0 END)"
            " FROM runs r LEFT JOIN cells c ON c.run_id = r.id GROUP BY r.id ORDER BY r.id DESC"
        )
        if limit:
            sql += f" LIMIT {min(int(limit), MAX_RUN_ID)}"  # more than SQLite can count: all of them
        return [self._shown(_run_record(row, self.damaged)) for row in self._conn.execute(sql)]

    @_user_errors
    def run(self, run_id: int) -> RunRecord:
        row = self._conn.execute(
            "SELECT r.id, r.started_at, r.finished_at, r.state, r.label, r.command, r.selection, r.environment,"
            " (SELECT count(*) FROM cells WHERE run_id = r.id),"
            " (SELECT count(*) FROM cells WHERE run_id = r.id AND status = 'ok')"
            " FROM runs r WHERE r.id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise UserError(f"no run {run_id} in {self.path} (see `jitscope history`)")
        return self._shown(_run_record(row, self.damaged))

    @_user_errors
    def cells(self, run_id: int) -> list[CellResult]:
        """The run's cells in order. A row whose stored data cannot be read (damaged JSON, a
        field this jitscope does not know) is left out and named in ``damaged``: one bad row
        must not cost the others."""
        rows = self._conn.execute(
            "SELECT seq, workload, backend, variant, size, data FROM cells WHERE run_id = ? ORDER BY seq", (run_id,))
        results = []
        for seq, workload, backend, variant, size, data in rows:
            try:
                results.append(CellResult.from_json(json.loads(data)))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                where = f"{workload} {backend}{':' + variant if variant else ''} size={size}"
                self.damaged.append(f"run {run_id} cell {seq} ({where}): its stored data is damaged "
                                    f"({type(exc).__name__}: {str(exc)[:80]}); left out")
        return results

    @_user_errors
    def stored_cells(self, run_id: int) -> dict[int, StoredCell]:
        """Each recorded cell of a run by seq: its status as stored and its result (None
        where the stored data cannot be read; the status column still says how it ended)."""
        rows = self._conn.execute("SELECT seq, status, data FROM cells WHERE run_id = ? ORDER BY seq", (run_id,))
        out: dict[int, StoredCell] = {}
        for seq, status, data in rows:
            try:
                result: CellResult | None = CellResult.from_json(json.loads(data))
            except (ValueError, TypeError, KeyError, AttributeError):
                result = None
            out[int(seq)] = StoredCell(int(seq), str(status), result)
        return out

    @_user_errors
    def latest_run_id(self) -> int | None:
        row = self._conn.execute("SELECT max(id) FROM runs").fetchone()
        return int(row[0]) if row and row[0] is not None else None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _json_object(text: str | None, what: str, damaged: list[str]) -> dict[str, Any]:
    """A run's stored selection or environment; damaged text reads as empty and is named in
    ``damaged`` (the run and its cells still show; only these details are missing)."""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        damaged.append(f"{what} is damaged ({str(exc)[:80]}); shown without it")
        return {}
    return value if isinstance(value, dict) else {}


def _run_record(row: tuple[Any, ...], damaged: list[str]) -> RunRecord:
    return RunRecord(
        id=int(row[0]),
        started_at=float(row[1]),
        finished_at=row[2],
        state=row[3],
        label=row[4],
        command=row[5],
        selection=_json_object(row[6], f"run {row[0]}'s stored selection", damaged),
        environment=_json_object(row[7], f"run {row[0]}'s stored environment", damaged),
        cell_count=int(row[8] or 0),
        ok_count=int(row[9] or 0),
    )


class _RolledBack(Exception):
    """Raised inside a transaction to undo it on purpose."""


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older jitscope database up to SCHEMA_VERSION, in one transaction."""
    with _transaction(conn):
        if version < 2:
            conn.execute("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a process from a later one reusing its pid);
    None when there is no such process (or no /proc to ask)."""
    fields = stat_fields(pid)
    return fields[19] if len(fields) > 19 else None  # field 22 of stat: starttime


def current_owner() -> str:
    """``host:pid:starttime`` of this process, stored with a run it starts."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or ''}"


def owner_is_running(owner: str) -> bool:
    """True only when ``owner`` (``host:pid:starttime``) is this host's process ``pid`` and
    that process started at the recorded time: the one proof that a signal sent to ``pid``
    reaches the run's own process and not a later one that reuses its number."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    return host == socket.gethostname() and bool(start) and _process_start(pid) == start


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` certainly no longer runs (see :func:`_owner_is_dead`)."""
    return _owner_is_dead(owner)


def _owner_is_dead(owner: str) -> bool:
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False  # an old run with no owner recorded: we cannot know, so we do not guess
    if host != socket.gethostname():
        return False
    if not pid_alive(pid):  # also a zombie: exited, its parent has not reaped it (yet, or ever)
        return True
    now = _process_start(pid)
    return bool(start) and now is not None and now != start  # the pid was reused


def describe_sqlite_error(exc: BaseException, path: Path, *, opening: bool = False) -> str:
    """One line a user can act on, for the SQLite errors a real machine produces."""
    text = str(exc)
    low = text.lower()
    if "disk is full" in low or "disk i/o" in low and "full" in low:
        return f"the disk holding {path} is full ({text})"
    if "readonly" in low or "read-only" in low:
        return f"database {path} is read-only ({text}); pass a writable --db"
    if "malformed" in low or "corrupt" in low:
        return f"database {path} is corrupt ({text}); use another --db (or restore a copy)"
    if "locked" in low or "busy" in low:
        return f"database {path} is locked by another program ({text})"
    if opening:
        return f"{path} is not a jitscope database ({text})"
    return f"database {path}: {text}"


def resolve_run_id(store: Store, text: str, *, empty: str = "") -> int:
    """``latest`` (the newest run; a UserError naming the database when it has none, plus
    ``empty``, e.g. ": nothing to resume") or a run id typed by a user."""
    if text == "latest":
        latest = store.latest_run_id()
        if latest is None:
            raise UserError(f"no runs in {store.path} yet{empty}")
        return latest
    return parse_run_id(text)


def parse_run_id(text: str) -> int:
    """A run id typed by a user: a positive integer SQLite can hold."""
    if not text.isdigit():
        raise UserError(f"run id {text!r} is not a positive whole number (see `jitscope history`)")
    value = int(text)
    if not 1 <= value <= MAX_RUN_ID:
        raise UserError(f"run id {text} is out of range (see `jitscope history`)")
    return value
