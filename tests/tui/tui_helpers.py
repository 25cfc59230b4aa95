"""Helpers shared by the TUI tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from synthts_tui.client import SynthtsClient


class CountingClient(SynthtsClient):
    """The real client, remembering every request it sends (method, path), so a test can
    assert that an invalid form sent nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str]] = []

    def _request(self, method: str, path: str, **kw: Any):  # type: ignore[override]
        self.sent.append((method, path))
        return super()._request(method, path, **kw)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent if m != "GET"]


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0,
                   what: str = "condition", *, fail_on_error: bool = True) -> Any:
    """Let the app run until ``predicate()`` is truthy (workers are threads: poll, don't guess).

    An error dialog appearing meanwhile fails at once with the API's message, unless the test
    expects one (``fail_on_error=False``)."""
    from synthts_tui.widgets.dialogs import ErrorDialog

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        screen = pilot.app.screen
        if fail_on_error and isinstance(screen, ErrorDialog):
            raise AssertionError(f"waiting for {what}, the app showed an error: "
                                 f"{screen.title_text}: {screen.message}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)
        await asyncio.sleep(0.05)
