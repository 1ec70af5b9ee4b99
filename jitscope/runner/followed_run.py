"""A run followed through its event record, by a process that does not own it.

``jitscope attach``, ``jitscope cancel`` and (later) the app's Live run read a run this way:
they replay ``<database>.runs/<id>.events`` from the start and then follow it as it grows,
never touching a queue inside the run's process. A follower never writes anything (the
database is opened read-only), so any number of them may follow one run, and one that dies
costs the run nothing. It implements the app's ``Runner`` protocol.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult
from jitscope.core.paths import RunFiles
from jitscope.results.store import Store, owner_is_dead, owner_is_running
from jitscope.runner.event_record import read_new_lines
from jitscope.runner.events import Event, RunFinished, event_from_json

POLL_S = 0.2  # how often a follower looks for new lines (5 times a second)


class FollowedRun:
    """One run, read from its record. ``exit_code`` is set once the record's ``exit`` line was
    read; ``abandoned`` once the run's process was found dead without writing it."""

    def __init__(self, db_path: str | Path, run_id: int, *, poll_s: float = POLL_S,
                 sleep: Callable[[float], object] | None = None) -> None:
        self.db_path = Path(db_path).expanduser()
        self.run_id: int | None = run_id
        self.files = RunFiles.of(self.db_path, run_id)
        self.header: dict[str, Any] = {}
        self.exit_code: int | None = None
        self.abandoned = False
        self._poll_s = poll_s
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait  # a stop wakes a follower at once
        self._offset = 0
        self._pending: deque[dict[str, Any]] = deque()

    # ---- reading ----------------------------------------------------------------------------
    def lines(self, timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Every line of the record, as parsed JSON, replayed and then followed. Ends after the
        ``exit`` line; after ``run_finished`` where the owner writes no exit line (the app);
        or when the owner died (``abandoned``) or no live process writes the record; or after
        ``timeout_s`` without the end; or once :meth:`stop` was called. Each call goes on
        where the last one stopped."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        finished = False
        gone = False
        while not self._stopped.is_set():
            if not self._pending:
                batch, self._offset = read_new_lines(self.files.events, self._offset)
                self._pending.extend(batch)
            if self._pending:
                gone = False
                line = self._pending.popleft()  # taken one by one: a caller that stops early loses none
                self._note(line)
                yield line
                if line.get("type") == "exit" and not self._resumed_after():
                    return
                finished = finished or line.get("type") == "run_finished"
                continue
            if finished and not self.header.get("exit_follows", False):
                return
            if gone:  # read once more after the writer was seen gone: its last lines count
                self.abandoned = self.exit_code is None
                return
            gone = self._writer_gone()
            if deadline is not None and time.monotonic() > deadline:
                return
            if not gone:
                self._sleep(self._poll_s)

    def events(self) -> Iterator[Event]:
        """The engine's events, in order, ending after ``RunFinished`` (or where
        :meth:`lines` ends). Lines a newer jitscope wrote that this one cannot read are skipped."""
        for line in self.lines():
            if line.get("type") in ("run", "exit"):
                continue
            try:
                event = event_from_json(line)
            except ValueError:
                continue
            yield event
            if isinstance(event, RunFinished):
                return

    def stop(self) -> None:
        """(any thread) Stop following: :meth:`lines` ends at once, the run goes on."""
        self._stopped.set()

    def skip_to_last_part(self) -> None:
        """Follow only the record's last part: a resumed run's record holds the parts
        before it (each ending in its own ``exit`` line), whose cells are indexed by their
        own plans. What is there now is read, and every line before the last ``run``
        header is dropped."""
        batch, self._offset = read_new_lines(self.files.events, self._offset)
        self._pending.extend(batch)
        starts = [n for n, line in enumerate(self._pending) if line.get("type") == "run"]
        for _ in range(starts[-1] if starts else 0):
            self._pending.popleft()

    def _resumed_after(self) -> bool:
        """After an ``exit`` line: does another ``run`` header follow (``jitscope run
        --resume`` appends its own part to the same record)? Then the record goes on."""
        if not self._pending:
            batch, self._offset = read_new_lines(self.files.events, self._offset)
            self._pending.extend(batch)
        return bool(self._pending) and self._pending[0].get("type") == "run"

    def _note(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "run":  # the first, or a resume's: the owner and exit code are this part's
            self.header = line
            self.exit_code = None
            self.abandoned = False
        elif kind == "exit":
            code = line.get("code")
            self.exit_code = int(code) if isinstance(code, int) else 1

    def _writer_gone(self) -> bool:
        """No process will add to the record: its owner died, or the run is no longer
        ``running`` in the database and the record has no header (a run recorded before
        records existed, or one whose record could not be written)."""
        owner = str(self.header.get("owner", ""))
        if owner:
            return owner_is_dead(owner)
        return self.state() != "running"

    # ---- the Runner protocol -----------------------------------------------------------------
    @property
    def planned(self) -> int | None:
        value = self.header.get("planned")
        return int(value) if isinstance(value, int) else None

    def state(self) -> str:
        with Store(self.db_path, create=False) as store:
            return store.run(self._id()).state

    def cancel(self, *, interrupted: bool = False) -> None:
        """Ask the run's own process to cancel (``cancel_signal``, SIGUSR1 for ``jitscope run``).
        Only a process proven to be the run's owner (same pid and start time) is signalled;
        otherwise a UserError says why nothing was sent. ``interrupted`` is not something a
        follower can ask for: the run is always recorded ``cancelled``."""
        self.read_header()
        owner = str(self.header.get("owner", ""))
        name = str(self.header.get("cancel_signal", ""))
        if not owner:
            raise UserError(f"run {self.run_id} has no event record to find its process by; stop it where it runs")
        if not name or not hasattr(signal, name):
            raise UserError(f"run {self.run_id} was started by the app; cancel it there (its process "
                            f"{self.header.get('pid')} takes no cancel signal)")
        _signal_owner(owner, int(self.header["pid"]), getattr(signal, name), self._id())

    def read_header(self) -> dict[str, Any]:
        """The record's header (its last ``run`` line; empty when there is no record yet)."""
        if not self.header:
            batch, _ = read_new_lines(self.files.events, 0)
            headers = [line for line in batch if line.get("type") == "run"]
            if headers:  # a resumed run's record has one per part: the last names the owner now
                self.header = headers[-1]
        return self.header

    def ordered_results(self) -> list[CellResult]:
        with Store(self.db_path, create=False) as store:
            return store.cells(self._id())

    def run_record(self) -> dict[str, Any]:
        with Store(self.db_path, create=False) as store:
            record = store.run(self._id())
        return {"id": record.id, "environment": record.environment, "command": record.command,
                "started": record.started}

    def _id(self) -> int:
        assert self.run_id is not None
        return self.run_id


def _signal_owner(owner: str, pid: int, signum: int, run_id: int) -> None:
    """Send ``signum`` to ``pid`` only if it is still the run's owner. Where the system has
    pidfds, the process is pinned first and checked after, so a pid reused between the check
    and the signal cannot receive it; elsewhere the check comes right before the kill."""
    not_running = UserError(f"run {run_id} is not running any more (its process has ended)")
    pidfd_open = getattr(os, "pidfd_open", None)
    send = getattr(signal, "pidfd_send_signal", None)
    if pidfd_open is None or send is None:
        if not owner_is_running(owner):
            raise not_running
        os.kill(pid, signum)
        return
    try:
        fd = pidfd_open(pid)
    except OSError:
        raise not_running from None
    try:
        if not owner_is_running(owner):
            raise not_running
        send(fd, signum)
    except ProcessLookupError:
        raise not_running from None
    finally:
        os.close(fd)
