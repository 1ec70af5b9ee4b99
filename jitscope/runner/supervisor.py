"""The supervisor: runs a plan's cells in fresh worker processes, one at a time.

One worker per backend x device, started as ``python -m jitscope.runner.child`` (never a fork
of the caller: a forked Textual app or a half-initialised CUDA context is a trap). Its stdin
is /dev/null, its stdout and stderr go to a log file (a worker that writes to the terminal
would corrupt the TUI), and it speaks JSON lines on a pipe of its own. A cell that runs past
its timeout, a worker that dies (signal, ``os._exit``, segfault) or writes garbage becomes a
cell with status ``timeout``/``crashed``/``failed`` and a reason, and the remaining cells go on
in a fresh worker. With ``--processes N`` the plan runs in N rounds, a fresh worker per
backend x device each round, and each cell's results are merged once its last round is in
(:mod:`jitscope.runner.rounds`). A machine-wide lock (:mod:`jitscope.runner.timing_lock`) makes sure that
two jitscope processes never time at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from jitscope.core.environment import THREAD_VARS
from jitscope.core.labels import cell_label
from jitscope.core.model import CellResult, CellSpec, Phase, Status
from jitscope.core.paths import timing_lock_address
from jitscope.core.registry import EntryPointRefs, Registry, entry_point_refs
from jitscope.runner.channel import ChannelReader
from jitscope.runner.descendants import (
    TOKEN_ENV,
    become_subreaper,
    carriers,
    end_carriers,
    kill_carriers,
    new_run_token,
    start_guard,
    stop_guard,
    worker_token,
)
from jitscope.runner.events import (
    CellFinished,
    CellProgressed,
    Event,
    LockFallback,
    RunFinished,
    RunWaited,
    WorkerReady,
    WorkerStarted,
)
from jitscope.runner.plan import Plan, WorkerKey, worker_key
from jitscope.runner.protocol import ProtocolError, restore_floats
from jitscope.runner.rounds import Rounds
from jitscope.runner.timing_lock import MACHINE_WIDE, OFF, TimingLock
from jitscope.runner.workdirs import worker_dir
from jitscope.runner.worker_log import WorkerLog

__all__ = ["Supervisor", "TimingLock", "kill_worker", "spawn_worker"]

POLL_S = 0.05
# A loop turn this much longer than POLL_S means we were not running (SIGSTOP, a frozen VM):
# what the worker sent meanwhile is read again before any deadline is judged.
STALL_S = 1.0
# Each worker's token (descendants.TOKEN_ENV), by its process: what kill_worker sweeps.
_TOKENS: weakref.WeakKeyDictionary[subprocess.Popen[bytes], str] = weakref.WeakKeyDictionary()
STDERR_TAIL_LINES = 4
# What SIGKILL most often means for a worker nobody asked to stop: Linux's out-of-memory
# killer (the user's own `kill -9` is the other cause; jitscope's own kills say so).
OOM_HINT = " (most likely out of memory: the kernel's OOM killer sends SIGKILL; `dmesg` says)"


def worker_env(threads: int | None) -> dict[str, str]:
    """The child's environment: ours, plus thread caps (set before any import in the child)
    and a PYTHONPATH that finds this jitscope even from an uninstalled checkout."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if threads is not None:
        for var in THREAD_VARS:
            env[var] = str(threads)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker killed by {name}"
    return f"worker exited with code {returncode} mid-cell"


def _write_job(workdir: Path, backend: str, device: str, threads: int | None,
               cells: list[tuple[int, CellSpec]], workload_files: tuple[str, ...],
               entry_points: EntryPointRefs | None) -> Path:
    """The worker's job file: what it runs, and what it needs to know to run it."""
    job = {
        "parent_pid": os.getpid(),  # the worker dies with us (see child._die_with_parent)
        "spawned_at": time.time(),  # the worker's start-up is measured from here
        "backend": backend,
        "device": device,
        "threads": threads,
        "workload_files": list(workload_files),
        # The plugins as the parent's registry found them (else as installed now): the worker
        # loads these instead of reading every distribution's metadata itself (core/registry.py).
        "entry_points": entry_point_refs() if entry_points is None else entry_points,
        "cells": [{"index": i, "spec": s.to_json()} for i, s in cells],
    }
    job_path = workdir / "job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    return job_path


