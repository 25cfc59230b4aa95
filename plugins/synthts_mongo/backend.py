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
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
from bson.errors import InvalidDocument
from mongoengine import connect, disconnect
from mongoengine.errors import NotUniqueError
from pymongo import UpdateOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    InvalidURI,
    OperationFailure,
)
from pymongo.uri_parser import parse_uri

from synthts_core.domain import (
    Dataset,
    DatasetMeta,
    DatasetQuery,
    JobSpec,
    Page,
    TrainingJob,
    check_name,
    utcnow,
)
from synthts_core.errors import (
    BackendUnavailableError,
    BadInputError,
    ConflictError,
    NotFoundError,
    SynthtsError,
)
from synthts_core.storage_records import (
    UnreadableDatasetMeta,
    decode_job,
    decode_meta,
    listed_job,
    listed_meta,
)
from synthts_core.storage_support import (
    DEFAULT_CHUNK_BYTES,
    VALUES_LAYOUT,
    CorruptDataError,
    Stream,
    apply_job_changes,
    as_imported_values,
    check_paging,
    check_query,
    check_storable,
    dataset_arrays,
    digest,
    iter_chunks,
    layout,
    read_selected,
)
from synthts_mongo.documents import SCHEMA_VERSION, Documents, bind_documents
from synthts_mongo.fields import (
    UNREADABLE,
    convert,
    from_document,
    from_json_text,
    to_document,
    unreadable,
)
from synthts_mongo.settings import MongoSettings

log = logging.getLogger("synthts.storage.mongo")

INSERT_BATCH_BYTES = 32 * 1024 * 1024
ORPHAN_AGE = timedelta(hours=1)
"""Chunks without a published dataset older than this belong to a crashed create."""
MIGRATE_BATCH = 100
"""Records read and rewritten per round trip by a migration."""

SORT_FIELDS = {
    "name": ("name",), "-name": ("-name",),
    "created_at": ("created_at", "id"), "-created_at": ("-created_at", "-id"),
    "n_series": ("n_series", "name"), "-n_series": ("-n_series", "name"),
}


F = TypeVar("F", bound=Callable[..., Any])


