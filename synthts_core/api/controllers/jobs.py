"""Training jobs: submit (202 + id, the search runs on Ray Tune in the background), list, get
per-trial progress, cancel, and follow progress as server-sent events. Also the catalogue of
Model architectures with their hyper-parameter spaces, which a job form is built from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import anyio
import msgspec
from litestar import Controller, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from synthts_core.api import encoding
from synthts_core.api.links import linked
from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    ArchitectureList,
    ArchitectureRead,
    JobCreate,
    JobEvent,
    JobPage,
    JobRead,
    PageInfo,
    catalogue_read,
)
from synthts_core.api.schemas.models import JobFail
from synthts_core.api.security import WRITE_SECURITY
from synthts_core.services.catalogue import CatalogueService
from synthts_core.services.jobs import JobService

JobId = Parameter(max_length=128, description="Job id as returned by POST /jobs")
KEEPALIVE_S = 15.0


class JobsController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @post("/", operation_id="submitJob", sync_to_thread=True, status_code=202,
          security=WRITE_SECURITY, responses=problems(401, 404, 415, 503),
          operation_class=linked("submitJob"))
    def submit_job(self, jobs: JobService, data: JobCreate) -> Response[JobRead]:
        """Validate and record a training job, start it in the background and answer 202 at
        once with its id; follow it with GET /jobs/{id} or /jobs/{id}/events."""
        job = jobs.submit(jobs.spec(msgspec.to_builtins(data)), start=True)
        location = f"/api/v1/jobs/{job.id}"
        return Response(_read(jobs, jobs.get(job.id)), status_code=202,
                        headers={"Location": location})

    @get("/", operation_id="listJobs", sync_to_thread=True, responses=problems(),
         operation_class=linked("listJobs"))
    def list_jobs(
        self, jobs: JobService, show_paths: bool,
        offset: int = Parameter(default=0, ge=0, le=10**9, description="Items to skip"),
        limit: int = Parameter(default=50, ge=1, le=500, description="Items per page"),
        status: Literal["queued", "running", "succeeded", "failed", "cancelling",
                        "cancelled"] | None = Parameter(default=None,
                                                        description="Only jobs in this status"),
    ) -> JobPage:
        """A page of training jobs, newest first."""
        page = jobs.list(offset=offset, limit=limit, status=status)
        return JobPage(items=[_read(jobs, j, show_paths) for j in page.items],
                       page=PageInfo.of(page.total, offset, limit))

    @get("/{job_id:str}", operation_id="getJob", sync_to_thread=True, responses=problems(404))
    def get_job(self, jobs: JobService, show_paths: bool, job_id: str = JobId) -> JobRead:
        """Status, overall progress and each trial's epoch, metrics and history; the
        registered model once the job has succeeded; ``stale`` when its owner is gone."""
        return _read(jobs, jobs.get(job_id), show_paths)

    @post("/{job_id:str}/cancel", operation_id="cancelJob", sync_to_thread=True,
          status_code=202, security=WRITE_SECURITY, responses=problems(401, 404, 409))
    def cancel_job(self, jobs: JobService, job_id: str = JobId) -> JobRead:
        """Ask a job to stop (202): a queued job is cancelled at once, running trials stop at
        their next epoch. A job that has already ended answers 409."""
        jobs.cancel(job_id)
        return _read(jobs, jobs.get(job_id))

    @post("/{job_id:str}/resume", operation_id="resumeJob", sync_to_thread=True,
          status_code=202, security=WRITE_SECURITY, responses=problems(401, 404, 409))
    def resume_job(self, jobs: JobService, job_id: str = JobId) -> JobRead:
        """Resume an interrupted job (stale, or failed) from its trials' last checkpoints in
        the background (202). A job running under a live owner, or one that succeeded or was
        cancelled, answers 409."""
        return _read(jobs, jobs.resume(job_id, wait=False))

    @post("/{job_id:str}/fail", operation_id="failJob", sync_to_thread=True,
          status_code=200, security=WRITE_SECURITY, responses=problems(401, 404, 409))
    def fail_job(self, jobs: JobService, data: JobFail, job_id: str = JobId) -> JobRead:
        """Mark a stale job (its owner is gone) as failed with a reason; its open tracker runs
        end as FAILED. Any other job answers 409 (cancel a live one instead)."""
        return _read(jobs, jobs.fail(job_id, data.reason))

    @get("/{job_id:str}/events", operation_id="streamJobEvents", responses=problems(404),
         operation_class=encoding.sole_media("text/event-stream", encoding.SSE_EVENT))
    async def job_events(
        self, jobs: JobService, show_paths: bool, job_id: str = JobId,
        interval: float = Parameter(default=1.0, ge=0.1, le=60.0,
                                    description="Seconds between polls of the job"),
    ) -> ServerSentEvent:
        """Server-sent events: a ``progress`` event whenever the job changes and one ``end``
        event when it reaches a terminal status, then the stream closes. Comments keep idle
        connections alive."""
        job = await sync_to_thread(jobs.get, job_id)  # 404 before streaming
        return ServerSentEvent(_job_stream(jobs, job_id, interval, show_paths,
                                           _read(jobs, job, show_paths)),
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _job_stream(jobs: JobService, job_id: str, interval: float, show_paths: bool,
                      first: JobRead) -> AsyncIterator[ServerSentEventMessage]:
    read, last, idle, seq = first, b"", 0.0, 0
    while True:
        event = JobEvent(id=read.id, status=read.status, progress=read.progress,
                         terminal=read.terminal, trials=read.trials, errors=read.errors,
                         stale=read.stale, error=read.error)
        payload = msgspec.json.encode(event)
        if payload != last:
            seq += 1
            yield ServerSentEventMessage(data=payload.decode(), event="progress", id=seq)
            last, idle = payload, 0.0
        elif idle >= KEEPALIVE_S:
            yield ServerSentEventMessage(comment="keep-alive", data=None)  # no empty event
            idle = 0.0
        if read.terminal:
            yield ServerSentEventMessage(data=msgspec.json.encode(read).decode(), event="end",
                                         id=seq + 1)
            return
        await anyio.sleep(interval)
        idle += interval
        read = _read(jobs, await sync_to_thread(jobs.get, job_id), show_paths)


def _read(jobs: JobService, job: object, show_paths: bool = True) -> JobRead:
    return JobRead.from_domain(job, show_paths, jobs.stale_after_s)


class ArchitecturesController(Controller):
    path = "/architectures"
    tags = ["jobs"]

    @get("/", operation_id="listArchitectures", sync_to_thread=False, responses=problems())
    def list_architectures(self, catalogue: CatalogueService) -> Response[ArchitectureList]:
        """Installed model architectures of every family with their hyper-parameter spaces
        (what a job may search)."""
        items = [catalogue_read(info, ArchitectureRead) for info in catalogue.architectures()]
        return Response(ArchitectureList(items=items),
                        headers={"Cache-Control": "public, max-age=300"})
