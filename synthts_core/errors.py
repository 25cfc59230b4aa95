"""One family of exceptions for everything synthts raises on purpose.

Every message names the bad input and, where there is one, the fix. The API maps each class to
one HTTP status (see ``synthts_core.api``), the CLI prints the message without a traceback.
"""

from __future__ import annotations

from typing import Any


class SynthtsError(Exception):
    """Base of every error synthts raises deliberately."""

    status_code = 500
    title = "Internal error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details (no stack trace, ever)."""
        problem: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status_code,
            "detail": self.message,
        }
        problem.update({k: v for k, v in self.extra.items() if v is not None})
        return problem


class BadInputError(SynthtsError, ValueError):
    """Input outside what is allowed. ``field`` names it, ``allowed`` says what would be accepted."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, field: str, message: str, *, allowed: str | None = None, value: Any = None):
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text, field=field, allowed=allowed)
        self.field = field
        self.allowed = allowed
        self.value = value


class NotFoundError(SynthtsError, LookupError):
    status_code = 404
    title = "Not found"

    def __init__(self, kind: str, name: str, hint: str | None = None):
        text = f"{kind} {name!r} not found"
        if hint:
            text += f"; {hint}"
        super().__init__(text, kind=kind, name=name)
        self.kind = kind
        self.name = name


class ConflictError(SynthtsError):
    status_code = 409
    title = "Conflict"


class LimitExceededError(SynthtsError):
    """A request asks for more than a configured limit; the message names the limit setting."""

    status_code = 413
    title = "Limit exceeded"

    def __init__(self, what: str, requested: int, limit: int, setting: str):
        super().__init__(
            f"{what}: {requested} exceeds the limit of {limit} (raise {setting} to allow more)",
            limit=limit,
            requested=requested,
            setting=setting,
        )


class BackendUnavailableError(SynthtsError):
    """A server (database, tracker, Ray) cannot be reached. Never a hang: callers time out."""

    status_code = 503
    title = "Backend unavailable"

    def __init__(self, backend: str, detail: str, hint: str | None = None):
        text = f"{backend} unavailable: {detail}"
        if hint:
            text += f" ({hint})"
        super().__init__(text, backend=backend)
        self.backend = backend


class PluginError(SynthtsError):
    """A plugin broke a rule of the plugin contract."""


class DuplicateNameError(PluginError, ConflictError):
    status_code = 409
    title = "Duplicate plugin name"

    def __init__(self, kind: str, name: str, first_plugin: str, second_plugin: str):
        super().__init__(
            f"{kind} {name!r} is registered by plugin {first_plugin!r} and by plugin "
            f"{second_plugin!r}; disable one with SYNTHTS_DISABLE_PLUGINS or rename it",
            kind=kind,
            name=name,
            plugins=[first_plugin, second_plugin],
        )
        self.kind = kind
        self.name = name
        self.plugins = (first_plugin, second_plugin)


class Cancelled(SynthtsError):
    """Work stopped because somebody asked for it."""

    status_code = 409
    title = "Cancelled"