def _guard(method: F) -> F:
    """Turn an unreachable or refusing server into ``BackendUnavailableError``."""

    @functools.wraps(method)
    def wrapper(self: MongoStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ConnectionFailure as exc:
            raise BackendUnavailableError(
                "MongoDB storage", f"{self.safe_uri} did not answer within "
                f"{self.timeout_ms} ms ({type(exc).__name__})",
                hint="start the server or fix SYNTHTS_STORAGE / SYNTHTS_MONGO_TIMEOUT_MS") from None
        except OperationFailure as exc:
            if exc.code in (13, 18):  # Unauthorized, AuthenticationFailed
                raise BackendUnavailableError("MongoDB storage", self._refusal(exc),
                                              hint=self._refusal_hint(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


def connection_options(uri: str, settings: Any, timeout_ms: int) -> tuple[str, dict[str, Any]]:
    """Database name and mongoengine ``connect`` options (credentials from the URI win)."""
    config = MongoSettings.of(settings)
    try:
        parsed = parse_uri(uri)
    except (InvalidURI, ValueError) as exc:
        raise BadInputError("SYNTHTS_STORAGE", str(exc),
                            allowed="mongodb://[user:password@]host[:port]/database") from None
    options: dict[str, Any] = {
        "host": uri, "serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms,
        "socketTimeoutMS": max(60_000, 10 * timeout_ms), "tz_aware": True,
        "uuidRepresentation": "standard",
    }
    username = config.mongo_username
    if not parsed.get("username") and username:
        secret = config.mongo_password
        options["username"] = username
        options["password"] = secret.get_secret_value() if secret is not None else None
    if (parsed.get("username") or options.get("username")) \
            and "authsource" not in {k.lower() for k in parsed.get("options", {})}:
        # where the user is defined (``admin`` as documented), not the dataset database
        options["authSource"] = config.mongo_auth_source
    return parsed.get("database") or "synthts", options


def credentials(uri: str, options: dict[str, Any]) -> tuple[str | None, str]:
    """(user, authSource) a connection authenticates as, for messages (no password)."""
    parsed = parse_uri(uri)
    given = {k.lower(): v for k, v in parsed.get("options", {}).items()}
    user = parsed.get("username") or options.get("username")
    source = given.get("authsource") or options.get("authSource") \
        or parsed.get("database") or "admin"
    return user, str(source)


class MongoStorage:
    """A ``StorageBackend`` on a MongoDB (or MongoDB-wire) server."""

    def __init__(self, uri: str, settings: Any = None, *,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        from synthts_core.settings import mask_uri

        self.uri = uri
        self.safe_uri = mask_uri(uri)
        config = MongoSettings.of(settings)
        self.timeout_ms = config.mongo_timeout_ms
        self.chunk_bytes = chunk_bytes
        self.database, self._options = connection_options(uri, config, self.timeout_ms)
        self.username, self.auth_source = credentials(uri, self._options)
        self._docs: Documents | None = None

    def _refusal(self, exc: OperationFailure) -> str:
        """One line on who was refused what (never the password)."""
        reason = str((exc.details or {}).get("errmsg") or exc).splitlines()[0][:200]
        if self.username is None:
            return f"{self.safe_uri} requires a login: {reason}"
        who = f"user {self.username!r} (authSource {self.auth_source!r})"
        if exc.code == 18:
            return f"{self.safe_uri} refused the credentials of {who}: {reason}"
        return f"{self.safe_uri}: {who} may not use database {self.database!r}: {reason}"

    def _refusal_hint(self, exc: OperationFailure) -> str:
        if self.username is None:
            return "set SYNTHTS_MONGO_USERNAME and SYNTHTS_MONGO_PASSWORD"
        if exc.code == 18:
            return ("check SYNTHTS_MONGO_PASSWORD, and SYNTHTS_MONGO_AUTH_SOURCE if the user is "
                    "not defined in that database")
        return f"grant the user the readWrite role on {self.database!r}"

    # ------------------------------------------------------------------ lifecycle

    @property
    def docs(self) -> Documents:
        if self._docs is None:
            raise SynthtsError("MongoDB storage is not open: call open() first")
        return self._docs

    def open(self) -> None:
        if self._docs is not None:
            return
        alias = f"synthts-storage-{uuid.uuid4().hex[:12]}"
        connect(db=self.database, alias=alias, **self._options)
        self._docs = bind_documents(alias)
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    @_guard
    def _prepare(self) -> None:
        self.ping()
        for cls in self.docs.all():
            cls.ensure_indexes()
        self.migrate()
        self.sweep_orphans()

    def close(self) -> None:
        if self._docs is not None:
            disconnect(self._docs.alias)
            self._docs.forget()
            self._docs = None

    @_guard
    def ping(self) -> None:
        self.docs.Schema._get_db().command("ping")

    def migrate(self) -> None:
        """Record the schema version; refuse a database written by a newer synthts; bring an
        older one up to date, oldest step first. Every step converts record by record with a
        compare-and-swap and skips what is converted already, so a crashed migration is simply
        run again by the next open (or by two opens at once); the version is raised last.
        Datasets in an older values layout are converted on every open (a process of an older
        synthts may still have written one)."""
        coll = self.docs.Schema._get_collection()
        coll.update_one({"_id": "storage"}, {"$setOnInsert": {"version": SCHEMA_VERSION}},
                        upsert=True)
        stored = coll.find_one({"_id": "storage"})["version"]
        if stored > SCHEMA_VERSION:
            raise SynthtsError(f"database {self.database!r} uses storage schema {stored}, newer "
                               f"than this synthts understands ({SCHEMA_VERSION}); upgrade synthts")
        if stored < 2:
            converted = self._records_to_documents()
            log.info("storage schema 1 -> 2 on %r: %d records are now sub-documents",
                     self.database, converted)
            coll.update_one({"_id": "storage", "version": stored}, {"$set": {"version": 2}})
            stored = 2
        converted = self.migrate_values()
        if converted:
            log.info("%r: the values of %d datasets are now stored as imported", self.database,
                     converted)
        if stored < 3:
            coll.update_one({"_id": "storage", "version": stored}, {"$set": {"version": 3}})

    def migrate_values(self) -> int:
        """Convert every dataset stored in an older values layout (normalised values, no
        ``values_layout``) to the values as imported (``storage_support.as_imported_values``);
        returns how many changed. Like a create, the new chunks are written under a fresh
        ``upload_id`` first and the compare-and-swap of the dataset document publishes them;
        the old chunks are deleted after (a crash leaves orphans ``sweep_orphans`` removes).
        A dataset that cannot be read is left as it was: reading it names it as corrupt."""
        coll = self.docs.Dataset._get_collection()
        changed = 0
        for row in list(coll.find({"values_layout": {"$ne": VALUES_LAYOUT}}, {"_id": 1})):
            try:
                changed += self._migrate_values_of(coll, row["_id"])
            except (CorruptDataError, InvalidDocument) as exc:
                log.warning("dataset %r left in its old values layout: %s", row["_id"], exc)
        return changed

    def _migrate_values_of(self, coll: Any, doc_id: Any) -> int:
        for _ in range(100):
            doc = coll.find_one({"_id": doc_id})
            if doc is None or doc.get("values_layout") == VALUES_LAYOUT:
                return 0  # deleted, or converted by another process meanwhile
            name = str(doc.get("name"))
            new = as_imported_values(self._read(doc, self._meta(doc, name)))
            same = {"_id": doc_id, "rev": doc.get("rev"), "upload_id": doc["upload_id"]}
            if new is None:  # the identity: the stored values are the real ones
                if coll.update_one(same, {"$set": {"values_layout": VALUES_LAYOUT}}
                                   ).matched_count:
                    return 0
                continue
            upload = uuid.uuid4().hex
            try:
                self._write_chunks(new, {d["name"]: Stream.from_dict(d)
                                         for d in doc["streams"]}, upload)
                result = coll.update_one(same, {
                    "$set": {"upload_id": upload, "metadata": to_document(new.meta),
                             "values_layout": VALUES_LAYOUT},
                    "$unset": {"meta_json": ""}, "$inc": {"rev": 1}})
            except BaseException:
                self._discard(upload)
                raise
            if result.matched_count:
                self._discard(doc["upload_id"])
                return 1
            self._discard(upload)  # changed meanwhile (renamed, tagged): read it again
        raise ConflictError(f"dataset {doc_id!r} kept changing while its values were migrated; "
                            "open the storage again", name=str(doc_id))

    def _records_to_documents(self) -> int:
        """Schema 1 -> 2: ``meta_json`` -> ``metadata`` and ``doc`` JSON -> sub-document. A
        record whose JSON cannot be parsed is left as it was (reading it names it as corrupt),
        and so is one whose sub-document would be too large for BSON (readers still take the
        JSON string)."""
        converted = 0
        steps = ((self.docs.Dataset._get_collection(), "meta_json", "metadata"),
                 (self.docs.Job._get_collection(), "doc", "doc"))
        for coll, old, new in steps:
            last: Any = None
            while True:
                filt: dict[str, Any] = {} if last is None else {"_id": {"$gt": last}}
                batch = list(coll.find(filt, {old: 1}).sort("_id", 1).limit(MIGRATE_BATCH))
                if not batch:
                    break
                last = batch[-1]["_id"]
                ops = []
                for row in batch:
                    text = row.get(old)
                    if not isinstance(text, str | bytes):
                        continue  # converted already
                    try:
                        document = from_json_text(text)
                    except UNREADABLE as exc:
                        log.warning("%s %r: left as schema 1, its JSON cannot be read: %s",
                                    coll.name, row["_id"], exc)
                        continue
                    change: dict[str, Any] = {"$set": {new: document}}
                    if new != old:
                        change["$unset"] = {old: ""}
                        change["$set"]["rev"] = 0
                    ops.append(({"_id": row["_id"], old: text}, change))
                if ops:
                    converted += self._apply(coll, ops)
        return converted

    @staticmethod
    def _apply(coll: Any, ops: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
        """The batch's updates; when one is refused (too large for BSON), each on its own,
        leaving the refused ones as they are. Re-running an update is harmless: its filter
        holds the old JSON text."""
        try:
            return int(coll.bulk_write([UpdateOne(f, c) for f, c in ops],
                                       ordered=False).modified_count)
        except (BulkWriteError, InvalidDocument):  # DocumentTooLarge is an InvalidDocument
            pass
        converted = 0
        for filt, change in ops:
            try:
                converted += coll.update_one(filt, change).modified_count
            except (InvalidDocument, OperationFailure) as exc:
                log.warning("%s %r: left as schema 1, its document cannot be stored as BSON: "
                            "%s", coll.name, filt["_id"], str(exc)[:200])
        return converted

    def schema_version(self) -> int:
        return int(self.docs.Schema._get_collection().find_one({"_id": "storage"})["version"])

    @_guard
    def sweep_orphans(self, older_than: timedelta = ORPHAN_AGE) -> int:
        """Delete chunks of creates that never published (crashed processes)."""
        chunks = self.docs.Chunk._get_collection()
        datasets = self.docs.Dataset._get_collection()
        removed = 0
        for upload in chunks.distinct("upload_id", {"created_at": {"$lt": utcnow() - older_than}}):
            if datasets.find_one({"upload_id": upload}, {"_id": 1}) is None:
                removed += chunks.delete_many({"upload_id": upload}).deleted_count
        return removed

    # ------------------------------------------------------------------ datasets

    def _conflict(self, name: str) -> ConflictError:
        return ConflictError(f"dataset {name!r} already exists; choose another name or delete "
                             "it first", name=name)

    @_guard
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

    @_guard
    def get_dataset_meta(self, name: str) -> DatasetMeta:
        return self._meta(self._find(name), name)

    @_guard
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

    @_guard
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

    @_guard
    def update_dataset(self, name: str, *, new_name: str | None = None,
                       tags: list[str] | None = None,
                       description: str | None = None) -> DatasetMeta:
        changes: dict[str, Any] = {}
        if new_name is not None:
            changes["name"] = check_name(new_name, "new_name")
        if tags is not None:
            changes["tags"] = sorted({check_name(t, "tags") for t in tags})
        if description is not None:
            changes["description"] = str(description)
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

    @_guard
    def delete_dataset(self, name: str) -> None:
        doc = self.docs.Dataset._get_collection().find_one_and_delete({"name": name})
        if doc is None:
            raise NotFoundError("dataset", name)
        self._discard(doc["upload_id"])

    # ------------------------------------------------------------------ jobs

    @_guard
    def create_job(self, job: TrainingJob) -> TrainingJob:
        if not isinstance(job.id, str) or not 0 < len(job.id) <= 128:
            raise BadInputError("id", f"got {job.id!r}", allowed="1-128 characters")
        try:
            self.docs.Job(job_id=job.id, status=job.status, created_at=job.created_at,
                          updated_at=job.updated_at, rev=0,
                          doc=to_document(job)).save(force_insert=True)
        except (NotUniqueError, DuplicateKeyError):
            raise ConflictError(f"training job {job.id!r} already exists", name=job.id) from None
        return job

    def _job_doc(self, job_id: str) -> dict[str, Any]:
        doc = self.docs.Job._get_collection().find_one({"_id": job_id})
        if doc is None:
            raise NotFoundError("training job", job_id)
        return doc

    @staticmethod
    def _job(raw: Any, job_id: str) -> TrainingJob:
        if isinstance(raw, str | bytes):  # a schema 1 record the migration left
            return decode_job(raw, job_id)
        return from_document(raw, TrainingJob, f"training job {job_id!r}")

    @staticmethod
    def _listed_job(raw: Any, job_id: str) -> TrainingJob:
        if isinstance(raw, str | bytes):
            return listed_job(raw, job_id)
        try:
            return convert(raw, TrainingJob)
        except UNREADABLE as exc:
            return TrainingJob(id=job_id, spec=JobSpec(dataset="?"), status="failed",
                               errors=[unreadable(exc)])

    @_guard
    def update_job(self, job_id: str, **changes: Any) -> TrainingJob:
        """Read, change, then write only if nobody wrote in between (else read again)."""
        coll = self.docs.Job._get_collection()
        for attempt in range(1000):
            doc = self._job_doc(job_id)
            job = apply_job_changes(self._job(doc["doc"], job_id), changes)
            result = coll.update_one(
                {"_id": job_id, "rev": doc["rev"]},
                {"$set": {"status": job.status, "updated_at": job.updated_at,
                          "doc": to_document(job)}, "$inc": {"rev": 1}})
            if result.matched_count:
                return job
            time.sleep(min(0.05, 0.001 * (attempt + 1)))
        raise ConflictError(f"training job {job_id!r} kept changing; try again", name=job_id)

    @_guard
    def get_job(self, job_id: str) -> TrainingJob:
        return self._job(self._job_doc(job_id)["doc"], job_id)

    @_guard
    def list_jobs(self, *, offset: int = 0, limit: int = 50, status: str | None = None) -> Page:
        check_paging(offset, limit)
        coll = self.docs.Job._get_collection()
        filt = {} if status is None else {"status": status}
        total = coll.count_documents(filt)
        rows = coll.find(filt, {"doc": 1}).sort([("created_at", -1), ("_id", -1)]) \
            .skip(offset).limit(limit)
        return Page([self._listed_job(r["doc"], str(r["_id"])) for r in rows], total, offset,
                    limit)
