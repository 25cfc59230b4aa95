"""One family of exceptions for everything synthts raises on purpose.

Every message names the bad input and, where there is one, the fix; ``extra`` holds the same
facts as data (``field``, ``allowed``, ``setting``...). The classes know nothing of HTTP: the
API's one error map (``synthts_core.api.problems``) gives each its status and problem title, the
CLI prints the message without a traceback.
"""

from __future__ import annotations

from typing import Any


class SynthtsError(Exception):
    """Base of every error synthts raises deliberately."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state, not by calling ``__init__`` again: subclasses take other arguments
        than the message, and Ray pickles a trial's error on its way to the driver."""
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[SynthtsError], args: tuple[Any, ...], state: dict[str, Any]
             ) -> SynthtsError:
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class BadInputError(SynthtsError, ValueError):
    """Input outside what is allowed. ``field`` names it, ``allowed`` says what would be accepted."""

    def __init__(self, field: str, message: str, *, allowed: str | None = None, value: Any = None):
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text, field=field, allowed=allowed)
        self.field = field
        self.allowed = allowed
        self.value = value


class NotFoundError(SynthtsError, LookupError):
    def __init__(self, kind: str, name: str, hint: str | None = None):
        text = f"{kind} {name!r} not found"
        if hint:
            text += f"; {hint}"
        super().__init__(text, kind=kind, name=name)
        self.kind = kind
        self.name = name


class ConflictError(SynthtsError):
    """The request clashes with what is stored (a taken name, a job already finished)."""


class LimitExceededError(SynthtsError):
    """A request asks for more than a configured limit; the message names the limit setting."""

    def __init__(self, what: str, requested: int, limit: int, setting: str):
        super().__init__(
            f"{what}: {requested} exceeds the limit of {limit} (raise {setting} to allow more)",
            limit=limit,
            requested=requested,
            setting=setting,
        )


class BackendUnavailableError(SynthtsError):
    """A server (database, tracker, Ray) cannot be reached. Never a hang: callers time out."""

    def __init__(self, backend: str, detail: str, hint: str | None = None):
        text = f"{backend} unavailable: {detail}"
        if hint:
            text += f" ({hint})"
        super().__init__(text, backend=backend)
        self.backend = backend


class CorruptDataError(SynthtsError):
    """Stored bytes no longer match their checksum: the data must not be used."""


class PluginError(SynthtsError):
    """A plugin broke a rule of the plugin contract."""


class DuplicateNameError(PluginError, ConflictError):
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
