"""The supervisor: runs a plan's cells in fresh worker processes, one at a time.

One worker per backend x device, started as ``python -m jitscope.runner.child`` (never a fork
of the caller: a forked Textual app or a half-initialised CUDA context is a trap). Its stdin
is /dev/null, its stdout and stderr go to a log file (a worker that writes to the terminal
would corrupt the TUI), and it speaks JSON lines on a pipe of its own. A cell that runs past
its timeout, a worker that dies (signal, ``os._exit``, segfault) or writes garbage becomes a
cell with status ``timeout``/``crashed``/``failed`` and a reason, and the remaining cells go on
in a fresh worker. A file lock makes sure that two jitscope processes never time at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

from jitscope.core.model import CellResult, CellSpec, Phase, Status
from jitscope.core.paths import open_lock_file, timing_lock_path
from jitscope.core.registry import Registry
from jitscope.runner.channel import ChannelReader
from jitscope.runner.events import (
    CellFinished,
    CellProgressed,
    Event,
    RunFinished,
    RunWaited,
    WorkerReady,
    WorkerStarted,
)
from jitscope.runner.plan import Plan
from jitscope.runner.protocol import ProtocolError, restore_floats
from jitscope.runner.workdirs import worker_dir

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
POLL_S = 0.05
STDERR_TAIL_LINES = 4


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


def tail_of(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-600:]


def spawn_worker(
    python: str,
    backend: str,
    device: str,
    cells: list[tuple[int, CellSpec]],
    workload_files: tuple[str, ...],
    workdir: Path,
    threads: int | None = None,
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``python -m jitscope.runner.child`` on a job file; returns (process, read fd of
    the protocol pipe, log path). The caller owns closing the fd and reaping the process."""
    if cells:
        threads = cells[0][1].threads
    job = {
        "parent_pid": os.getpid(),  # the worker dies with us (see child._die_with_parent)
        "spawned_at": time.time(),  # the worker's start-up is measured from here
        "backend": backend,
        "device": device,
        "threads": threads,
        "workload_files": list(workload_files),
        "cells": [{"index": i, "spec": s.to_json()} for i, s in cells],
    }
    job_path = workdir / "job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    log_path = workdir / "worker.log"
    read_fd, write_fd = os.pipe()
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [python, "-m", "jitscope.runner.child", str(job_path), "--channel-fd", str(write_fd)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                env=worker_env(threads),
                start_new_session=True,  # its own process group: cancel kills grandchildren too
                cwd=str(workdir),
            )
    except OSError:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return proc, read_fd, log_path


