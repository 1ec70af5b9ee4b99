"""Setup: what to run. The screen is drawn at once as a skeleton (the app's first frame);
the form itself (:mod:`jitscope.ui.screens.setup_form`) takes its place as soon as the
registry has been loaded in the background. Versions arrive later still, from probes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from jitscope.ui.shared_state import SessionScreen
from jitscope.ui.widgets.footer import FitFooter
from jitscope.ui.widgets.modebar import ModeBar

if TYPE_CHECKING:
    from jitscope.core.registry import Registry

LOADING = "loading…"


class SetupScreen(SessionScreen):
    """Its keys are the form's (r runs what the form shows, so it appears with the form)."""

    def compose(self) -> ComposeResult:
        yield ModeBar("setup")
        with Horizontal(id="setup-body"):  # the form's layout, with nothing in it yet
            with Vertical(id="setup-left"):
                for title, box_id in (("Workloads", "workloads-placeholder"), ("Backends", "backends-placeholder")):
                    box = Static(LOADING, id=box_id, classes="placeholder")
                    box.border_title = title
                    yield box
            box = Static(LOADING, id="options-placeholder", classes="placeholder")
            box.border_title = "Options"
            yield box
        yield FitFooter(show_command_palette=False)

    def on_mount(self) -> None:
        registry = self.session.registry
        if registry is not None:
            self.call_after_refresh(self._show_form, registry)
        # Every registry from now on: the first (loaded after the first frame) and each
        # user file (re)loaded from the app, which rebuilds the form around it.
        self.session.registry_ready.subscribe(self, self._show_form)

    async def _show_form(self, registry: Registry) -> None:
        # Imported here, not at the top: the form needs the planner, which loads NumPy, and
        # the first frame needs neither (the app has imported it already, in a thread).
        from jitscope.ui.screens.setup_form import SetupForm

        shown = self.query(SetupForm)
        if shown and shown.first().registry is registry:
            return
        await self.query_one("#setup-body").remove()
        await self.mount(SetupForm(registry, self.session, id="setup-body"), before=self.query_one(Footer))
