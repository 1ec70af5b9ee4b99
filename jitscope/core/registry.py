"""Discovering workloads and backends: entry points, built-ins, and ``-w file.py`` plugins.

Built-ins register through the same entry-point groups a third party uses
(``jitscope.workloads``, ``jitscope.backends``). ``BUILTIN_*`` below mirrors the entries in
``pyproject.toml`` (a test keeps them equal) so a source checkout that was never installed, or
an editable install whose metadata predates a new backend, still finds everything.

A broken entry-point plugin is recorded in ``Registry.problems`` and the rest keeps working; a
broken ``-w`` file is a :class:`PluginError` because the user asked for it by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from jitscope.core.backend import Adapter, Backend, Implementation, UserKernel
from jitscope.core.errors import PluginError, StopRequested, UserError
from jitscope.core.implementation import KERNEL_OPTIONS
from jitscope.core.model import CellSpec
from jitscope.core.userkernels import INPUTS_PARAM, FunctionWorkload, UserWorkload
from jitscope.core.workload import Workload

T = TypeVar("T")

WORKLOAD_GROUP = "jitscope.workloads"
BACKEND_GROUP = "jitscope.backends"

def _builtin_workloads() -> dict[str, str]:
    """Every ``jitscope/workloads/<name>.py`` module (``_``-prefixed helpers aside), found on
    disk without importing it: a built-in workload is its file (spec and kernel list) and its
    entry point in pyproject.toml (a test checks the two agree), as a user's is its file."""
    import pkgutil

    import jitscope.workloads

    names = sorted(m.name for m in pkgutil.iter_modules(jitscope.workloads.__path__) if not m.name.startswith("_"))
    return {name: f"jitscope.workloads.{name}:WORKLOAD" for name in names}


BUILTIN_WORKLOADS: dict[str, str] = _builtin_workloads()


def _builtin_backends() -> dict[str, str]:
    """Every ``jitscope/backends/<name>_backend.py`` module, found on disk (no import): adding
    a built-in backend is its module, its entry point in pyproject.toml (a test checks the two
    agree) and its test file; nothing else lists backends by hand."""
    import pkgutil

    import jitscope.backends

    names = sorted(m.name for m in pkgutil.iter_modules(jitscope.backends.__path__) if m.name.endswith("_backend"))
    return {name.removesuffix("_backend"): f"jitscope.backends.{name}:BACKEND" for name in names}


BUILTIN_BACKENDS: dict[str, str] = _builtin_backends()


