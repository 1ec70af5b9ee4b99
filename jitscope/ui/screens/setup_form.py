"""The Setup form: workloads, backends (availability, version, why not), sizes, device, dtype,
budget and workload parameters. Built once the registry is loaded; versions and devices
arrive from worker probes after that, and nothing here waits on them.

Whenever the form changes it puts what r would run into the session
(:attr:`Session.request`, or :attr:`Session.request_problem` when it cannot run).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import DescendantFocus
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection as Choice

from jitscope.core.backend import Availability
from jitscope.core.errors import UserError
from jitscope.core.model import DEVICES, DTYPES
from jitscope.core.parsing import parse_sizes, parse_threads
from jitscope.core.registry import Registry
from jitscope.core.units import fmt_size
from jitscope.core.workload import Param
from jitscope.runner.plan import DEFAULT_BUDGET_S, DEFAULT_SEED, DEFAULT_TIMEOUT_S, Selection
from jitscope.ui.keys import next_in_cycle
from jitscope.ui.planning import (
    DEFAULT_PRESET,
    RunRequest,
    backend_choices,
    backend_of,
    compose_plan,
    positive_seconds,
    preset_names,
    preset_sizes,
    seconds_text,
    selection_labels,
    whole_number,
)
from jitscope.ui.shared_state import Session
from jitscope.ui.state import fmt_duration
from jitscope.ui.widgets.checklist import CheckList, TickBox

UNKNOWN_AVAILABILITY = Availability(False, "not checked")


@dataclass(frozen=True)
class SharedParam:
    """A parameter field of the form: one per name, for every workload that has it."""

    name: str
    owners: tuple[str, ...]  # the workloads that have a parameter of this name
    param: Param  # the first one's declaration (default, help)


def shared_params(registry: Registry) -> list[SharedParam]:
    found: dict[str, tuple[list[str], Param]] = {}
    for wname, workload in registry.workloads.items():
        for param in workload.params:
            found.setdefault(param.name, ([], param))[0].append(wname)
    return [SharedParam(name, tuple(owners), param) for name, (owners, param) in found.items()]


class SetupForm(Horizontal):
    # Here rather than in jitscope.tcss: parsed when the form is built, after the first frame.
    DEFAULT_CSS = """
    #setup-right {
        width: 38;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    SelectionList {
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0;
        scrollbar-size-vertical: 1;
    }
    SelectionList:focus {
        border: round $primary;
        border-title-color: $text;
    }
    #workloads {
        height: auto;
        max-height: 10;
    }
    #backends {
        height: 1fr;
        min-height: 4;
    }
    #detail {
        height: 2;
        padding: 0 1;
        color: $text-muted;
    }
    .field {
        height: 1;
        margin-bottom: 0;
    }
    .field Label {
        width: 10;
        color: $text-muted;
    }
    .field Input, .field Select {
        width: 1fr;
    }
    .field.ticks, .ticks .boxes {
        height: auto;
    }
    .ticks .boxes {
        width: 1fr;
        layout: horizontal;
    }
    .ticks TickBox {
        width: auto;
        margin-right: 1;
    }
    #sizes-hint {
        padding-left: 10;
        height: auto;
    }
    #params-title {
        margin-top: 1;
        color: $text-muted;
        text-style: bold;
    }
    #summary {
        dock: bottom;
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
    }
    #summary.-invalid {
        background: $warning 15%;
    }
    """
    BINDINGS = [
        Binding("r", "app.run", "Run", tooltip="Run the selection from the Setup screen"),
        Binding("a", "all_backends", "All", tooltip="Select every available backend (again: none)"),
        Binding("p", "next_preset", "Preset", tooltip="Cycle the size preset"),
        Binding("d", "next_dtype", "Dtype", show=False, tooltip="Switch float64 / float32 / both"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self, registry: Registry, session: Session, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.registry = registry
        self.session = session
        self.params = shared_params(registry)
        self.choices = backend_choices(registry)  # (label, backend, variant or None)
        self.preset_list: list[str] = []
        self.described: tuple[str, str] | None = None  # (list id, value) shown in the detail line
        self.unknown_backends: list[str] = []

    # ---- building --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        reg = self.registry
        sel = self.session.initial_selection
        with Vertical(id="setup-left"):
            chosen = set(sel.workloads) if sel else set()
            workloads = CheckList(
                *[Choice(self._workload_prompt(name), name, name in chosen, id=f"w-{name}") for name in reg.workloads],
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
            sizes_text = ",".join(fmt_size(s) for s in sel.sizes) if sel and sel.sizes else ""
            shown = CUSTOM_PRESET if sizes_text else DEFAULT_PRESET
            with Horizontal(classes="field"):
                yield Label("Preset")
                yield Select([(shown, shown)], value=shown, allow_blank=False, compact=True, id="preset")
            with Horizontal(classes="field"):
                yield Label("Sizes")
                yield Input(sizes_text, placeholder="preset, or 1k,10k,1e6", compact=True, id="sizes")
            yield Static("", id="sizes-hint")
            yield from _ticks("Device", "device", DEVICES, sel.device if sel else ["cpu"])
            yield from _ticks("Dtype", "dtype", DTYPES, sel.dtype if sel else ["float64"])
            with Horizontal(classes="field"):
                yield Label("Budget s")
                yield Input(seconds_text(sel.budget_s if sel else DEFAULT_BUDGET_S), compact=True, id="budget",
                            tooltip="seconds of measurement per cell")
            with Horizontal(classes="field"):
                yield Label("Timeout s")
                yield Input(seconds_text(sel.timeout_s if sel else DEFAULT_TIMEOUT_S), compact=True, id="timeout",
                            tooltip="a cell running longer is killed and marked timeout")
            with Horizontal(classes="field"):
                yield Label("Threads")
                yield Input(",".join(str(t) for t in sel.threads if t) if sel else "",
                            placeholder="default, or 1,2,4", compact=True, id="threads",
                            tooltip="thread counts: several (1,2,4) make a cell each, each in its own worker")
            with Horizontal(classes="field"):
                yield Label("Seed")
                yield Input(str(sel.seed if sel else DEFAULT_SEED), compact=True, id="seed")
            yield Label("Parameters", id="params-title")
            for shared in self.params:
                given = sel.params.get(shared.name, "") if sel else ""
                with Horizontal(classes="field param", id=f"field-{shared.name}"):
                    yield Label(shared.name)
                    yield Input(given, placeholder=f"{shared.param.default} ({'/'.join(shared.owners)})", compact=True,
                                id=f"param-{shared.name}", tooltip=shared.param.help)
        yield Static("", id="summary")

    def _workload_prompt(self, name: str) -> Content:
        w = self.registry.workloads[name]
        return Content.from_markup("[b]$name[/b] [$text-muted]$desc", name=name, desc=w.description)

    def _backend_choices(self, sel: Selection | None) -> list[Choice[str]]:
        """The choices, with those of the initial selection checked (when available)."""
        wanted: set[str] = set()
        for name, variant in (sel.backends if sel else []):
            labels = selection_labels(self.registry, name, variant)
            if labels:
                wanted.update(labels)
            else:
                self.unknown_backends.append(name if variant in (None, "*") else f"{name}:{variant}")
        return [Choice(self._backend_prompt(label), label, label in wanted and self._availability(backend).available,
                       id=_option_id(label))
                for label, backend, _variant in self.choices]

    def _availability(self, backend: str) -> Availability:
        return self.session.availability.get(backend, UNKNOWN_AVAILABILITY)

    def _backend_prompt(self, label: str) -> Content:
        availability = self._availability(backend_of(label))
        if not availability.available:
            why = availability.reason.split(":")[0]
            return Content.from_markup("[b]$value[/b] [$text-error]✗ $why", value=label, why=why)
        return Content.from_markup("[b]$value[/b] [$text-muted]$status", value=label,
                                   status=self.session.probing_label(backend_of(label)))

    # ---- lifecycle ------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.query_one("#workloads").focus()
        self._refresh_presets()
        self._update_params()
        self._update_summary()
        for name in self.unknown_backends:
            self.notify(f"unknown backend {name!r} ignored", severity="warning")
        sel = self.session.initial_selection
        for name in sel.workloads if sel else []:
            if name not in self.registry.workloads:
                self.notify(f"unknown workload {name!r} ignored", severity="warning")
        self.session.backend_probed.subscribe(self, self._backend_probed)

    def _backend_probed(self, backend: str) -> None:
        backends = self.query_one("#backends", SelectionList)
        for label, name, _variant in self.choices:
            if name == backend:
                backends.replace_option_prompt(_option_id(label), self._backend_prompt(label))
        if self.described and self.described[0] == "backends" and backend_of(self.described[1]) == backend:
            self._describe(*self.described)

    # ---- reacting to the form ---------------------------------------------------------------
    @on(SelectionList.SelectedChanged, "#workloads")
    def _workloads_changed(self) -> None:
        self._refresh_presets()
        self._update_params()
        self._update_summary()

    @on(SelectionList.SelectionToggled, "#backends")
    def _backend_toggled(self, event: SelectionList.SelectionToggled[str]) -> None:
        value = str(event.selection.value)
        availability = self._availability(backend_of(value))
        if not availability.available and value in event.selection_list.selected:
            event.selection_list.deselect(value)
            self.notify(availability.reason, title=f"{value} is unavailable", severity="warning")

    @on(Input.Changed, "#sizes")
    def _sizes_changed(self) -> None:
        self._refresh_presets()

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        """Choosing a preset (or ``p``) replaces a custom list of sizes."""
        if event.value != CUSTOM_PRESET and self.query_one("#sizes", Input).value:
            self.query_one("#sizes", Input).value = ""

    @on(SelectionList.SelectedChanged, "#backends")
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _form_changed(self) -> None:
        self._update_summary()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.screen.focus_next()

    @on(SelectionList.SelectionHighlighted)
    def _highlighted(self, event: SelectionList.SelectionHighlighted[str]) -> None:
        self.described = (event.selection_list.id or "", str(event.selection.value))
        self._describe(*self.described)

    def _describe(self, list_id: str, value: str) -> None:
        detail = self.query_one("#detail", Static)
        if list_id == "workloads":
            w = self.registry.workloads[value]
            detail.update(Content.from_markup("[b]$n[/b]: $desc [$text-muted](size: $size)", n=value,
                                              desc=w.description, size=w.size_label))
            return
        name = backend_of(value)
        backend = self.registry.backends[name]
        availability = self._availability(name)
        info = self.session.backend_info.get(name, {})
        if not availability.available:
            detail.update(Content.from_markup("[b]$n[/b]: [$text-error]unavailable: $why[/] [$text-muted]· $desc",
                                              n=value, why=availability.reason, desc=backend.description))
            return
        if "error" in info:
            extra = f"probe failed: {info['error']}"
        elif info:
            devices = ", ".join(map(str, info.get("devices") or []))
            extra = f"version {info.get('version', '?')}" + (f" on {devices}" if devices else "")
        else:
            extra = "probing…" if self.session.probe is not None else ""
        detail.update(Content.from_markup("[b]$n[/b]: $desc [$text-muted]($extra)", n=value,
                                          desc=backend.description, extra=extra))

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        widget = event.widget
        if isinstance(widget, Input) and widget.tooltip:
            self.query_one("#detail", Static).update(Content.from_markup("[$text-muted]$t", t=str(widget.tooltip)))

    def _selected_workloads(self) -> list[str]:
        chosen = set(self.query_one("#workloads", SelectionList).selected)
        return [w for w in self.registry.workloads if w in chosen]

    def _refresh_presets(self) -> None:
        """The presets of the selected workloads; ``custom`` (and only it) while Sizes holds
        a list, so the form never shows a preset that is not what will run."""
        select: Select[str] = self.query_one("#preset", Select)
        names = preset_names(self.registry, self._selected_workloads() or list(self.registry.workloads))
        if self.query_one("#sizes", Input).value.strip():
            names = [CUSTOM_PRESET]
        current = select.value if select.value in names else names[0]
        if self.preset_list != names:
            self.preset_list = names
            select.set_options([(n, n) for n in names])
            select.value = current

    def _update_params(self) -> None:
        chosen = set(self._selected_workloads())
        any_shown = False
        for shared in self.params:
            shown = bool(chosen & set(shared.owners))
            any_shown |= shown
            self.query_one(f"#field-{shared.name}").display = shown
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
            self.session.request, self.session.request_problem = None, str(exc)
            summary.update(Content.from_markup("[$text-warning]$m", m=str(exc)))
            summary.set_class(True, "-invalid")
            return
        self.session.request, self.session.request_problem = request, ""
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
        workloads = self._selected_workloads()
        chosen = set(self.query_one("#backends", SelectionList).selected)
        backends = [(backend, variant) for label, backend, variant in self.choices if label in chosen]
        if not workloads:
            raise UserError("select at least one workload (space toggles, tab moves between lists)")
        if not backends:
            raise UserError("select at least one available backend")
        sizes_text = self.query_one("#sizes", Input).value.strip()
        sizes = parse_sizes([sizes_text]) if sizes_text else None
        threads_text = self.query_one("#threads", Input).value.strip()
        devices = self._ticked("device", DEVICES)
        dtypes = self._ticked("dtype", DTYPES)
        params = {}
        for shared in self.params:
            text = self.query_one(f"#param-{shared.name}", Input).value.strip()
            if text and set(shared.owners) & set(workloads):
                params[shared.name] = text
        selection = Selection(
            workloads=workloads,
            backends=backends,
            sizes=sizes,
            device=devices,
            dtype=dtypes,
            budget_s=positive_seconds(self.query_one("#budget", Input).value, "budget"),
            timeout_s=positive_seconds(self.query_one("#timeout", Input).value, "timeout"),
            threads=list(parse_threads([threads_text], "threads")) if threads_text else [None],
            params=params,
            seed=whole_number(self.query_one("#seed", Input).value, "seed"),
        )
        preset = str(self.query_one("#preset", Select).value)
        preset = DEFAULT_PRESET if preset == CUSTOM_PRESET else preset  # the sizes given win anyway
        return RunRequest(selection, compose_plan(self.registry, selection, preset), preset)

    # ---- keys -----------------------------------------------------------------------------------
    def action_all_backends(self) -> None:
        backends: SelectionList[str] = self.query_one("#backends", SelectionList)
        enabled = [label for label, backend, _v in self.choices if self._availability(backend).available]
        if set(backends.selected) >= set(enabled):
            backends.deselect_all()
        else:
            for value in enabled:
                backends.select(value)

    def action_next_preset(self) -> None:
        select: Select[str] = self.query_one("#preset", Select)
        custom = select.value == CUSTOM_PRESET
        self.query_one("#sizes", Input).value = ""  # a preset replaces a custom list of sizes
        self._refresh_presets()
        names = preset_names(self.registry, self._selected_workloads() or list(self.registry.workloads))
        select.value = next_in_cycle(names, None if custom else select.value)
        self.notify(f"size preset: {select.value}", timeout=2)

    def _ticked(self, axis: str, values: tuple[str, ...]) -> list[str]:
        """The values of a row of tick boxes that are ticked; none is a one-line problem."""
        chosen = [v for v in values if self.query_one(f"#{axis}-{v}", TickBox).value]
        if not chosen:
            raise UserError(f"tick at least one {axis} ({', '.join(values)})")
        return chosen

    def action_next_dtype(self) -> None:
        """``d``: float64, float32, both, and round again."""
        ticked = tuple(v for v in DTYPES if self.query_one(f"#dtype-{v}", TickBox).value)
        cycle = [(DTYPES[0],), (DTYPES[1],), DTYPES]
        after = next_in_cycle(cycle, ticked)
        for value in DTYPES:
            self.query_one(f"#dtype-{value}", TickBox).value = value in after

    async def action_leave_field(self) -> None:
        if self.session.running:
            await self.run_action("app.cancel")
        elif isinstance(self.screen.focused, Input):
            self.query_one("#workloads").focus()


CUSTOM_PRESET = "custom"  # what Preset shows while Sizes holds a list of its own


def _ticks(label: str, axis: str, values: tuple[str, ...], ticked: list[str]) -> ComposeResult:
    """A sweep axis as one line of tick boxes (``Device  X cpu  _ cuda``): several ticked
    make a cell each, as ``--device cpu,cuda`` does."""
    with Horizontal(classes="field ticks", id=f"field-{axis}"):
        yield Label(label)
        with Horizontal(classes="boxes"):
            for value in values:
                yield TickBox(value, value in ticked, compact=True, id=f"{axis}-{value}")


def _option_id(label: str) -> str:
    return "b-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in label)

