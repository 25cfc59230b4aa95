"""Entry point of the built-in mongo plugin: MongoDB storage through mongoengine."""

from __future__ import annotations

from typing import Any

from synthts_core import hookimpl


def make_backend(uri: str, settings: Any) -> Any:
    """Factory for ``mongodb://`` and ``mongodb+srv://`` URIs (mongoengine imported only here)."""
    from synthts_mongo.backend import MongoStorage

    return MongoStorage(uri, settings)


@hookimpl
def register_storage_backends(registry) -> None:
    registry.add_backend("mongodb", make_backend,
                         "MongoDB server through mongoengine; arrays in chunk documents.")
