"""Snapshot of each page on seeded demo data (pytest-textual-snapshot).

The app runs with ``stable=True`` (no times, port or job ids on screen) at a fixed size, and
``prepare_page`` waits until the page's data has arrived before the picture is taken.
Regenerate with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from synthts_tui.app import SynthtsApp
from synthts_tui.client import SynthtsClient
from synthts_tui.local_api import LocalApi
from synthts_tui.screenshots import PAGES, SCREEN_SIZE, prepare_page
from synthts_tui.widgets.param_form import ParamForm
from textual.widgets import Static

from tests.tui.tui_helpers import wait_for


@pytest.mark.parametrize("page", PAGES)
def test_page_snapshot(snap_compare, snapshot_api: LocalApi, page: str) -> None:
    with SynthtsClient(snapshot_api.url) as client:
        app = SynthtsApp(client, stable=True, start=page)
        assert snap_compare(app, terminal_size=SCREEN_SIZE,
                            run_before=lambda pilot: prepare_page(pilot, page))


def test_invalid_field_snapshot(snap_compare, snapshot_api: LocalApi) -> None:
    """The Generate page with a bad frequency: the message sits under the field."""

    async def run_before(pilot) -> None:
        await prepare_page(pilot, "generate")
        screen = pilot.app.screen
        field = screen.query_one("#signal-form", ParamForm).field("frequency")
        field.control.value = "-1"
        await wait_for(pilot, lambda: field.error, what="the field's message")
        status = screen.query_one("#preview-status", Static)
        await wait_for(pilot, lambda: "fix 1 field" in str(status.content), what="the status")
        pilot.app.set_focus(None)

    with SynthtsClient(snapshot_api.url) as client:
        app = SynthtsApp(client, stable=True, start="generate")
        assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=run_before)
