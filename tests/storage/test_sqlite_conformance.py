"""The shared storage contract on the embedded SQLite backend."""

from __future__ import annotations

import pytest

from synthts_core.testing.conformance.storage import StorageBackendConformance


class TestSqliteConformance(StorageBackendConformance):
    @pytest.fixture
    def storage(self, sqlite_storage):
        return sqlite_storage