@dataclass
class Registry:
    workloads: dict[str, Workload] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    # Kernels declared apart from their workload: a file's IMPLEMENTATIONS. A workload's own
    # (Workload.kernel_build, and its @w.kernel functions bound by the adapters, a built-in's
    # as a user's) are read from ``workloads`` (:meth:`declared`), never copied here.
    extra_implementations: list[Implementation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # broken entry-point plugins
    # Each ``-w`` file loaded (its resolved path, in load order) -> the workloads it defined:
    # the one record of files, from which the paths and each file's names are read.
    workloads_by_file: dict[str, list[str]] = field(default_factory=dict)
    # The entry points it was loaded from, by group (names and values; None: not loaded from
    # any): what its workers are handed, so they load the same plugins without reading the
    # installed metadata again.
    entry_points: dict[str, list[tuple[str, str]]] | None = None

    def declared(self) -> list[Implementation]:
        """Every kernel not listed by its backend: the workloads' own (however they came:
        discovered, loaded from a file, handed to the constructor; a function kernel bound
        by its backend's adapter, a built-in's as a user's), then the others."""
        out: list[Implementation] = []
        for workload in self.workloads.values():
            for declared in workload.declarations:
                if isinstance(declared, Implementation):
                    out.append(declared)
                else:
                    out.extend(self._bound(workload, declared))
        return out + self.extra_implementations

    def _bound(self, workload: Workload, kernel: UserKernel) -> list[Implementation]:
        """A function kernel's implementations: one per variant of its backend's adapter it
        serves (a named variant; else each variant no kernel names, except named-only ones)."""
        backend = self.backends.get(kernel.backend)
        if backend is None or backend.adapter is None:
            return []  # refused when the workload was added; a constructed registry skips it
        adapter = backend.adapter
        return [function_implementation(adapter, workload, kernel, variant) for variant in adapter.variants
                if workload.kernel_for(kernel.backend, variant, exact=variant in adapter.named_only) is kernel]

    @property
    def workload_files(self) -> tuple[str, ...]:
        """The ``-w`` files loaded (resolved paths, in load order): what a worker loads again."""
        return tuple(self.workloads_by_file)

    # ---- lookups ----------------------------------------------------------------------
    def implementations(
        self, workload: str | None = None, backend: str | None = None
    ) -> list[Implementation]:
        # Each backend's own, then the kernels workloads and files declared for it: one
        # backend's cells stay together whichever file declared them.
        impls: list[Implementation] = []
        declared = self.declared()
        for name, b in self.backends.items():
            impls.extend(b.implementations)
            impls.extend(i for i in declared if i.backend == name)
        impls.extend(i for i in declared if i.backend not in self.backends)
        return [
            i
            for i in impls
            if (workload is None or i.workload == workload)
            and (backend is None or i.backend == backend)
        ]

    def variants(self, backend: str) -> tuple[str, ...]:
        b = self.backends[backend]
        names = list(b.variants)
        for impl in self.declared():
            if impl.backend == backend and impl.variant not in names:
                names.append(impl.variant)
        if b.default_variant in names:  # first, whoever declared it
            names.remove(b.default_variant)
            names.insert(0, b.default_variant)
        return b.ordered(names)

    def default_variant(self, backend: str) -> str:
        """The variant a bare backend name runs: the backend's own default when it has that
        variant (or has none listed), else its first."""
        b = self.backends[backend]
        variants = self.variants(backend)
        return b.default_variant if b.default_variant in variants or not variants else variants[0]

    def find(self, workload: str, backend: str, variant: str) -> Implementation | None:
        for impl in self.implementations(workload, backend):
            if impl.variant == variant:
                return impl
        return None

    def workloads_of_file(self, path: str | Path) -> list[str]:
        """The workloads a ``-w`` file defined (empty for a file not loaded)."""
        return list(self.workloads_by_file.get(str(Path(path).expanduser().resolve()), ()))

    def missing_implementation(self, spec: CellSpec) -> str:
        """Why a cell has no implementation, in the words that help: a workload from a ``-w``
        file names the decorator its author could write (or says the backend runs no plain
        functions); any other (the built-ins, an installed plugin) says what is missing."""
        workload = self.workloads.get(spec.workload)
        backend = self.backends.get(spec.backend)
        if isinstance(workload, FunctionWorkload) and self._from_file(spec.workload):
            return _author_hint(workload, backend, spec)
        if workload is not None:
            return workload.missing_implementation(spec.backend, spec.variant)
        return f"{spec.backend}:{spec.variant} has no implementation of {spec.workload}"

    def _from_file(self, workload: str) -> bool:
        return any(workload in names for names in self.workloads_by_file.values())

    def workload(self, name: str) -> Workload:
        return _named(self.workloads, name, "workload")

    def backend(self, name: str) -> Backend:
        return _named(self.backends, name, "backend")


def _author_hint(workload: FunctionWorkload, backend: Backend | None, spec: CellSpec) -> str:
    """A ``-w`` file's missing kernel, as its author can fix it."""
    adapter = backend.adapter if backend is not None else None
    if backend is not None and adapter is None:
        return f"{spec.backend} runs no user kernels (it has no adapter): {spec.workload} cannot run there"
    if adapter is not None and spec.variant in adapter.named_only:
        return (f"{spec.workload} has no {spec.backend}:{spec.variant} kernel (no "
                f"@{spec.workload}.kernel({spec.backend!r}, {spec.variant!r}) in its file; the "
                f"backend-wide @{spec.workload}.kernel({spec.backend!r}) does not serve it)")
    return workload.author_hint(spec.backend)


def _named(known: dict[str, T], name: str, kind: str) -> T:
    """The one ``name`` typed names, or a UserError that lists the known ones."""
    try:
        return known[name]
    except KeyError:
        raise UserError(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}") from None


def _load_object(ref: str) -> Any:
    """``module:attr.attr`` (an entry point's value, read as importlib.metadata reads it:
    the attribute path optional, ``[extras]`` ignored)."""
    module_name, _, attrs = ref.split("[", 1)[0].partition(":")
    obj = importlib.import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


# What a name may look like: it is typed on the command line, where ``,`` separates, ``:``
# introduces a variant, ``@`` a device and ``=`` a value, and it is shown in tables and markup.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(name: object, what: str) -> None:
    """Refuse a workload, backend or variant name that nobody could type in ``-w``/``-b``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{what} name {name!r} is not usable: use letters, digits, '_', '.', '-' "
                         "(starting with a letter or digit)")


def _add_workload(reg: Registry, obj: Any, source: str) -> None:
    """An entry point's (or a built-in's) workload: a :class:`Workload`, or one written with
    the public ``jitscope.workload(...)``, found the same way as a class-based one."""
    if isinstance(obj, UserWorkload):
        _add_user_workload(reg, obj, source)
        return
    if not isinstance(obj, Workload):
        raise TypeError(f"{source} is not a jitscope Workload (got {type(obj).__name__})")
    check_name(obj.name, "workload")
    for impl in obj.kernel_builds:  # the kernels its file declares, read from it (Registry.declared)
        _check_implementation(impl)
    for kernel in obj.function_kernels:
        _check_user_kernel(reg, obj, kernel)
    reg.workloads[obj.name] = obj


def _check_implementation(impl: Implementation) -> None:
    check_name(impl.backend, "backend")
    check_name(impl.variant, "variant")


def _add_backend(reg: Registry, obj: Any, source: str) -> None:
    if not isinstance(obj, Backend):
        raise TypeError(f"{source} is not a jitscope Backend (got {type(obj).__name__})")
    check_name(obj.name, "backend")
    for impl in obj.implementations:
        _check_implementation(impl)
    reg.backends[obj.name] = obj


def _entry_points(group: str) -> Iterable[Any]:
    from importlib.metadata import entry_points  # here: a worker is handed its parent's (below)

    try:
        return list(entry_points(group=group))
    except Exception:  # a corrupt metadata dir must not stop the tool
        return []


@dataclass(frozen=True)
class FoundEntryPoint:
    """An entry point another process found: a worker is handed its parent's
    (:func:`entry_point_refs`), so it neither imports ``importlib.metadata`` nor reads every
    installed distribution's metadata again (~0.05 s of CPU of each worker's start)."""

    name: str
    value: str

    def load(self) -> Any:
        return _load_object(self.value)


EntryPointRefs = Mapping[str, Sequence[Sequence[str]]]  # group -> [(name, value), ...], JSON-friendly


def entry_point_refs() -> dict[str, list[tuple[str, str]]]:
    """The jitscope entry points installed now, by group, as names and values."""
    return {group: [(ep.name, ep.value) for ep in _entry_points(group)] for group in (BACKEND_GROUP, WORKLOAD_GROUP)}


def _found(group: str, refs: EntryPointRefs | None) -> Iterable[Any]:
    """The group's entry points: the ones handed over, else those installed."""
    if refs is None:
        return _entry_points(group)
    return [FoundEntryPoint(name, value) for name, value in refs.get(group, ())]


