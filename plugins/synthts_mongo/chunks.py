"""Arrays in chunk documents: a dataset's values, labels, times and lengths as raw little-endian
chunks of a few MiB (so a dataset is not limited by the 16 MiB document cap), each with its
digest, all under one ``upload_id``. A create or a values migration writes a fresh upload before
it publishes it; chunks of an upload nobody published (a crashed process) are swept."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from pymongo.errors import ConnectionFailure

from synthts_core.domain import Dataset, DatasetMeta, utcnow
from synthts_core.storage_support import (
    DEFAULT_CHUNK_BYTES,
    Stream,
    dataset_arrays,
    digest,
    iter_chunks,
    read_selected,
)
from synthts_mongo.connection import Connection, guard

INSERT_BATCH_BYTES = 32 * 1024 * 1024
ORPHAN_AGE = timedelta(hours=1)
"""Chunks without a published dataset older than this belong to a crashed create."""


class ChunkStore(Connection):
    """Writes, reads, discards and sweeps the chunks of uploads."""

    def __init__(self, uri: str, settings: Any = None, *,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(uri, settings)
        self.chunk_bytes = chunk_bytes

    def _write_chunks(self, dataset: Dataset, streams: dict[str, Stream], upload: str) -> None:
        """Every chunk of ``dataset`` under ``upload``, in batches of INSERT_BATCH_BYTES."""
        arrays = dataset_arrays(dataset)
        chunks = self.docs.Chunk._get_collection()
        now = utcnow()
        batch: list[dict[str, Any]] = []
        size = 0
        for name, stream in streams.items():
            for k, chunk in iter_chunks(arrays[name], stream):
                batch.append({"upload_id": upload, "stream": name, "idx": k,
                              "digest": digest(chunk), "data": bytes(chunk), "created_at": now})
                size += len(chunk)
                if size >= INSERT_BATCH_BYTES:
                    chunks.insert_many(batch, ordered=True)
                    batch, size = [], 0
        if batch:
            chunks.insert_many(batch, ordered=True)

    def _discard(self, upload: str) -> None:
        """Best effort: if the server is gone too, ``sweep_orphans`` finishes the job later."""
        with contextlib.suppress(ConnectionFailure):
            self.docs.Chunk._get_collection().delete_many({"upload_id": upload})

    def _read(self, doc: dict[str, Any], meta: DatasetMeta, **selection: Any) -> Dataset:
        """The values of a dataset document's upload (whole or ``selection``), verified."""
        streams = {d["name"]: Stream.from_dict(d) for d in doc["streams"]}
        chunks = self.docs.Chunk._get_collection()
        upload = doc["upload_id"]

        def fetch(stream: str, indices: list[int]) -> dict[int, tuple[bytes, str]]:
            found = chunks.find({"upload_id": upload, "stream": stream, "idx": {"$in": indices}},
                                {"idx": 1, "data": 1, "digest": 1, "_id": 0})
            return {c["idx"]: (c["data"], c["digest"]) for c in found}

        return read_selected(meta, streams, fetch, **selection)

    @guard
    def sweep_orphans(self, older_than: timedelta = ORPHAN_AGE) -> int:
        """Delete chunks of creates that never published (crashed processes)."""
        chunks = self.docs.Chunk._get_collection()
        datasets = self.docs.Dataset._get_collection()
        removed = 0
        for upload in chunks.distinct("upload_id", {"created_at": {"$lt": utcnow() - older_than}}):
            if datasets.find_one({"upload_id": upload}, {"_id": 1}) is None:
                removed += chunks.delete_many({"upload_id": upload}).deleted_count
        return removed
