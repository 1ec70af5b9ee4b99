"""A plotext chart as a widget, drawn in the theme's colours and re-rendered from its data on
every resize, theme switch or new data (jitscope.plots starts each figure from scratch, so
log axes survive any number of redraws). Callers update it at a few Hz at most."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from jitscope.core.text import printable
from jitscope.core.units import fmt_number
from jitscope.plotkinds import Y_FORMATS, PlotData
from jitscope.plots import (
    BAR_MARKERS,
    REFERENCE_MARKER,
    Series,
    loggable,
    render,
    render_log_bars,
    series_marker,
)
from jitscope.ui.themes import PLOT_ROLES, rgb


def theme_palette(widget: Widget) -> list[tuple[int, int, int]]:
    variables = widget.app.theme_variables
    background = variables.get("background", "#000000")
    return [rgb(variables[role], background) for role in PLOT_ROLES if role in variables]


def muted_rgb(widget: Widget) -> tuple[int, int, int]:
    variables = widget.app.theme_variables
    return rgb(variables.get("foreground-muted", variables.get("foreground", "#808080")),
               variables.get("background", "#000000"))


class PlotView(Widget):
    """Shows ``series`` (each with a fixed colour index, so hiding one keeps the others'
    colours) plus reference ``extra`` lines, on log-log axes by default."""

    DEFAULT_CSS = """
    PlotView { height: 1fr; min-height: 6; color: $foreground; }
    """

    version: reactive[int] = reactive(0, layout=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._series: list[tuple[int, Series]] = []
        self._extra: list[Series] = []
        self._title = ""
        self._xlabel = ""
        self._ylabel = ""
        self._yunit = "time"
        self._empty = "(no data to plot yet)"
        self._groups: list[str] | None = None
        self._bars: list[tuple[int, Series]] = []
        self.dropped = 0
        self.renders = 0  # how many times it was painted (tests and the benchmark read it)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def show(
        self,
        series: Sequence[tuple[int, Series]],
        *,
        extra: Sequence[Series] = (),
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
        yunit: str = "time",
        empty: str = "(no data to plot yet)",
    ) -> None:
        self._series = list(series)
        self._groups, self._bars = None, []
        self._extra = list(extra)
        self._title, self._xlabel, self._ylabel, self._yunit = title, xlabel, ylabel, yunit
        self._empty = empty
        self.version += 1
        self.refresh()

    def show_bars(self, groups: Sequence[str], bars: Sequence[tuple[int, Series]], *, title: str = "",
                  empty: str = "(no data to plot yet)") -> None:
        """Grouped horizontal bars on a log axis (compile vs steady state)."""
        self._groups, self._bars = list(groups), list(bars)
        self._series, self._extra = [], []
        self._title, self._empty, self._yunit = title, empty, "time"
        self.version += 1
        self.refresh()

    def render(self) -> RenderResult:
        self.renders += 1
        width, height = self.content_size
        if width < 10 or height < 4:
            return Text("")
        palette = theme_palette(self)
        color = not self.app.no_color
        if self._groups is not None:
            if not self._groups:
                return Content.from_markup("[$text-muted]$msg", msg=self._empty)
            text = render_log_bars(self._groups, [s for _, s in self._bars], title=self._title, width=width,
                                   height=height, colors=[palette[i % len(palette)] for i, _ in self._bars],
                                   color=color, legend=False)
            return Text.from_ansi(text, no_wrap=True) if color else Text(text, no_wrap=True)
        kept, self.dropped = loggable([s for _, s in self._series])
        extra, _ = loggable(self._extra)
        if not any(s.x for s in kept):
            return Content.from_markup("[$text-muted]$msg", msg=self._empty)
        colors = [palette[i % len(palette)] for i, _ in self._series]
        text = render(
            kept,
            title=self._title,
            xlabel=self._xlabel,
            ylabel=self._ylabel,
            width=width,
            height=height,
            yfmt=Y_FORMATS.get(self._yunit, fmt_number),
            colors=colors,
            color=color,
            extra=extra,
            legend=False,
            extra_color=muted_rgb(self),
            indices=[i for i, _ in self._series],
        )
        return Text.from_ansi(text, no_wrap=True) if color else Text(text, no_wrap=True)


class Legend(Static):
    """The plot's legend on one line: ``1 ● numpy  2 ○ python`` (hidden series hollow), coloured
    like the lines, with the keys that toggle them. Without colour each entry shows the marker
    its series is drawn with (``1 • numpy  2 + python``), the only thing telling them apart."""

    DEFAULT_CSS = """
    Legend { height: auto; max-height: 2; padding: 0 1; color: $foreground; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._entries: list[tuple[int, str, bool]] = []
        self._extra: list[str] = []
        self._note = ""
        self._bars: list[tuple[int, str]] = []

    def show(self, entries: Sequence[tuple[int, str, bool]], extra: Sequence[str] = (), note: str = "",
             bars: Sequence[tuple[int, str]] = ()) -> None:
        self._entries = list(entries)
        self._extra = list(extra)
        self._note = note
        self._bars = list(bars)
        self.update(self._build())

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.update(self._build()))

    def _build(self) -> Text:
        """Labels are appended as text (never parsed as markup): they name plugins' backends."""
        palette = theme_palette(self)
        text = Text(no_wrap=False, overflow="fold")
        no_color = self.app.no_color
        for i, label in self._bars:
            style = "" if no_color else _style(palette[i % len(palette)])
            text.append(BAR_MARKERS[i % len(BAR_MARKERS)] + " ", style=style)
            text.append(printable(label) + "  ")
        for i, label, visible in self._entries:
            key = str(i + 1) if i < 9 else " "
            style = "" if no_color or self._bars else _style(palette[i % len(palette)])
            text.append(f"{key} ", style="bold")
            marker = series_marker(i, color=False) if no_color else "●"
            text.append(f"{marker} " if visible else "○ ", style=style if visible else "dim")
            text.append(printable(label), style="" if visible else "dim")
            text.append("  ")
        for label in self._extra:
            text.append(REFERENCE_MARKER * 3 + " " + printable(label) + "  ", style="dim")
        if self._note:
            text.append(self._note, style="dim italic")
        return text


