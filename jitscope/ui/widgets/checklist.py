"""A SelectionList, and a Checkbox, whose box is blank when unchecked.

Textual's SelectionList and Checkbox draw the same "X" for checked and unchecked items and tells them
apart by colour alone, so under NO_COLOR (or a monochrome terminal) every item looks
selected. This keeps the colours and also makes the state visible as a glyph.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.style import Style
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

# The glyph SelectionList draws inside its box: the toggle buttons' (Checkbox is one, and the
# public way to name it).
BUTTON_INNER = Checkbox.BUTTON_INNER


class CheckList(SelectionList[str]):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        _, scroll_y = self.scroll_offset
        try:
            selection = self.get_option_at_index(scroll_y + y)
        except OptionDoesNotExist:
            return strip
        if selection.value in self.selected:
            return strip
        segments = list(strip)
        if len(segments) > 1 and segments[1].text == BUTTON_INNER:
            segments[1] = Segment(" " * len(BUTTON_INNER), segments[1].style)
            return Strip(segments, strip.cell_length)
        return strip


class TickBox(Checkbox):
    """A Checkbox that shows ``X`` only when ticked (Textual's shows it both ways, in another
    colour): the export dialog's "also JSON" must read the same with or without colour."""

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        side_style = Style(foreground=button_style.background, background=self.background_colors[1])
        inner = self.BUTTON_INNER if self.value else " " * len(self.BUTTON_INNER)
        return Content.assemble((self.BUTTON_LEFT, side_style), (inner, button_style), (self.BUTTON_RIGHT, side_style))
