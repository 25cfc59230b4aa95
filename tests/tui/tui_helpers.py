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

    def job_events(self, job_id: str, **kw: Any) -> Any:
        """The real event stream, with ("OPEN", path) and ("CLOSE", path) in ``sent`` around
        its life, so a test can see which requests were sent while it was open."""
        stream = super().job_events(job_id, **kw)
        sent, path = self.sent, f"/jobs/{job_id}/events"

        class Recorded:
            job_id = stream.job_id

            @property
            def closed(self) -> bool:
                return stream.closed

            def close(self) -> None:
                stream.close()

            def __iter__(self):
                sent.append(("OPEN", path))
                closed = False
                try:
                    for kind, data in stream:
                        if kind == "end":  # the stream is closed before "end" is handed on
                            sent.append(("CLOSE", path))
                            closed = True
                        yield kind, data
                finally:
                    if not closed:
                        sent.append(("CLOSE", path))

        return Recorded()

    def sent_while_open(self, path: str) -> list[tuple[str, str]]:
        """Requests sent between the stream's OPEN and CLOSE (all of them if it never closed)."""
        start = self.sent.index(("OPEN", path))
        end = self.sent.index(("CLOSE", path)) if ("CLOSE", path) in self.sent else None
        return [r for r in self.sent[start + 1:end] if r[0] not in ("OPEN", "CLOSE")]


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
