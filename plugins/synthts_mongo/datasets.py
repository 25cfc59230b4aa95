"""Datasets in the Mongo backend: create (chunks first, then the metadata document as the
commit point), read (whole or sliced, verified), list with filters and sorting, rename and
retag (compare-and-swap on ``rev``), delete. The metadata is a BSON sub-document (``fields``)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import msgspec
from mongoengine.errors import NotUniqueError
from pymongo.errors import DuplicateKeyError

from synthts_core.domain import Dataset, DatasetMeta, DatasetQuery, Page, check_name
from synthts_core.errors import ConflictError, NotFoundError
from synthts_core.storage_records import UnreadableDatasetMeta, decode_meta, listed_meta
from synthts_core.storage_support import (
    VALUES_LAYOUT,
    CorruptDataError,
    check_query,
    check_storable,
    dataset_changes,
    layout,
)
from synthts_mongo.chunks import ChunkStore
from synthts_mongo.connection import guard
from synthts_mongo.fields import UNREADABLE, convert, from_document, to_document, unreadable

SORT_FIELDS = {
    "name": ("name",), "-name": ("-name",),
    "created_at": ("created_at", "id"), "-created_at": ("-created_at", "-id"),
    "n_series": ("n_series", "name"), "-n_series": ("-n_series", "name"),
}


class DatasetStore(ChunkStore):
    """The dataset methods of ``StorageBackend``."""

    def _conflict(self, name: str) -> ConflictError:
        return ConflictError(f"dataset {name!r} already exists; choose another name or delete "
                             "it first", name=name)

    @guard
    def create_dataset(self, dataset: Dataset) -> DatasetMeta:
        check_name(dataset.meta.name)
        meta = check_storable(dataset)
        if self.docs.Dataset.objects(name=meta.name).count():
            raise self._conflict(meta.name)
        streams = layout(dataset, self.chunk_bytes)
        upload = uuid.uuid4().hex
        try:
            self._write_chunks(dataset, streams, upload)
            self.docs.Dataset(
                name=meta.name, created_at=meta.created_at, n_series=meta.n_series,
                source=meta.source, tags=meta.tags, generators=meta.generators,
                label_names=meta.label_names, upload_id=upload,
                streams=[s.to_dict() for s in streams.values()],
                metadata=to_document(meta), rev=0, values_layout=VALUES_LAYOUT,
            ).save(force_insert=True)
        except BaseException as exc:
            self._discard(upload)
            if isinstance(exc, NotUniqueError | DuplicateKeyError):
                raise self._conflict(meta.name) from None
            raise
        return meta

    def _find(self, name: str) -> dict[str, Any]:
        doc = self.docs.Dataset._get_collection().find_one({"name": name})
        if doc is None:
            raise NotFoundError("dataset", name, hint="`synthts datasets list` shows what exists")
        return doc

    @staticmethod
    def _meta(doc: dict[str, Any], name: str) -> DatasetMeta:
        if "metadata" in doc:
            return from_document(doc["metadata"], DatasetMeta, f"dataset {name!r}")
        return decode_meta(doc["meta_json"], name)  # a schema 1 record the migration left

    @staticmethod
    def _listed_meta(doc: dict[str, Any]) -> DatasetMeta:
        name, n_series = str(doc.get("name", "?")), int(doc.get("n_series") or 0)
        if "metadata" not in doc:
            return listed_meta(doc.get("meta_json") or "", name, n_series)
        try:
            return convert(doc["metadata"], DatasetMeta)
        except UNREADABLE as exc:
            return UnreadableDatasetMeta(name=name, n_series=n_series, n_channels=0, length=0,
                                         error=unreadable(exc))

    @guard
    def get_dataset_meta(self, name: str) -> DatasetMeta:
        return self._meta(self._find(name), name)

    @guard
    def read_dataset(self, name: str, *, series: slice | list[int] | None = None,
                     labels: list[int] | None = None,
                     channels: list[int] | None = None) -> Dataset:
        doc = self._find(name)
        selection = {"series": series, "labels": labels, "channels": channels}
        try:
            return self._read(doc, self._meta(doc, name), **selection)
        except CorruptDataError:
            current = self.docs.Dataset._get_collection().find_one({"name": name})
            if current is None:
                raise NotFoundError("dataset", name,
                                    hint="it was deleted while being read") from None
            if current["upload_id"] == doc["upload_id"]:
                raise
        # its chunks were replaced while being read (its values migrated by another process,
        # or the name deleted and stored again): read what the name holds now
        return self._read(current, self._meta(current, name), **selection)

    @guard
    def list_datasets(self, query: DatasetQuery) -> Page:
        check_query(query)
        qs = self.docs.Dataset.objects
        if query.name_contains:
            qs = qs.filter(__raw__={"name": {"$regex": re.escape(query.name_contains),
                                              "$options": "i"}})
        if query.tags:
            qs = qs.filter(tags__all=list(query.tags))
        if query.generator:
            qs = qs.filter(generators=query.generator)
        if query.label:
            qs = qs.filter(label_names=query.label)
        if query.source:
            qs = qs.filter(source=query.source)
        total = qs.count()
        rows = qs.order_by(*SORT_FIELDS[query.sort]).skip(query.offset).limit(query.limit)
        items = [self._listed_meta(d) for d in
                 rows.only("metadata", "meta_json", "name", "n_series").as_pymongo()]
        return Page(items, total, query.offset, query.limit)

    @guard
    def update_dataset(self, name: str, *, new_name: str | None = None,
                       tags: list[str] | None = None,
                       description: str | None = None) -> DatasetMeta:
        changes = dataset_changes(new_name, tags, description)
        coll = self.docs.Dataset._get_collection()
        for _ in range(100):
            doc = self._find(name)
            meta = msgspec.structs.replace(self._meta(doc, name), **changes)
            try:
                result = coll.update_one(
                    {"_id": doc["_id"], "rev": doc.get("rev")},
                    {"$set": {"name": meta.name, "tags": meta.tags,
                              "metadata": to_document(meta)},
                     "$unset": {"meta_json": ""}, "$inc": {"rev": 1}})
            except DuplicateKeyError:
                raise self._conflict(meta.name) from None
            if result.matched_count:
                return meta
            time.sleep(0.01)
        raise ConflictError(f"dataset {name!r} kept changing; try again", name=name)

    @guard
    def delete_dataset(self, name: str) -> None:
        doc = self.docs.Dataset._get_collection().find_one_and_delete({"name": name})
        if doc is None:
            raise NotFoundError("dataset", name)
        self._discard(doc["upload_id"])
