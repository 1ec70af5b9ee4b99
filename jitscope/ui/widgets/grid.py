"""The live grid: one row per workload x backend, one column per size, each cell's state."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable

from jitscope.core.labels import cell_label
from jitscope.core.text import printable
from jitscope.core.units import fmt_size
from jitscope.ui.state import CellState, RunProgress
from jitscope.ui.themes import rgb

TONE_VARIABLES = {
    "success": "text-success",
    "warning": "text-warning",
    "error": "text-error",
    "primary": "text-primary",
    "muted": "foreground-muted",
}


def tone_style(widget: Widget, tone: str, bold: bool = False) -> Style:
    """A Rich style from the current theme's variables (no colour literals in the app)."""
    if widget.app.no_color:
        return Style(bold=bold, dim=tone == "muted")
    variables = widget.app.theme_variables
    value = variables.get(TONE_VARIABLES.get(tone, tone), variables.get("foreground", "#808080"))
    r, g, b = rgb(value, variables.get("background", "#000000"))
    return Style(color=f"rgb({r},{g},{b})", bold=bold)


CELL_WIDTH = 11  # "measure 40%", "compiling", "cancelled" and any median fit


def row_key(state: CellState) -> str:
    s = state.spec
    return f"{s.workload}|{s.backend}|{s.variant}|{s.device}|{s.dtype}"


class CellGrid(DataTable):
    """Rows: workload x backend[:variant]; columns: sizes. Update with :meth:`sync`."""

    # enter selects a cell; the Run screen turns that into "show the results".
    BINDINGS = [Binding("enter", "select_cursor", "Results", tooltip="Show the results table and plots")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="cell", zebra_stripes=False)
        self.progress: RunProgress | None = None
        self._where: dict[int, tuple[str, str]] = {}  # cell index -> (row key, column key)
        self._shown: dict[int, tuple[str, str]] = {}  # cell index -> (word, tone) last drawn
        self.following = True  # the cursor follows the running cell until the user moves it

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _t: self.redraw_all())

    def load(self, progress: RunProgress, size_labels: dict[str, str]) -> None:
        """One row per workload x backend. When every workload runs the same sizes, the
        columns are those sizes; otherwise they are size positions and each workload gets a
        muted row naming its own sizes (what ``size_labels`` calls them) above its backends."""
        self.progress = progress
        self.following = True
        self.clear(columns=True)
        self._where.clear()
        self._shown.clear()
        rows: dict[str, list[int]] = {}
        for index, state in enumerate(progress.states):
            rows.setdefault(row_key(state), []).append(index)
        workloads = list(dict.fromkeys(s.spec.workload for s in progress.states))
        sizes_of = {w: sorted({s.spec.size for s in progress.states if s.spec.workload == w}) for w in workloads}
        shared = len({tuple(v) for v in sizes_of.values()}) == 1
        width = max(len(v) for v in sizes_of.values()) if sizes_of else 0
        self.add_column("workload / backend", key="label")
        columns = [str(i) for i in range(width)]
        first_sizes = sizes_of[workloads[0]] if workloads else []
        for i in range(width):
            self.add_column(fmt_size(first_sizes[i]) if shared else f"size {i + 1}", key=str(i), width=CELL_WIDTH)
        muted = tone_style(self, "muted")
        for workload in workloads:
            sizes = sizes_of[workload]
            if not shared:
                self.add_row(Text(printable(f"{workload} ({size_labels.get(workload, 'size')})"), style=muted),
                             *[Text(fmt_size(sizes[i]) if i < len(sizes) else "", style=muted) for i in range(width)],
                             key=f"sizes|{workload}")
            for key, indices in rows.items():
                first = progress.states[indices[0]]
                if first.spec.workload != workload:
                    continue
                label = f"{workload} {cell_label(first.spec)}"
                if first.spec.dtype != "float64":
                    label += f" {first.spec.dtype}"
                cells = {c: Text("") for c in columns}
                for index in indices:
                    column = str(sizes.index(progress.states[index].spec.size))
                    self._where[index] = (key, column)
                    cells[column] = self._cell_text(progress.states[index])
                self.add_row(Text(printable(label)), *[cells[c] for c in columns], key=key)

    def _cell_text(self, state: CellState) -> Text:
        return Text(state.word, style=tone_style(self, state.tone, bold=state.done and state.tone == "error"))

    def sync(self) -> None:
        """Redraw the cells whose state changed since the last call."""
        if self.progress is None:
            return
        for index, state in enumerate(self.progress.states):
            shown = (state.word, state.tone)
            if self._shown.get(index) == shown or index not in self._where:
                continue
            self._shown[index] = shown
            row, column = self._where[index]
            self.update_cell(row, column, self._cell_text(state))

    def redraw_all(self) -> None:
        self._shown.clear()
        self.sync()

    def state_at_cursor(self) -> CellState | None:
        if self.progress is None or not self.row_count:
            return None
        try:
            row_key_, column_key = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        for index, where in self._where.items():
            if where == (row_key_.value, column_key.value):
                return self.progress.states[index]
        return None

    def action_cursor_up(self) -> None:
        self.following = False
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self.following = False
        super().action_cursor_down()

    def action_cursor_left(self) -> None:
        self.following = False
        super().action_cursor_left()

    def action_cursor_right(self) -> None:
        self.following = False
        super().action_cursor_right()

    def move_to(self, index: int) -> None:
        where = self._where.get(index)
        if where is None:
            return
        row = self.get_row_index(where[0])
        column = self.get_column_index(where[1])
        self.move_cursor(row=row, column=column, animate=False)

