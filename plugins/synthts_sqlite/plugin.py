"""Entry point of the built-in sqlite plugin: the embedded default storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthts_core import hookimpl
from synthts_core.registry import StorageBackendInfo

if TYPE_CHECKING:
    from synthts_core.interfaces import StorageBackend
    from synthts_core.registry import StorageRegistry
    from synthts_core.settings import Settings


def make_backend(uri: str, settings: Settings) -> StorageBackend:
    """Factory the runtime calls for ``sqlite:///...`` URIs (import deferred until used).
    Opening makes the file's folder (the default URI is a file in the data folder)."""
    from synthts_sqlite.backend import SqliteStorage

    return SqliteStorage(uri)


@hookimpl
def register_storage_backends(registry: StorageRegistry) -> None:
    registry.add(StorageBackendInfo(
        "sqlite", make_backend,
        "Embedded default: one SQLite file (WAL) in the data folder, no server."))
