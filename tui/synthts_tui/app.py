"""The synthts terminal UI: six pages over one API client.

Everything slow runs in thread workers on the pages; the app only wires pages, keys and the
command palette together.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from synthts_tui.client import SynthtsClient
from synthts_tui.screens.base import BaseScreen
from synthts_tui.screens.datasets import DatasetsScreen
from synthts_tui.screens.evaluate import EvaluateScreen
from synthts_tui.screens.generate import GenerateScreen
from synthts_tui.screens.home import HomeScreen
from synthts_tui.screens.models import ModelsScreen
from synthts_tui.screens.train import TrainScreen


class SynthtsApp(App[None]):
    """``client`` talks to the API. ``stable`` hides what changes from run to run (times,
    the API's port, job ids) so snapshot tests and README screenshots are reproducible;
    ``poll_interval`` is how often running jobs are re-read."""

    TITLE = "synthts"
    SUB_TITLE = "synthetic time series"
    CSS_PATH = ["styles/app.tcss", "styles/forms.tcss", "styles/pages.tcss"]
    PAGES: ClassVar[tuple[type[BaseScreen], ...]] = (
        HomeScreen, GenerateScreen, DatasetsScreen, TrainScreen, ModelsScreen, EvaluateScreen)
    """The pages in order. Their modes, keys 1-6, tabs and command palette entries all come
    from here (each page names its ``MODE`` and ``LABEL``)."""
    MODES = {page.MODE: page for page in PAGES}
    BINDINGS = [
        *(Binding(str(i), f"go('{page.MODE}')", page.LABEL, show=False)
          for i, page in enumerate(PAGES, start=1)),
        Binding("f1", "toggle_help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, client: SynthtsClient, *, stable: bool = False,
                 poll_interval: float = 1.0, start: str = "home") -> None:
        super().__init__()
        self.client = client
        self.stable = stable
        self.poll_interval = poll_interval
        self.start_mode = start
        if not stable:
            self.sub_title = client.base_url

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)

    def action_go(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for i, page in enumerate(self.PAGES, start=1):
            yield SystemCommand(f"Go to {page.LABEL}", f"Open the {page.LABEL} page (key {i})",
                                partial(self.action_go, page.MODE))
