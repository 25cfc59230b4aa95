"""Fixtures for the storage tests: a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SMALL_CHUNK = 1000
"""Bytes per chunk in the tests: small, and not a multiple of a series, so sliced reads cross
chunk boundaries the way they do on 100-million-value datasets."""


@pytest.fixture
def small_chunk() -> int:
    return SMALL_CHUNK


@pytest.fixture
def mongo_storage(fresh_mongo_uri: str) -> Iterator[object]:
    from synthts_mongo.backend import MongoStorage

    from synthts_core.settings import Settings

    backend = MongoStorage(fresh_mongo_uri, Settings(_env_file=None), chunk_bytes=SMALL_CHUNK)
    backend.open()
    yield backend
    backend.close()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'synthts.db'}"


@pytest.fixture
def sqlite_storage(sqlite_uri: str) -> Iterator[object]:
    from synthts_sqlite.backend import SqliteStorage

    backend = SqliteStorage(sqlite_uri, chunk_bytes=SMALL_CHUNK)
    backend.open()
    yield backend
    backend.close()
