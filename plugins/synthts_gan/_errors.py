"""The core's bad-input error for the trainer modules.

The trainer runs with torch and numpy alone (the throughput benchmark runs it on a box without
synthts); there a stand-in of the same shape is raised, still a ``ValueError``.
"""

from __future__ import annotations

from typing import Any

try:
    from synthts_core.errors import BadInputError
except ImportError:  # pragma: no cover - only on a box without synthts

    class BadInputError(ValueError):  # type: ignore[no-redef]
        def __init__(self, field: str, message: str, *, allowed: str | None = None,
                     value: Any = None) -> None:
            text = f"{field}: {message}" + (f" (allowed: {allowed})" if allowed else "")
            super().__init__(text)
            self.field, self.allowed, self.value = field, allowed, value


__all__ = ["BadInputError"]
