"""Entry point of the built-in mongo plugin: MongoDB storage through mongoengine."""

from __future__ import annotations

from typing import Any

from synthts_core import hookimpl
from synthts_core.registry import StorageBackendInfo


def make_backend(uri: str, settings: Any) -> Any:
    """Factory for ``mongodb://`` and ``mongodb+srv://`` URIs (mongoengine imported only here)."""
    from synthts_mongo.backend import MongoStorage

    return MongoStorage(uri, settings)


@hookimpl
def register_storage_backends(registry) -> None:
    registry.add(StorageBackendInfo(
        "mongodb", make_backend, "MongoDB server through mongoengine; arrays in chunk documents."))


@hookimpl
def register_settings(registry) -> None:
    from synthts_mongo.settings import MongoSettings

    registry.add(MongoSettings)
