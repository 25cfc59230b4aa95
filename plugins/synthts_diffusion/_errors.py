"""The core's bad-input error, or (on a box with torch and numpy alone) a ``ValueError`` that
carries the same ``field``."""

from __future__ import annotations

try:
    from synthts_core.errors import BadInputError
except ImportError:  # pragma: no cover - only where synthts is not installed

    class BadInputError(ValueError):  # type: ignore[no-redef]
        def __init__(self, field: str, message: str, *, allowed: str | None = None) -> None:
            super().__init__(f"{field}: {message}" + (f" (allowed: {allowed})" if allowed else ""))
            self.field = field


__all__ = ["BadInputError"]
