"""Schema migrations of the Mongo backend, run by every open: record the schema version, refuse
a newer one, convert schema 1 records (JSON strings) to sub-documents in batches, and bring
datasets stored in an older values layout to the values as imported. Every step is a
compare-and-swap that skips what is converted already, so a crashed migration is simply run
again by the next open."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from bson.errors import InvalidDocument
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure

from synthts_core.errors import ConflictError, SynthtsError
from synthts_core.storage_support import (
    VALUES_LAYOUT,
    CorruptDataError,
    Stream,
    as_imported_values,
)
from synthts_mongo.datasets import DatasetStore
from synthts_mongo.documents import SCHEMA_VERSION
from synthts_mongo.fields import UNREADABLE, from_json_text, to_document

log = logging.getLogger("synthts.storage.mongo")

MIGRATE_BATCH = 100
"""Records read and rewritten per round trip by a migration."""


class SchemaMigrations(DatasetStore):
    """Brings a database written by an older synthts up to ``SCHEMA_VERSION``."""

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
