"""Entry point of the built-in sqlite plugin: the embedded default storage."""

from __future__ import annotations

from typing import Any

from synthts_core import hookimpl


def make_backend(uri: str, settings: Any) -> Any:
    """Factory the runtime calls for ``sqlite:///...`` URIs (import deferred until used)."""
    from synthts_sqlite.backend import SqliteStorage

    return SqliteStorage(uri)


@hookimpl
def register_storage_backends(registry) -> None:
    registry.add_backend("sqlite", make_backend,
                         "Embedded default: one SQLite file (WAL) in the data folder, no server.")
