"""Keys, mouse and the command palette move between pages; typing digits into a field types
them rather than switching pages; the help panel opens and closes."""

from __future__ import annotations

from synthts_tui.app import SynthtsApp
from synthts_tui.client import SynthtsClient
from synthts_tui.local_api import LocalApi
from synthts_tui.screens.datasets import DatasetsScreen
from synthts_tui.screens.generate import GenerateScreen
from synthts_tui.screens.home import HomeScreen
from synthts_tui.screens.models import ModelsScreen
from synthts_tui.widgets.dialogs import ErrorDialog
from textual.command import CommandPalette
from textual.widgets import Input

from synthts_core.ports import free_port
from tests.tui.tui_helpers import wait_for


async def test_keys_mouse_palette_and_help(snapshot_api: LocalApi) -> None:
    with SynthtsClient(snapshot_api.url) as client:
        app = SynthtsApp(client, stable=True)
        async with app.run_test(size=(150, 46)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="Home")

            await pilot.press("5")
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen), what="Models")

            await pilot.click("#nav-datasets")  # the mouse works on the navigation tabs
            await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen),
                           what="Datasets after a click")

            search = app.screen.query_one("#search", Input)
            search.focus()
            await pilot.press("h", "e", "2", "3")  # "e" is Export, digits switch pages
            assert search.value == "he23"
            assert isinstance(app.screen, DatasetsScreen)

            await pilot.press("escape")
            app.set_focus(None)
            await pilot.press("f1")
            await wait_for(pilot, lambda: app.screen.query("HelpPanel"), what="the help panel")
            await pilot.press("f1")
            await wait_for(pilot, lambda: not app.screen.query("HelpPanel"),
                           what="the help panel to close")

            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette),
                           what="the command palette")
            await pilot.press(*"go to generate")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, GenerateScreen),
                           what="Generate from the palette")


async def test_an_unreachable_api_shows_a_dialog_not_a_crash() -> None:
    """Nothing listens on the port: every page still draws, and the failure is explained."""
    with SynthtsClient(f"http://127.0.0.1:{free_port()}", timeout=5) as client:
        app = SynthtsApp(client, stable=True)
        async with app.run_test(size=(150, 46)) as pilot:
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog)
                                    and app.screen, what="the error dialog",
                                    fail_on_error=False)
            assert dialog.title_text == "Cannot reach the API"
            assert "cannot reach the API at http://127.0.0.1:" in dialog.message
            while isinstance(app.screen, ErrorDialog):  # one per failed call
                await pilot.press("escape")
                await pilot.pause(0.1)
            assert isinstance(app.screen, HomeScreen)
