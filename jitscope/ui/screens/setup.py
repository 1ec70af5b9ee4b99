"""Setup: workloads, backends (availability, version, why not), sizes, device, dtype, budget
and workload parameters. Versions and devices arrive from worker probes after the screen is
shown; nothing here waits on them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection as Choice
from textual.worker import get_current_worker

from jitscope.core.errors import UserError
from jitscope.core.model import DEVICES, DTYPES
from jitscope.core.parsing import parse_sizes
from jitscope.plots import fmt_size
from jitscope.runner.plan import DEFAULT_BUDGET_S, DEFAULT_SEED, DEFAULT_TIMEOUT_S, Plan, Selection
from jitscope.ui.messages import BackendProbed
from jitscope.ui.state import DEFAULT_PRESET, compose_plan, fmt_duration, preset_names, preset_sizes
from jitscope.ui.widgets.checklist import CheckList
from jitscope.ui.widgets.modebar import ModeBar


@dataclass
class RunRequest:
    selection: Selection
    plan: Plan
    preset: str


class SetupScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "app.run", "Run", tooltip="Run the selection from the Setup screen"),
        Binding("a", "all_backends", "All", tooltip="Select every available backend (again: none)"),
        Binding("p", "next_preset", "Preset", tooltip="Cycle the size preset"),
        Binding("d", "next_dtype", "Dtype", show=False, tooltip="Switch float64 / float32"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._param_names: dict[str, list[str]] = {}  # param name -> workloads that have it
        self._probing = False

    # ---- building --------------------------------------------------------------------------
    @property
    def registry(self):
        return self.app.registry  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        reg = self.registry
        sel: Selection | None = self.app.initial_selection  # type: ignore[attr-defined]
        yield ModeBar("setup")
        with Horizontal(id="setup-body"):
            with Vertical(id="setup-left"):
                chosen = set(sel.workloads) if sel else set()
                workloads = CheckList(
                    *[Choice(self._workload_prompt(name), name, name in chosen, id=f"w-{name}")
                      for name in reg.workloads],
                    id="workloads",
                )
                workloads.border_title = "Workloads"
                yield workloads
                backends = CheckList(*self._backend_choices(sel), id="backends")
                backends.border_title = "Backends"
                yield backends
                yield Static("", id="detail")
            with VerticalScroll(id="setup-right") as right:
                right.border_title = "Options"
                right.can_focus = False
                sizes_text = ",".join(str(s) for s in sel.sizes) if sel and sel.sizes else ""
                with Horizontal(classes="field"):
                    yield Label("Preset")
                    yield Select([(DEFAULT_PRESET, DEFAULT_PRESET)], value=DEFAULT_PRESET, allow_blank=False,
                                 compact=True, id="preset")
                with Horizontal(classes="field"):
                    yield Label("Sizes")
                    yield Input(sizes_text, placeholder="preset, or 1k,10k,1e6", compact=True, id="sizes")
                yield Static("", id="sizes-hint")
                with Horizontal(classes="field"):
                    yield Label("Device")
                    yield Select([(d, d) for d in DEVICES], value=sel.device if sel else "cpu",
                                 allow_blank=False, compact=True, id="device")
                with Horizontal(classes="field"):
                    yield Label("Dtype")
                    yield Select([(d, d) for d in DTYPES], value=sel.dtype if sel else "float64",
                                 allow_blank=False, compact=True, id="dtype")
                with Horizontal(classes="field"):
                    yield Label("Budget s")
                    yield Input(_num(sel.budget_s if sel else DEFAULT_BUDGET_S), compact=True, id="budget",
                                tooltip="seconds of measurement per cell")
                with Horizontal(classes="field"):
                    yield Label("Timeout s")
                    yield Input(_num(sel.timeout_s if sel else DEFAULT_TIMEOUT_S), compact=True, id="timeout",
                                tooltip="a cell running longer is killed and marked timeout")
                with Horizontal(classes="field"):
                    yield Label("Threads")
                    yield Input(str(sel.threads) if sel and sel.threads else "", placeholder="backend default",
                                compact=True, id="threads")
                with Horizontal(classes="field"):
                    yield Label("Seed")
                    yield Input(str(sel.seed if sel else DEFAULT_SEED), compact=True, id="seed")
                yield Label("Parameters", id="params-title")
                for name, owners, param in self._params():
                    given = sel.params.get(name, "") if sel else ""
                    with Horizontal(classes="field param", id=f"field-{name}"):
                        yield Label(name)
                        yield Input(given, placeholder=f"{param.default} ({'/'.join(owners)})", compact=True,
                                    id=f"param-{name}", tooltip=param.help)
            yield Static("", id="summary")
        yield Footer(show_command_palette=False)

    def _params(self) -> list[tuple[str, list[str], Any]]:
        found: dict[str, tuple[list[str], Any]] = {}
        for wname, workload in self.registry.workloads.items():
            for param in workload.params:
                owners, first = found.setdefault(param.name, ([], param))
                owners.append(wname)
        self._param_names = {name: owners for name, (owners, _) in found.items()}
        return [(name, owners, param) for name, (owners, param) in found.items()]

    def _workload_prompt(self, name: str) -> Content:
        w = self.registry.workloads[name]
        return Content.from_markup("[b]$name[/b] [$text-muted]$desc", name=name, desc=w.description)

    def _backend_choices(self, sel: Selection | None) -> list[Choice[str]]:
        wanted: set[str] = set()
        unknown: list[str] = []
        reg = self.registry
        for name, variant in (sel.backends if sel else []):
            if name not in reg.backends:
                unknown.append(name)
                continue
            variants = reg.variants(name)
            if variant == "*":
                wanted.update(_value(name, v, reg) for v in variants)
            elif variant is None or variant in variants:
                wanted.add(_value(name, variant or _default_variant(name, reg), reg))
            else:
                unknown.append(f"{name}:{variant}")
        self._unknown_backends = unknown
        choices: list[Choice[str]] = []
        for name, backend in reg.backends.items():
            availability = backend.availability()
            variants = reg.variants(name) or (backend.default_variant,)
            for variant in variants:
                value = _value(name, variant, reg)
                # Unavailable backends stay reachable (the detail line says why) but cannot be selected.
                choices.append(Choice(self._backend_prompt(value), value, value in wanted and availability.available,
                                      id=_option_id(value)))
        self._availability = {name: b.availability() for name, b in reg.backends.items()}
        return choices

    def _backend_prompt(self, value: str) -> Content:
        name = value.partition(":")[0]
        availability = self._availability_of(name)
        if not availability.available:
            why = availability.reason.split(":")[0]
            return Content.from_markup("[b]$value[/b] [$text-error]✗ $why", value=value, why=why)
        info = self.app.backend_info.get(name)  # type: ignore[attr-defined]
        if info is None:
            status = "…" if self.app.probe is not None else ""  # type: ignore[attr-defined]
        elif "error" in info:
            status = "probe failed"
        else:
            devices = info.get("devices") or []
            status = str(info.get("version", "?")) + (f" · {', '.join(map(str, devices))}" if devices else "")
        return Content.from_markup("[b]$value[/b] [$text-muted]$status", value=value, status=status)

    def _availability_of(self, name: str):
        cache = getattr(self, "_availability", None)
        if cache is None or name not in cache:
            return self.registry.backends[name].availability()
        return cache[name]

    # ---- lifecycle ------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.query_one("#workloads").focus()
        self._refresh_presets()
        self._update_params()
        self._update_summary()
        for name in getattr(self, "_unknown_backends", []):
            self.notify(f"unknown backend {name!r} ignored", severity="warning")
        sel = self.app.initial_selection  # type: ignore[attr-defined]
        for name in sel.workloads if sel else []:
            if name not in self.registry.workloads:
                self.notify(f"unknown workload {name!r} ignored", severity="warning")
        # Probe versions only once the first frame is on screen.
        self.call_after_refresh(self.start_probes)

    def on_unmount(self) -> None:
        # The app is closing: kill a version probe in flight rather than wait for it.
        self.app.probes_paused.set()  # type: ignore[attr-defined]
        self.app.probe_cancel.set()  # type: ignore[attr-defined]

    def start_probes(self) -> None:
        app: Any = self.app
        if app.probe is None or self._probing:
            return
        todo = [n for n in self.registry.backends if n not in app.backend_info and self._availability_of(n).available]
        if todo:
            self._probing = True
            self._probe_all(todo)

    @work(thread=True, group="probe", exit_on_error=False)
    def _probe_all(self, names: list[str]) -> None:
        app: Any = self.app
        worker = get_current_worker()
        try:
            for name in names:
                if worker.is_cancelled or app.probes_paused.is_set():
                    return
                with app.probe_lock:
                    if app.probes_paused.is_set():
                        return
                    try:
                        info = app.probe(name, "cpu")
                    except Exception as exc:  # a probe must never take the app down
                        info = {"error": f"{type(exc).__name__}: {exc}"}
                if info.get("cancelled"):  # a run started: probe it again later
                    return
                self.post_message(BackendProbed(name, info))
        finally:
            self._probing = False

    def on_backend_probed(self, message: BackendProbed) -> None:
        self.app.backend_info[message.backend] = message.info  # type: ignore[attr-defined]
        backends = self.query_one("#backends", SelectionList)
        for option in backends.options:
            value = str(option.value) if hasattr(option, "value") else ""
            if value.partition(":")[0] == message.backend and option.id:
                backends.replace_option_prompt(option.id, self._backend_prompt(value))
        described = getattr(self, "_described", None)
        if described and described[0] == "backends" and described[1].partition(":")[0] == message.backend:
            self._describe(*described)

    # ---- reacting to the form ---------------------------------------------------------------
    @on(SelectionList.SelectedChanged, "#workloads")
    def _workloads_changed(self) -> None:
        self._refresh_presets()
        self._update_params()
        self._update_summary()

    @on(SelectionList.SelectionToggled, "#backends")
    def _backend_toggled(self, event: SelectionList.SelectionToggled) -> None:
        value = str(event.selection.value)
        availability = self._availability_of(value.partition(":")[0])
        if not availability.available and value in event.selection_list.selected:
            event.selection_list.deselect(value)
            self.notify(availability.reason, title=f"{value} is unavailable", severity="warning")

    @on(SelectionList.SelectedChanged, "#backends")
    @on(Input.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        self._update_summary()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    @on(SelectionList.SelectionHighlighted)
    def _highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        self._described = (event.selection_list.id or "", str(event.selection.value))
        self._describe(*self._described)

    def _describe(self, list_id: str, value: str) -> None:
        detail = self.query_one("#detail", Static)
        if list_id == "workloads":
            w = self.registry.workloads[value]
            detail.update(Content.from_markup("[b]$n[/b]: $desc [$text-muted](size: $size)", n=value,
                                              desc=w.description, size=w.size_label))
            return
        name = value.partition(":")[0]
        backend = self.registry.backends[name]
        availability = self._availability_of(name)
        info = self.app.backend_info.get(name, {})  # type: ignore[attr-defined]
        if not availability.available:
            detail.update(Content.from_markup("[b]$n[/b]: [$text-error]unavailable: $why[/] [$text-muted]· $desc",
                                              n=value, why=availability.reason, desc=backend.description))
            return
        if "error" in info:
            extra = f"probe failed: {info['error']}"
        else:
            devices = ", ".join(map(str, info.get("devices") or []))
            extra = (f"version {info.get('version', '?')}" + (f" on {devices}" if devices else "")) if info else ("probing…" if self.app.probe else "")  # type: ignore[attr-defined]
        detail.update(Content.from_markup("[b]$n[/b]: $desc [$text-muted]($extra)", n=value,
                                          desc=backend.description, extra=extra))

    def on_descendant_focus(self, event: Any) -> None:
        widget = event.widget
        if isinstance(widget, Input) and widget.tooltip:
            self.query_one("#detail", Static).update(Content.from_markup("[$text-muted]$t", t=str(widget.tooltip)))

    def _selected_workloads(self) -> list[str]:
        chosen = set(self.query_one("#workloads", SelectionList).selected)
        return [w for w in self.registry.workloads if w in chosen]

    def _refresh_presets(self) -> None:
        select = self.query_one("#preset", Select)
        names = preset_names(self.registry, self._selected_workloads() or list(self.registry.workloads))
        current = select.value if select.value in names else DEFAULT_PRESET
        if getattr(self, "_preset_list", None) != names:
            self._preset_list = names
            select.set_options([(n, n) for n in names])
            select.value = current

    def _update_params(self) -> None:
        chosen = set(self._selected_workloads())
        any_shown = False
        for name, owners in self._param_names.items():
            shown = bool(chosen & set(owners))
            any_shown |= shown
            self.query_one(f"#field-{name}").display = shown
        self.query_one("#params-title").display = any_shown

    def _update_summary(self) -> None:
        summary = self.query_one("#summary", Static)
        hint = self.query_one("#sizes-hint", Static)
        workloads = self._selected_workloads()
        sizes_text = self.query_one("#sizes", Input).value.strip()
        preset = str(self.query_one("#preset", Select).value)
        if sizes_text:
            hint.update(Content.from_markup("[$text-muted]custom sizes for every workload"))
        elif workloads:
            parts = [f"{w} {' '.join(fmt_size(s) for s in preset_sizes(self.registry, w, preset))}" for w in workloads]
            hint.update(Content.from_markup("[$text-muted]$t", t="; ".join(parts)))
        else:
            hint.update("")
        try:
            request = self.run_request()
        except UserError as exc:
            summary.update(Content.from_markup("[$text-warning]$m", m=str(exc)))
            summary.set_class(True, "-invalid")
            return
        summary.set_class(False, "-invalid")
        cells = request.plan.cells
        sel = request.selection
        guess = len(cells) * (sel.budget_s * 1.3 + 0.1) + 1.5 * len(request.plan.groups)
        summary.update(Content.from_markup(
            "[b]$n[/b] cells · $g worker(s) · about $eta  [$text-muted]r to run",
            n=str(len(cells)), g=str(len(request.plan.groups)), eta=fmt_duration(guess),
        ))

    # ---- the selection ------------------------------------------------------------------------
    def run_request(self) -> RunRequest:
        """The form as a Selection and a Plan; UserError with a one-line message if invalid."""
        reg = self.registry
        workloads = self._selected_workloads()
        chosen = set(self.query_one("#backends", SelectionList).selected)
        backends: list[tuple[str, str | None]] = []
        for name in reg.backends:
            for variant in reg.variants(name) or (reg.backends[name].default_variant,):
                value = _value(name, variant, reg)
                if value in chosen:
                    backends.append((name, None if ":" not in value else variant))
        if not workloads:
            raise UserError("select at least one workload (space toggles, tab moves between lists)")
        if not backends:
            raise UserError("select at least one available backend")
        sizes_text = self.query_one("#sizes", Input).value.strip()
        sizes = parse_sizes([sizes_text]) if sizes_text else None
        threads_text = self.query_one("#threads", Input).value.strip()
        params = {}
        for name, owners in self._param_names.items():
            text = self.query_one(f"#param-{name}", Input).value.strip()
            if text and set(owners) & set(workloads):
                params[name] = text
        selection = Selection(
            workloads=workloads,
            backends=backends,
            sizes=sizes,
            device=str(self.query_one("#device", Select).value),
            dtype=str(self.query_one("#dtype", Select).value),
            budget_s=_positive(self.query_one("#budget", Input).value, "budget"),
            timeout_s=_positive(self.query_one("#timeout", Input).value, "timeout"),
            threads=_int(threads_text, "threads") if threads_text else None,
            params=params,
            seed=_int(self.query_one("#seed", Input).value, "seed"),
        )
        preset = str(self.query_one("#preset", Select).value)
        return RunRequest(selection, compose_plan(reg, selection, preset), preset)

    # ---- keys -----------------------------------------------------------------------------------
    def action_all_backends(self) -> None:
        backends = self.query_one("#backends", SelectionList)
        enabled = [o.value for o in backends.options  # type: ignore[attr-defined]
                   if self._availability_of(str(o.value).partition(":")[0]).available]  # type: ignore[attr-defined]
        if set(backends.selected) >= set(enabled):
            backends.deselect_all()
        else:
            for value in enabled:
                backends.select(value)

    def action_next_preset(self) -> None:
        select = self.query_one("#preset", Select)
        names = preset_names(self.registry, self._selected_workloads() or list(self.registry.workloads))
        current = names.index(str(select.value)) if select.value in names else -1
        select.value = names[(current + 1) % len(names)]
        self.notify(f"size preset: {select.value}", timeout=2)

    def action_next_dtype(self) -> None:
        select = self.query_one("#dtype", Select)
        select.value = DTYPES[(DTYPES.index(str(select.value)) + 1) % len(DTYPES)]

    def action_leave_field(self) -> None:
        if self.app.running:  # type: ignore[attr-defined]
            self.app.action_cancel()  # type: ignore[attr-defined]
        elif isinstance(self.focused, Input):
            self.query_one("#workloads").focus()


def _default_variant(name: str, reg: Any) -> str:
    backend = reg.backends[name]
    variants = reg.variants(name)
    return backend.default_variant if backend.default_variant in variants or not variants else variants[0]


def _value(name: str, variant: str, reg: Any) -> str:
    return name if variant == _default_variant(name, reg) else f"{name}:{variant}"


def _option_id(value: str) -> str:
    return "b-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in value)


def _num(value: float) -> str:
    return f"{value:g}"


def _positive(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not a number of seconds") from None
    if not (value > 0 and math.isfinite(value)):
        raise UserError(f"{what} {text!r} must be a positive number of seconds")
    return value


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UserError(f"{what} {text!r} is not a whole number") from None
