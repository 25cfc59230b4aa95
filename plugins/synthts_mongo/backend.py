"""MongoDB storage through mongoengine, for deployments that already run a Mongo server.

Arrays go into chunk documents (raw little-endian bytes, a few MiB each), so a dataset is not
limited by the 16 MiB document cap. A create writes every chunk under a fresh ``upload_id``
first and then inserts the metadata document: that insert is the commit point, so readers and
lists never see a half-written dataset; a failed create deletes its chunks, and chunks left by a
crashed process are swept when a backend opens. A down server raises
``BackendUnavailableError`` after ``SYNTHTS_MONGO_TIMEOUT_MS``; pymongo reconnects by itself
once the server is back. Dataset metadata and jobs are BSON sub-documents (``fields``), so
they can be queried in Mongo; ``migrate`` converts a database written by an older synthts,
the normalised values it stored included (to the values as imported, ``migrate_values``).

The backend is assembled from rooms of one job each: ``connection`` (URI, options, the guard
against a down or refusing server), ``chunks`` (arrays in chunk documents), ``datasets``,
``jobs``, ``migrations``; ``documents`` and ``fields`` define what is stored.
"""

from __future__ import annotations

from synthts_mongo.connection import guard
from synthts_mongo.jobs import JobStore
from synthts_mongo.migrations import SchemaMigrations


class MongoStorage(SchemaMigrations, JobStore):
    """A ``StorageBackend`` on a MongoDB (or MongoDB-wire) server."""

    def open(self) -> None:
        if self._docs is not None:
            return
        self.connect()
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    @guard
    def _prepare(self) -> None:
        self.ping()
        for cls in self.docs.all():
            cls.ensure_indexes()
        self.migrate()
        self.sweep_orphans()