class TimingLock:
    """An advisory, machine-wide lock held while a worker times anything."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[Any] | None = None

    def try_acquire(self) -> bool:
        if self.path is None:
            return True
        try:
            import fcntl
        except ImportError:  # no flock on this platform: best effort, no lock
            return True
        if self._fh is None:
            self._fh = open_lock_file(self.path)
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def release(self) -> None:
        if self._fh is not None:
            try:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            except ImportError:
                pass
            self._fh.close()
            self._fh = None


class Supervisor:
    """Yields events while it runs a plan; ``cancel()`` may be called from another thread."""

    def __init__(
        self,
        plan: Plan,
        registry: Registry,
        *,
        python: str | None = None,
        lock_path: Path | None | bool = True,
        startup_timeout_s: float = 180.0,
    ) -> None:
        self.plan = plan
        self.registry = registry
        self.python = python or sys.executable
        self.lock = TimingLock(timing_lock_path() if lock_path is True else (lock_path or None))
        self.startup_timeout_s = startup_timeout_s
        self._cancel = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_lock = threading.Lock()

    # ---- control ----------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop now: kill the worker (and its children) and cancel what is left."""
        self._cancel.set()
        with self._proc_lock:
            if self._proc is not None:
                kill_worker(self._proc)

    # ---- the run ------------------------------------------------------------------------
    def run(self) -> Generator[Event, None, None]:
        indexed = list(enumerate(self.plan.cells))
        groups: dict[tuple[str, str], list[tuple[int, CellSpec]]] = {}
        for index, spec in indexed:
            groups.setdefault((spec.backend, spec.device), []).append((index, spec))
        try:
            for (backend_name, device), cells in groups.items():
                runnable: list[tuple[int, CellSpec]] = []
                backend = self.registry.backends.get(backend_name)
                availability = backend.availability() if backend else None
                for index, spec in cells:
                    if self.cancelled:
                        yield CellFinished(index, _cancelled(spec))
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
                        yield CellFinished(index, _cancelled(spec))
        finally:
            self.lock.release()
        yield RunFinished(cancelled=self.cancelled)

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
        if self.lock.try_acquire():
            return
        yield RunWaited(f"another jitscope is timing (lock {self.lock.path}); waiting for it")
        while not self.cancelled:
            time.sleep(0.2)
            if self.lock.try_acquire():
                return

    def _run_group(self, backend: str, device: str, cells: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        pending = list(cells)
        yield from self._acquire_lock()
        try:
            while pending:
                if self.cancelled:
                    break
                yield from self._one_worker(backend, device, pending)
        finally:
            self.lock.release()
        for index, spec in pending:
            yield CellFinished(index, _cancelled(spec))

    def _one_worker(self, backend: str, device: str, pending: list[tuple[int, CellSpec]]) -> Iterator[Event]:
        """Run one worker over ``pending`` (consumed in place) until it ends or must be replaced.

        Every wait is bounded: by the start-up timeout until the worker says hello, then by
        the running cell's timeout — also after the worker closed its channel (a worker that
        stops talking but keeps running is killed at the deadline, never waited on for ever).
        """
        with worker_dir() as workdir:
            proc, read_fd, log_path = spawn_worker(
                self.python, backend, device, pending, self.plan.workload_files, workdir
            )
            with self._proc_lock:
                self._proc = proc
            if self.cancelled:
                kill_worker(proc)
            yield WorkerStarted(backend, device, proc.pid)
            reader = ChannelReader(read_fd)
            ready = False
            deadline = time.monotonic() + self.startup_timeout_s
            try:
                while pending:
                    if self.cancelled:
                        kill_worker(proc)
                        return
                    try:
                        messages = reader.poll(POLL_S)
                    except ProtocolError as exc:
                        kill_worker(proc)
                        yield from self._fail_current(pending, f"worker wrote unparseable output on the protocol channel: {exc}")
                        return
                    for message in messages:
                        try:
                            event = self._handle(message, backend, device, pending)
                        except ProtocolError as exc:
                            kill_worker(proc)
                            yield from self._fail_current(pending, f"worker broke the protocol: {exc}")
                            return
                        if message["type"] == "hello":
                            ready = True
                            deadline = time.monotonic() + pending[0][1].timeout_s if pending else deadline
                        elif message["type"] == "result" and pending:
                            deadline = time.monotonic() + pending[0][1].timeout_s
                        if event is not None:
                            yield event
                        if not pending:
                            break
                    if not pending:
                        break
                    if reader.closed and proc.poll() is not None:  # channel closed and the worker gone
                        if self.cancelled:
                            return
                        yield from self._worker_died(proc, log_path, pending, ready)
                        return
                    if time.monotonic() > deadline:
                        kill_worker(proc)
                        _reap(proc)
                        if not ready:
                            reason = f"worker did not start within {self.startup_timeout_s:g} s"
                            tail = tail_of(log_path)
                            while pending:
                                index, spec = pending.pop(0)
                                yield CellFinished(index, CellResult(spec=spec, status=Status.FAILED, reason=reason + (f": {tail}" if tail else "")))
                        else:
                            index, spec = pending.pop(0)
                            how = "; it had closed its protocol channel" if reader.closed else ""
                            yield CellFinished(index, CellResult(
                                spec=spec, status=Status.TIMEOUT,
                                reason=f"ran past its timeout of {spec.timeout_s:g} s{how}; worker killed",
                            ))
                        return
            finally:
                reader.close()
                if proc.poll() is None:
                    if pending:  # abandoned mid-cell (cancel, a signal, consumer gone): kill now
                        kill_worker(proc)
                    try:  # all cells reported: give the worker a moment to say bye and exit
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        kill_worker(proc)
                        _reap(proc)
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
            return WorkerReady(backend, device, dict(message.get("info") or {}))
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
        return CellFinished(index, dataclasses.replace(result, spec=spec))

    def _worker_died(self, proc: subprocess.Popen[bytes], log_path: Path, pending: list[tuple[int, CellSpec]], ready: bool) -> Iterator[Event]:
        code = proc.returncode if proc.returncode is not None else proc.wait(timeout=10)
        tail = tail_of(log_path)
        if not ready:
            reason = f"worker failed to start ({describe_exit(code).replace(' mid-cell', '')})"
            if tail:
                reason += f": {tail}"
            while pending:
                index, spec = pending.pop(0)
                yield CellFinished(index, CellResult(spec=spec, status=Status.FAILED, reason=reason))
            return
        index, spec = pending.pop(0)
        reason = describe_exit(code)
        if tail:
            reason += f"; last output: {tail}"
        yield CellFinished(index, CellResult(spec=spec, status=Status.CRASHED, reason=reason, info={"exit_code": code}))


def _cancelled(spec: CellSpec) -> CellResult:
    return CellResult(spec=spec, status=Status.CANCELLED, reason="cancelled by the user")


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a killed worker, bounded: a process in uninterruptible sleep is left to init."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def kill_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, OSError):
        proc.kill()
