"""Training jobs in the Mongo backend: one document per job, the job itself a BSON sub-document
(``doc``) beside the fields listed and filtered on; ``update_job`` is a compare-and-swap on
``rev``, so concurrent reporters never overwrite each other and an ``if_owner`` lease check
and its write are one step."""

from __future__ import annotations

import time
from typing import Any

from mongoengine.errors import NotUniqueError
from pymongo.errors import DuplicateKeyError

from synthts_core.domain import JobSpec, Page, TrainingJob
from synthts_core.errors import BadInputError, ConflictError, NotFoundError
from synthts_core.storage_records import decode_job, listed_job
from synthts_core.storage_support import apply_job_changes, check_paging
from synthts_mongo.connection import Connection, guard
from synthts_mongo.fields import UNREADABLE, convert, from_document, to_document, unreadable


class JobStore(Connection):
    """The job methods of ``StorageBackend``."""

    @guard
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

    @guard
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

    @guard
    def get_job(self, job_id: str) -> TrainingJob:
        return self._job(self._job_doc(job_id)["doc"], job_id)

    @guard
    def list_jobs(self, *, offset: int = 0, limit: int = 50, status: str | None = None) -> Page:
        check_paging(offset, limit)
        coll = self.docs.Job._get_collection()
        filt = {} if status is None else {"status": status}
        total = coll.count_documents(filt)
        rows = coll.find(filt, {"doc": 1}).sort([("created_at", -1), ("_id", -1)]) \
            .skip(offset).limit(limit)
        return Page([self._listed_job(r["doc"], str(r["_id"])) for r in rows], total, offset,
                    limit)
