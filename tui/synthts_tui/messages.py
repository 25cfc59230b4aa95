"""Messages that thread workers post back to their screens.

Workers never touch widgets: they fetch, then post one of these (``post_message`` is
thread-safe) and the screen's handler updates the UI on the event loop.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class Loaded(Message):
    """Result of one API call: ``what`` names it (a screen dispatches on it), ``data`` is the
    decoded JSON and ``extra`` the request context the handler needs (e.g. which dataset)."""

    def __init__(self, what: str, data: Any = None, **extra: Any) -> None:
        super().__init__()
        self.what = what
        self.data = data
        self.extra = extra


class Notice(Message):
    """A short success message to show as a toast."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
