"""The shared storage contract on the Mongo backend (SecantusDB on loopback, or a real mongod
when SYNTHTS_TEST_MONGO_URI is set)."""

from __future__ import annotations

import pytest

from synthts_core.testing.conformance.storage import StorageBackendConformance

pytestmark = pytest.mark.mongo


class TestMongoConformance(StorageBackendConformance):
    @pytest.fixture
    def storage(self, mongo_storage):
        return mongo_storage