def _refuse_shadowing(existing: dict[str, Any], name: object, kind: str, path: str | Path) -> None:
    """A file may add workloads and backends, never silently replace one: a plugin ``mcpi``
    would otherwise answer every question asked of the built-in one."""
    if isinstance(name, str) and name in existing:
        origin = "built-in" if name in (BUILTIN_WORKLOADS if kind == "workload" else BUILTIN_BACKENDS) else "already loaded"
        raise PluginError(f"workload file {path} defines a {kind} named {name!r}, like the {origin} one; rename it")


class PluginExited(BaseException):  # noqa: N818 - it is the plugin's exit, turned into an error
    """``os._exit(code)`` called by a plugin file's top level while jitscope loads it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_LOADING: set[int] = set()  # threads now running a plugin file's top level


def _guard_exit() -> None:
    """Make ``os._exit`` (and ``posix._exit``, the same function) raise PluginExited in a
    thread that is running a plugin file's top level, instead of ending jitscope on the spot
    with whatever code the plugin chose (exit 0 with no output would tell a script all went
    well). Everywhere else, and once loading is over, it is the real ``os._exit``. Installed
    once, for the process; what no Python code can stop (a raw system call through ctypes)
    the README documents."""
    if getattr(os._exit, "_jitscope_guard", False):
        return
    real = os._exit

    def guarded(status: int) -> NoReturn:
        if threading.get_ident() in _LOADING:
            raise PluginExited(status)
        real(status)

    guarded._jitscope_guard = True  # type: ignore[attr-defined]
    os._exit = guarded
    posix = sys.modules.get("posix")
    if posix is not None and getattr(posix, "_exit", None) is real:
        posix._exit = guarded  # type: ignore[attr-defined]


def _exit_words(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    if isinstance(exc, PluginExited):
        return f"called os._exit({exc.code!r})"
    return f"raised {type(exc).__name__}"


def _import_failure(path: str | Path, p: Path, exc: Exception) -> str:
    line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(p):
            line = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return f"workload file {path} failed to import{line}: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class _Imported:
    """A ``-w`` file's module, with the source it was executed from."""

    source: bytes
    module: Any