def _style(color: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*color)


class Chart(Vertical):
    """A legend line above a plot; :meth:`draw` shows one PlotData with some series hidden.
    Series keep the colour of their position in ``labels`` whatever is hidden."""

    ALLOW_MAXIMIZE = True  # the Results screen zooms it with m
    DEFAULT_CSS = """
    Chart { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Legend()
        yield PlotView()

    def draw(self, data: PlotData, labels: Sequence[str], hidden: set[str], title: str, empty: str) -> None:
        title = printable(title)  # it names a workload, which a plugin may call anything
        index = {label: i for i, label in enumerate(labels)}
        plot = self.query_one(PlotView)
        legend = self.query_one(Legend)
        if data.groups is not None:
            plot.show_bars(data.group_names(hidden), list(enumerate(data.shown_bars(hidden))), title=title + (f" ({data.note})" if data.note else ""),
                           empty=empty)
            legend.show([(index[g], g, g not in hidden) for g in labels if g in index], note="",
                        bars=[(i, b.label) for i, b in enumerate(data.bars)])
            return
        if data.own_labels:  # the threads and dtype plots name their series themselves
            labels = [s.label for s in data.series]
            index = {label: i for i, label in enumerate(labels)}
        series = [(index.get(s.label, len(labels)), s) for s in data.series if s.label not in hidden]
        plot.show(series, extra=data.extra, title=title, xlabel=data.xlabel, ylabel=data.ylabel,
                  yunit=data.yunit, empty=data.note or empty)
        dropped = f"{plot.dropped} point(s) <= 0 not drawn" if plot.dropped else ""
        legend.show([(i, label, label not in hidden) for i, label in enumerate(labels)],
                    [s.label for s in data.extra], note=dropped)
