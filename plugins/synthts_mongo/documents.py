"""mongoengine documents and indexes of the Mongo storage backend.

The classes here are abstract; ``bind_documents(alias)`` makes concrete ones tied to one
connection alias, so two backends in one process (API + tests, two databases) never share
mongoengine's global default connection.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mongoengine import Document
from mongoengine.base import _document_registry
from mongoengine.fields import (
    BinaryField,
    DateTimeField,
    DictField,
    IntField,
    ListField,
    StringField,
)

SCHEMA_VERSION = 3
"""Bump when stored documents change shape, and add a migration step in
``migrations.SchemaMigrations.migrate``. 1: dataset metadata and jobs as JSON strings
(``meta_json``, ``doc``). 2: as BSON sub-documents (``metadata``, ``doc``; see ``fields``),
datasets with a ``rev``. 3: datasets record their ``values_layout``
(``storage_support.VALUES_LAYOUT``); one without it holds the normalised values of an earlier
synthts."""

DATASETS = "synthts_datasets"
CHUNKS = "synthts_dataset_chunks"
JOBS = "synthts_jobs"
SCHEMA = "synthts_schema"


class DatasetDocumentBase(Document):
    """Published dataset metadata. Exists only once all its chunks are written: the insert of
    this document is the commit point of a create. ``metadata`` is the whole ``DatasetMeta`` as
    a sub-document (query it: ``{"metadata.spec.generator": ...}``); ``rev`` makes updates
    compare-and-swap."""

    meta = {"abstract": True}

    name = StringField(required=True)
    created_at = DateTimeField(required=True)
    n_series = IntField(required=True, min_value=1)
    source = StringField(required=True)
    tags = ListField(StringField())
    generators = ListField(StringField())
    label_names = ListField(StringField())
    upload_id = StringField(required=True)
    streams = ListField(DictField())
    metadata = DictField(required=True)
    rev = IntField(required=True, default=0)
    meta_json = StringField()  # schema 1; kept only on a record the migration could not read
    values_layout = IntField()  # schema 3; missing on the datasets of earlier schemas


class ChunkDocumentBase(Document):
    """One chunk of one array (values, labels, times or lengths) of one upload, raw
    little-endian."""

    meta = {"abstract": True}

    upload_id = StringField(required=True)
    stream = StringField(required=True)
    idx = IntField(required=True, min_value=0)
    digest = StringField(required=True)
    data = BinaryField(required=True)
    created_at = DateTimeField(required=True)


class JobDocumentBase(Document):
    """A training job as a sub-document (``doc``: query it, ``{"doc.spec.dataset": ...}``) plus
    the fields listed and filtered on. ``rev`` makes updates compare-and-swap, so concurrent
    reporters never overwrite each other."""

    meta = {"abstract": True}

    job_id = StringField(primary_key=True)
    status = StringField(required=True)
    created_at = DateTimeField(required=True)
    updated_at = DateTimeField(required=True)
    rev = IntField(required=True, default=0)
    doc = DictField(required=True)  # a JSON string in schema 1 (left so when unreadable)


class SchemaDocumentBase(Document):
    meta = {"abstract": True}

    key = StringField(primary_key=True)
    version = IntField(required=True)


@dataclass
class Documents:
    """Concrete document classes bound to one connection alias."""

    alias: str
    Dataset: type[Document]
    Chunk: type[Document]
    Job: type[Document]
    Schema: type[Document]

    def all(self) -> tuple[type[Document], ...]:
        return (self.Dataset, self.Chunk, self.Job, self.Schema)

    def forget(self) -> None:
        """Drop the classes from mongoengine's registry when the backend closes."""
        for cls in self.all():
            _document_registry.pop(cls._class_name, None)


_counter = itertools.count()


def bind_documents(alias: str) -> Documents:
    n = next(_counter)

    def make(base: type[Document], collection: str, indexes: list) -> type[Document]:
        meta = {"db_alias": alias, "collection": collection, "indexes": indexes,
                "auto_create_index": False}
        return type(f"{base.__name__.removesuffix('Base')}_{n}", (base,), {"meta": meta})

    return Documents(
        alias,
        make(DatasetDocumentBase, DATASETS, [
            {"fields": ["name"], "unique": True},
            "-created_at", "n_series", "tags", "generators", "label_names", "upload_id",
        ]),
        make(ChunkDocumentBase, CHUNKS, [
            {"fields": ["upload_id", "stream", "idx"], "unique": True},
            "created_at",
        ]),
        make(JobDocumentBase, JOBS, [("status", "-updated_at"), "-updated_at", "-created_at"]),
        make(SchemaDocumentBase, SCHEMA, []),
    )