# A file's top level is the user's code (prints, downloads, slow set-up): it runs once per
# process, however many registries load the file (the CLI's checks, the run, the app's
# loader). Keyed by resolved path; a changed source (the app reloads an edited file) runs again.
_IMPORTED: dict[str, _Imported] = {}


def load_file_plugin(reg: Registry, path: str | Path) -> None:
    """Load ``WORKLOAD``/``WORKLOADS``, ``IMPLEMENTATIONS`` and ``BACKENDS`` from a file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise PluginError(f"workload file {path} does not exist")
    module = _import_file(path, p)
    before = set(reg.workloads)
    try:
        found = _register_module(reg, module, path)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"workload file {path}: {exc}") from None
    if not found:
        raise PluginError(
            f"workload file {path} defines no jitscope.workload(...) and none of WORKLOAD, WORKLOADS, "
            "BACKENDS, IMPLEMENTATIONS"
        )
    reg.workloads_by_file[str(p.resolve())] = [n for n in reg.workloads if n not in before]


def _import_file(path: str | Path, p: Path) -> Any:
    """The file's module: executed now, or the one this process already executed from the
    same source."""
    resolved = str(p.resolve())
    source = p.read_bytes()
    cached = _IMPORTED.get(resolved)
    if cached is not None and cached.source == source:
        return cached.module
    module = _execute_file(path, p, source)
    _IMPORTED[resolved] = _Imported(source, module)
    return module


def _execute_file(path: str | Path, p: Path, source: bytes) -> Any:
    """Run the file's top level as a module of its own, every failure a PluginError."""
    digest = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:10]
    module_name = f"jitscope_plugin_{p.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, p)
    if spec is None or spec.loader is None:
        raise PluginError(f"workload file {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        # Compiled from the source each time, never from a __pycache__ file: the app reloads a
        # file the user just edited, and a .pyc is validated by mtime in whole seconds.
        _guard_exit()
        _LOADING.add(threading.get_ident())
        exec(compile(source, str(p), "exec"), module.__dict__)  # noqa: S102 - the user's own file
    except StopRequested:  # the user's Ctrl-C or SIGTERM while loading: stop, as asked
        sys.modules.pop(module_name, None)
        raise
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(_import_failure(path, p, exc)) from None
    except BaseException as exc:
        # A plugin's top level runs inside jitscope: sys.exit, os._exit (see _guard_exit),
        # GeneratorExit or any other BaseException there must not end jitscope silently or
        # with a traceback, and never with exit 0: it is a broken plugin (exit 2).
        sys.modules.pop(module_name, None)
        raise PluginError(f"workload file {path} {_exit_words(exc)} while being imported; "
                          "a plugin must only define things") from None
    finally:
        _LOADING.discard(threading.get_ident())
    return module


def _register_module(reg: Registry, module: Any, path: str | Path) -> bool:
    """Add what the file's module defines to ``reg``; False when it defines nothing."""
    found = False
    workloads = list(getattr(module, "WORKLOADS", []))
    if hasattr(module, "WORKLOAD"):
        workloads.append(module.WORKLOAD)
    for w in workloads:
        _refuse_shadowing(reg.workloads, getattr(w, "name", None), "workload", path)
        _add_workload(reg, w, f"{path}: WORKLOAD")
        found = True
    for b in getattr(module, "BACKENDS", []):
        _refuse_shadowing(reg.backends, getattr(b, "name", None), "backend", path)
        _add_backend(reg, b, f"{path}: BACKENDS")
        found = True
    for user in _user_workloads(module):
        if any(user is w for w in workloads):  # ``WORKLOAD = jitscope.workload(...)``, as the built-ins write it
            continue
        _refuse_shadowing(reg.workloads, user.name, "workload", path)
        _add_user_workload(reg, user, path)
        found = True
    return _add_file_implementations(reg, module) or found


def _add_file_implementations(reg: Registry, module: Any) -> bool:
    """A file's ``IMPLEMENTATIONS`` (kernels for workloads defined anywhere)."""
    impls = list(getattr(module, "IMPLEMENTATIONS", []))
    for impl in impls:
        if not isinstance(impl, Implementation):
            raise TypeError(f"IMPLEMENTATIONS holds a {type(impl).__name__}, not an Implementation")
        _check_implementation(impl)
        reg.extra_implementations.append(impl)
    return bool(impls)


def _user_workloads(module: Any) -> list[UserWorkload]:
    """Every ``jitscope.workload(...)`` a file made, whatever name it is bound to, once."""
    seen: dict[int, UserWorkload] = {}
    for value in vars(module).values():
        if isinstance(value, UserWorkload):
            seen.setdefault(id(value), value)
    return list(seen.values())


def function_implementation(adapter: Adapter, workload: Workload, kernel: UserKernel, variant: str) -> Implementation:
    """One (backend, variant) of a function kernel, a built-in's or a user's: the adapter
    builds the library side, the contract of :mod:`jitscope.core.userrun` wraps it; the
    kernel is called with the inputs and each parameter its signature names."""
    from jitscope.core.userrun import UserKernelRun

    base = adapter.dtypes_with(kernel) if adapter.dtypes_with is not None else adapter.dtypes
    dtypes = tuple(d for d in base if d in workload.dtypes)
    narrowed = set(base) - set(workload.dtypes)
    reason = (f"{workload.name} is declared for {'/'.join(workload.dtypes)} only (dtypes= in its jitscope.workload)"
              if narrowed else "")
    # On record only where they reach the library: torch.compile's options mean nothing to
    # eager, and jitscope's own (python's lists=, description=, notes=) reach no library.
    applied = not adapter.options_variants or variant in adapter.options_variants
    options = ", ".join(f"{k}={v!r}" for k, v in kernel.library_options(adapter.options).items()) if applied else ""
    which = f"{kernel.backend}:{variant}"
    has_modes = any(p.name == INPUTS_PARAM for p in workload.params)
    notes = dict(kernel.option("notes") or {})

    def build(ctx: Any) -> Any:
        fresh = ctx.params.get(INPUTS_PARAM) == "fresh"
        called = dataclasses.replace(ctx, inputs=workload.arguments_for(kernel.fn, ctx.inputs, ctx.params, ctx.dtype))
        inner = adapter.build(called, kernel, variant)
        inner.notes.update(notes)
        return UserKernelRun(inner, ctx, fresh=fresh, name=which, options=options, modes=has_modes,
                             probe=bool(kernel.option("probe")))

    description = kernel.option("description") or f"user kernel ({kernel.source})"
    return Implementation(kernel.workload, kernel.backend, variant, build, description,
                          devices=adapter.devices_for(variant), dtypes=dtypes, dtypes_reason=reason)


def _add_user_workload(reg: Registry, user: UserWorkload, path: str | Path) -> None:
    """Register a user workload and one implementation per (backend, variant) its kernels
    serve; a kernel for an unknown backend, a variant the adapter lacks, or an option it does
    not take is refused now, with the file and line, rather than at run time."""
    check_name(user.name, "workload")
    for impl in user.workload.kernel_builds:  # the built-ins' compiled kernels, read from it (Registry.declared)
        _check_implementation(impl)
    if user.reference_fn is None:
        raise ValueError(f"workload {user.name} has no @{user.name}.reference (the float64 truth kernels are checked against)")
    for kernel in user.kernels:
        _check_user_kernel(reg, user.workload, kernel)
    reg.workloads[user.name] = user.workload  # its kernels bound as a built-in's (Registry.declared)


def _check_user_kernel(reg: Registry, user: Workload, kernel: UserKernel) -> None:
    """A ``@w.kernel(...)`` the registry's backends can run, or a ValueError that names it."""
    backend = reg.backends.get(kernel.backend)
    where = f"@{user.name}.kernel({kernel.backend!r}{', ' + repr(kernel.variant) if kernel.variant else ''}) at {kernel.source}"
    if backend is None:
        raise ValueError(f"{where}: unknown backend {kernel.backend!r} (known: {', '.join(sorted(reg.backends))})")
    adapter = backend.adapter
    if adapter is None:
        raise ValueError(f"{where}: {kernel.backend} runs no user kernels (it has no adapter)")
    if kernel.variant is not None and kernel.variant not in adapter.variants:
        raise ValueError(f"{where}: {kernel.backend} has no variant {kernel.variant!r} for user kernels "
                         f"(it has: {', '.join(adapter.variants)})")
    unknown = [name for name, _ in kernel.options if name not in adapter.options and name not in KERNEL_OPTIONS]
    if unknown and not adapter.passes_options_to:
        takes = ", ".join(adapter.options) or "none"
        raise ValueError(f"{where}: {kernel.backend} takes no option {', '.join(unknown)} (options: {takes})")


def load_registry(workload_files: Sequence[str | Path] = (), entry_points: EntryPointRefs | None = None) -> Registry:
    """Every workload and backend: entry points first, then built-ins, then ``-w`` files.
    ``entry_points``: the ones another process found (:func:`entry_point_refs`), instead of
    reading the installed metadata."""
    loaded_from: dict[str, list[tuple[str, str]]] = {}
    reg = Registry(entry_points=loaded_from)
    # Backends first: a workload's function kernels are checked against their adapters.
    for group, adder, builtins in (
        (BACKEND_GROUP, _add_backend, BUILTIN_BACKENDS),
        (WORKLOAD_GROUP, _add_workload, BUILTIN_WORKLOADS),
    ):
        seen: set[str] = set()
        found = list(_found(group, entry_points))
        loaded_from[group] = [(ep.name, ep.value) for ep in found]
        for ep in found:
            seen.add(ep.name)
            try:
                adder(reg, ep.load(), f"entry point {ep.name} ({ep.value})")
            except Exception as exc:
                reg.problems.append(
                    f"plugin {group}:{ep.name} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
                )
        for name, ref in builtins.items():
            if name in seen:
                continue
            try:
                adder(reg, _load_object(ref), ref)
            except Exception as exc:
                reg.problems.append(f"built-in {name} ({ref}) failed to load: {type(exc).__name__}: {exc}")
    for path in workload_files:
        load_file_plugin(reg, path)
    return reg