def spawn_worker(
    python: str,
    backend: str,
    device: str,
    cells: list[tuple[int, CellSpec]],
    workload_files: tuple[str, ...],
    workdir: Path,
    threads: int | None = None,
    token: str | None = None,
    entry_points: EntryPointRefs | None = None,
) -> tuple[subprocess.Popen[bytes], int, WorkerLog]:
    """Start ``python -m jitscope.runner.child`` on a job file; returns (process, read fd of
    the protocol pipe, its output log). The caller owns closing the fd and the log and
    reaping the process. Raises OSError when it cannot (no fds left, a full temp folder...).
    ``token``: the worker's ``NAME=VALUE`` in :mod:`jitscope.runner.descendants` (a fresh
    one by default), inherited by all it starts, so that :func:`kill_worker` ends them all.
    ``entry_points``: the plugins the caller's registry was loaded from (:attr:`Registry.entry_points`);
    None: those installed now."""
    if cells:
        threads = cells[0][1].threads
    token = token or worker_token(new_run_token(), 0)
    env = worker_env(threads)
    env[TOKEN_ENV] = token.split("=", 1)[1]
    job_path = _write_job(workdir, backend, device, threads, cells, workload_files, entry_points)
    read_fd, write_fd = os.pipe()
    try:
        log = WorkerLog.open()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    try:
        proc = subprocess.Popen(
            [python, "-m", "jitscope.runner.child", str(job_path), "--channel-fd", str(write_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log.write_fd,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env=env,
            start_new_session=True,  # its own process group: cancel kills grandchildren too
            cwd=str(workdir),
        )
    except OSError:
        os.close(read_fd)
        log.close()
        raise
    finally:
        os.close(write_fd)
        log.close_write_end()
    _TOKENS[proc] = token
    return proc, read_fd, log


def describe_os_error(exc: OSError) -> str:
    """Why a worker could not be started, in words a user can act on."""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"{what} (raise the limit: ulimit -n)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{what} in the temp folder {tempfile.gettempdir()} (free space or inodes there, or set TMPDIR)"
    return what + (f": {exc.filename}" if exc.filename else "")


class Supervisor:
    """Yields events while it runs a plan; ``cancel()`` may be called from another thread."""

    def __init__(
        self,
        plan: Plan,
        registry: Registry,
        *,
        python: str | None = None,
        lock_path: Path | None | bool = True,
        startup_timeout_s: float | None = None,
    ) -> None:
        """``lock_path``: True for the machine-wide lock, a file, or None for no lock (tests).
        ``startup_timeout_s``: how long a worker may take to say hello (imports, plugin
        files, the backend's start-up); by default the cells' own timeout (--timeout)."""
        self.plan = plan
        self.registry = registry
        self.python = python or sys.executable
        self.lock = TimingLock(timing_lock_address() if lock_path is True else (lock_path or None))
        self.startup_timeout_s = startup_timeout_s
        self._fallback_told = False
        self._cancel = threading.Event()
        self._cancel_reason = CANCELLED_BY_USER
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_lock = threading.Lock()
        self._run_token = new_run_token()
        self._workers = 0
        self._paused_pid: int | None = None  # the worker pause() stopped
        self._spoiled_pid: int | None = None  # the worker resume() killed: its cell is measured again
        self._woke = False  # SIGCONT seen: we may have been stopped, re-read before judging

    # ---- control ----------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, reason: str | None = None) -> None:
        """Stop now: kill the worker (and its children) and cancel what is left, each cell
        with ``reason`` (what stopped it: "interrupted by SIGTERM"; by default the user)."""
        if reason and not self._cancel.is_set():
            self._cancel_reason = reason
        self._cancel.set()
        with self._proc_lock:
            if self._proc is not None:
                kill_worker(self._proc)

    def pause(self) -> None:
        """Ctrl-Z: stop the worker's whole process group and let go of the timing lock (a
        paused run must not keep other users' runs waiting). Safe in a signal handler (no
        lock taken); the caller then stops this process."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGSTOP)
            token = _TOKENS.get(proc)
            for pid in carriers(token) if token else []:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)  # what it started outside its group (resume kills them)
            self._paused_pid = proc.pid
        self.lock.release()

    def resume(self) -> None:
        """``fg``: the cell that was being timed spans the pause, so it is no timing. Its
        worker is killed, never continued (it would time without the lock); the conversation
        then says so and measures the cell again in a fresh worker, once the lock is ours
        again. Safe in a signal handler."""
        pid, self._paused_pid = self._paused_pid, None
        self._woke = True
        if pid is None:
            return
        self._spoiled_pid = pid
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGCONT)

    def woke(self) -> None:
        """SIGCONT: we may have been stopped (``kill -STOP`` cannot be caught) while the
        worker went on; what it sent meanwhile is read before any deadline is judged."""
        self._woke = True

    # ---- the run ------------------------------------------------------------------------
    def run(self) -> Generator[Event, None, None]:
        indexed = list(enumerate(self.plan.cells))
        groups: dict[WorkerKey, list[tuple[int, CellSpec]]] = {}
        for index, spec in indexed:  # one worker per thread count too: its cap is set before imports
            groups.setdefault(worker_key(spec), []).append((index, spec))
        become_subreaper()  # orphans of our workers' children re-parent to us, not init
        guard = start_guard(self._run_token)  # ends them should we be SIGKILLed
        # --processes N: the whole plan N times, a fresh worker per group each round
        # (runner/rounds.py); each cell finishes once, its rounds merged.
        rounds = Rounds.of(self.plan.cells, self.plan.processes)
        try:
            for round_no in range(rounds.count):
                for (backend_name, device, _threads), cells in groups.items():
                    # closing: a consumer that stops iterating ends the worker now, as yield from did
                    with contextlib.closing(self._run_cells(backend_name, device, rounds.open(cells))) as events:
                        for event in events:
                            yield from rounds.take(event, round_no)
        finally:
            self.lock.release()
            stop_guard(guard)
        yield RunFinished(cancelled=self.cancelled)

    def _run_cells(self, backend_name: str, device: str,
                   cells: list[tuple[int, CellSpec]]) -> Generator[Event, None, None]:
        """One group's cells in one worker (a fresh one where a cell ends its worker): each
        skipped, cancelled or measured."""
        runnable: list[tuple[int, CellSpec]] = []
        backend = self.registry.backends.get(backend_name)
        availability = backend.availability() if backend else None
        for index, spec in cells:
            if self.cancelled:
                yield CellFinished(index, _cancelled(spec, self._cancel_reason))
                continue
            reason = self._pre_skip(spec, availability)
            if reason:
                yield CellFinished(index, CellResult.skipped(spec, reason))
            else:
                runnable.append((index, spec))
        if runnable and not self.cancelled:
            yield from self._run_group(backend_name, device, runnable)
        elif runnable:
            for index, spec in runnable:
                yield CellFinished(index, _cancelled(spec, self._cancel_reason))

    def _pre_skip(self, spec: CellSpec, availability: Any) -> str | None:
        if availability is None:
            return f"backend {spec.backend} is not registered"
        if not availability.available:
            return availability.reason
        impl = self.registry.find(spec.workload, spec.backend, spec.variant)
        if impl is None:
            return self.registry.missing_implementation(spec)
        return impl.refusal(spec)

    def _acquire_lock(self) -> Iterator[Event]:
        """Take the timing lock, waiting (cancellable) while another jitscope holds it. A
        lock that cannot be used is replaced by a fallback, said once (LockFallback)."""
        acquired = self.lock.try_acquire()
        yield from self._tell_fallback()
        if acquired:
            return
        yield RunWaited(self.lock.waiting_message())
        while not self.cancelled:
            time.sleep(0.2)
            acquired = self.lock.try_acquire()
            yield from self._tell_fallback()
            if acquired:
                return

    def _tell_fallback(self) -> Iterator[Event]:
        if self.lock.problem and not self._fallback_told:
            self._fallback_told = True
            yield LockFallback(self.lock.fallback_message(), scope=self.lock.scope, problem=self.lock.problem)

    def _run_group(self, backend: str, device: str, cells: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        pending = list(cells)
        try:
            while pending:
                yield from self._acquire_lock()  # again after a pause, which let it go
                if self.cancelled:
                    break
                yield from self._one_worker(backend, device, pending)
        finally:
            self.lock.release()
        for index, spec in pending:
            yield CellFinished(index, _cancelled(spec, self._cancel_reason))

    def _one_worker(self, backend: str, device: str, pending: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        """Run one worker over ``pending`` (consumed in place) until it ends or must be replaced.
        A worker that cannot even be started (no fds left, a full temp folder) fails every
        pending cell with the reason, in one line each."""
        with contextlib.ExitStack() as stack:
            try:
                workdir = stack.enter_context(worker_dir())
                self._workers += 1
                token = worker_token(self._run_token, self._workers)
                proc, read_fd, log = spawn_worker(self.python, backend, device, pending, self.plan.workload_files,
                                                  workdir, token=token, entry_points=self.registry.entry_points)
            except OSError as exc:
                yield from _fail_all(pending, f"could not start a worker: {describe_os_error(exc)}")
                return
            with self._proc_lock:
                self._proc = proc
                self._spoiled_pid = None  # only ever about the worker a pause stopped
            if self.cancelled:
                kill_worker(proc)
            yield WorkerStarted(backend, device, proc.pid)
            reader = ChannelReader(read_fd)
            try:
                yield from self._converse(proc, reader, log, (backend, device), pending)
            finally:
                reader.close()
                self._end_worker(proc, bool(pending))
                log.close()

    def _converse(self, proc: subprocess.Popen[bytes], reader: ChannelReader, log: WorkerLog,
                  where: tuple[str, str], pending: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        """Talk to the worker until every cell is reported or it must go.

        Every wait is bounded: by the start-up timeout until the worker says hello, then by
        the running cell's timeout — also after it closed its channel (a worker that stops
        talking but keeps running is killed at the deadline). The worker's exit is noticed
        at once, even while a process it forked still holds the channel open. A deadline is
        judged only after reading everything the worker already sent, and never in the turn
        that finds we were ourselves stopped: a result sent before a stall of ours is kept.
        """
        state = _Conversation(deadline=time.monotonic() + self._startup_timeout(pending), log=log)
        while pending and not self.cancelled:
            stalled = self._stalled(state)
            exited = proc.poll() is not None  # asked before reading: all it wrote is then readable
            if not (yield from self._read(proc, reader, state, where, pending, drain=exited or stalled)):
                return
            if not pending or self.cancelled:
                break
            if self._spoiled_pid == proc.pid:
                yield from self._measure_again(proc, pending)
                return
            if exited:
                yield from self._worker_died(proc, log, pending, state)
                return
            if not stalled and time.monotonic() > state.deadline and (yield from self._past_deadline(
                    proc, reader, log, state, where, pending)):
                return
        if self.cancelled:
            kill_worker(proc)

    def _stalled(self, state: _Conversation) -> bool:
        """Were we stopped since the last turn (SIGCONT seen, or the clock jumped)?"""
        now = time.monotonic()
        stalled = self._woke or now - state.last_turn > STALL_S
        self._woke = False
        state.last_turn = now
        return stalled

    def _read(self, proc: subprocess.Popen[bytes], reader: ChannelReader, state: _Conversation,
              where: tuple[str, str], pending: list[tuple[int, CellSpec]], *, drain: bool) -> Generator[Event, None, bool]:
        """Read what the worker sent (all there is when ``drain``, else waiting up to POLL_S)
        and yield its events. False when it broke the protocol: then it is killed and the
        running cell failed."""
        try:
            messages = reader.drain() if drain else reader.poll(POLL_S)
        except ProtocolError as exc:
            kill_worker(proc)
            yield from self._fail_current(pending, f"worker wrote unparseable output on the protocol channel: {exc}")
            return False
        try:
            yield from self._take(messages, state, where, pending)
        except ProtocolError as exc:
            kill_worker(proc)
            yield from self._fail_current(pending, f"worker broke the protocol: {exc}")
            return False
        return True

    def _past_deadline(self, proc: subprocess.Popen[bytes], reader: ChannelReader, log: WorkerLog,
                       state: _Conversation, where: tuple[str, str],
                       pending: list[tuple[int, CellSpec]]) -> Generator[Event, None, bool]:
        """The clock says the deadline passed: first read everything already sent (a result
        moves the deadline to the next cell's), then judge. True when the worker is done for."""
        if not (yield from self._read(proc, reader, state, where, pending, drain=True)):
            return True
        if not pending or self.cancelled or time.monotonic() <= state.deadline or self._spoiled_pid == proc.pid:
            return False
        kill_worker(proc)
        _reap(proc)
        yield from self._deadline_passed(log, pending, state.ready, reader.closed)
        return True

    def _measure_again(self, proc: subprocess.Popen[bytes], pending: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        """After a pause (resume() killed the worker): the running cell stays pending, so a
        fresh worker measures it from the start; say so."""
        self._spoiled_pid = None
        kill_worker(proc)
        _reap(proc)
        spec = pending[0][1]
        yield RunWaited(f"paused: cell {spec.workload} {cell_label(spec)} size={spec.size} is measured again")

    def _take(self, messages: list[dict[str, Any]], state: _Conversation, where: tuple[str, str],
              pending: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        """The events of what the worker said, until every cell is reported (ProtocolError
        for a message that is wrong; nothing is then attributed)."""
        for message in messages:
            if not pending:
                return
            event = self._handle(message, *where, pending)
            state.heard(message["type"], pending)
            if event is not None:
                yield event

    def _startup_timeout(self, pending: list[tuple[int, CellSpec]]) -> float:
        if self.startup_timeout_s is not None:
            return self.startup_timeout_s
        return pending[0][1].timeout_s if pending else 60.0

    def _deadline_passed(self, log: WorkerLog, pending: list[tuple[int, CellSpec]], ready: bool,
                         closed: bool) -> Iterator[Event]:
        if not ready:
            log.close()
            tail = log.tail()
            reason = f"worker did not start within {self._startup_timeout(pending):g} s" + (f": {tail}" if tail else "")
            yield from _fail_all(pending, reason)
            return
        index, spec = pending.pop(0)
        how = "; it had closed its protocol channel" if closed else ""
        yield CellFinished(index, CellResult(
            spec=spec, status=Status.TIMEOUT, reason=f"ran past its timeout of {spec.timeout_s:g} s{how}; worker killed",
        ))

    def _end_worker(self, proc: subprocess.Popen[bytes], abandoned: bool) -> None:
        """Cells left (cancel, a signal, consumer gone, the worker died): kill it now. All
        reported: give it a moment to say bye and exit. Either way, then kill what it left
        behind (its process group)."""
        if abandoned:
            kill_worker(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_worker(proc)
            _reap(proc)
        kill_worker(proc)
        token = _TOKENS.get(proc)
        if token:
            end_carriers(token, spare=(proc.pid,))  # what left its group (setsid), reaped if ours
        with self._proc_lock:
            self._proc = None

    @staticmethod
    def _fail_current(pending: list[tuple[int, CellSpec]], reason: str) -> Iterator[Event]:
        """The running cell (the first pending one) fails with ``reason``; the others stay
        pending for a fresh worker."""
        if pending:
            index, spec = pending.pop(0)
            yield CellFinished(index, CellResult(spec=spec, status=Status.FAILED, reason=reason))

    def _handle(self, message: dict[str, Any], backend: str, device: str, pending: list[tuple[int, CellSpec]]) -> Event | None:
        """Turn one message into an event. Everything is validated *before* ``pending``
        changes: a message that names another cell than the running one, or is malformed,
        raises ProtocolError and no result is ever attributed to the wrong cell. Results are
        matched by the explicit cell id; the supervisor's own spec is authoritative (a
        worker cannot relabel a cell, and float fields such as NaN never need comparing)."""
        kind = message["type"]
        if kind == "hello":
            threads = pending[0][1].threads if pending else None
            return WorkerReady(backend, device, dict(message.get("info") or {}), threads=threads)
        if kind == "bye":
            return None
        if kind not in ("phase", "result"):
            raise ProtocolError(f"unknown message type {kind!r}")
        if not pending:
            raise ProtocolError(f"{kind} for cell {message.get('cell')!r} after every cell was reported")
        index, spec = pending[0]
        if message.get("cell") != index:
            raise ProtocolError(f"{kind} for cell {message.get('cell')!r} while cell {index} runs")
        if kind == "phase":
            try:
                phase = Phase(message["phase"])
                fraction = float(message.get("fraction", 0.0))
            except (KeyError, TypeError, ValueError):
                raise ProtocolError(f"malformed progress {message!r:.200}") from None
            return CellProgressed(index, spec, phase, fraction)
        try:
            result = CellResult.from_json(restore_floats(message["result"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed result: {exc}") from None
        pending.pop(0)
        result = dataclasses.replace(result, spec=spec)
        if self.lock.scope not in (MACHINE_WIDE, OFF):
            result = _unshared(result, self.lock.scope)
        return CellFinished(index, result)

    def _worker_died(self, proc: subprocess.Popen[bytes], log: WorkerLog, pending: list[tuple[int, CellSpec]],
                     state: _Conversation) -> Iterator[Event]:
        code = proc.returncode if proc.returncode is not None else proc.wait(timeout=10)
        kill_worker(proc)  # a process it forked may still run (and hold the log open)
        log.close()
        tail = log.tail(since=state.log_mark)  # this cell's output only, never an earlier cell's
        if not state.ready:
            reason = f"worker failed to start ({describe_exit(code).replace(' mid-cell', '')})"
            yield from _fail_all(pending, reason + (f": {tail}" if tail else ""))
            return
        index, spec = pending.pop(0)
        reason = describe_exit(code)
        if code == -signal.SIGKILL:
            reason += OOM_HINT
        if tail:
            reason += f"; last output: {tail}"
        yield CellFinished(index, CellResult(spec=spec, status=Status.CRASHED, reason=reason, info={"exit_code": code}))


@dataclasses.dataclass
class _Conversation:
    """Where a worker's conversation stands: has it said hello, and until when we wait."""

    deadline: float
    log: WorkerLog | None = None
    ready: bool = False
    log_mark: int = 0  # where the running cell's output starts in the worker's log
    last_turn: float = dataclasses.field(default_factory=time.monotonic)  # to notice we were stopped

    def heard(self, kind: str, pending: list[tuple[int, CellSpec]]) -> None:
        """A hello or a result restarts the clock on the next cell's own timeout, and marks
        where the next cell's output starts (what came before is start-up's or a finished
        cell's, never the next cell's)."""
        if kind == "hello":
            self.ready = True
        if kind in ("hello", "result") and pending:
            self.deadline = time.monotonic() + pending[0][1].timeout_s
        if kind in ("hello", "result") and self.log is not None:
            self.log_mark = self.log.written()


def _fail_all(pending: list[tuple[int, CellSpec]], reason: str) -> Iterator[Event]:
    while pending:
        index, spec = pending.pop(0)
        yield CellFinished(index, CellResult(spec=spec, status=Status.FAILED, reason=reason))


def _unshared(result: CellResult, scope: str) -> CellResult:
    """Label a cell timed without machine-wide exclusion: ``info["timing_lock"]`` for
    programs, and the note every report and export shows."""
    said = "timed without machine-wide exclusion (" + ("per-user lock)" if scope == "per-user" else "no lock)")
    note = "; ".join(str(n) for n in (result.info.get("note"), said) if n)
    return dataclasses.replace(result, info={**result.info, "timing_lock": scope, "note": note})


CANCELLED_BY_USER = "cancelled by the user"


def _cancelled(spec: CellSpec, reason: str = CANCELLED_BY_USER) -> CellResult:
    return CellResult(spec=spec, status=Status.CANCELLED, reason=reason)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a killed worker, bounded: a process in uninterruptible sleep is left to init."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def kill_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's process group: the worker and whatever it started (a kernel that
    forked), also after the worker itself has exited — its pid stays reserved while any
    process of its group lives — and every process carrying its token that left the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()
    token = _TOKENS.get(proc)
    if token:
        kill_carriers(token)  # what it started that left its group (setsid)
