"""Job control: submit a job (defaults filled in, checked, trials drawn, stored ``queued``),
cancel it, resume it, or mark a stale one failed. The jobs service (``services.jobs``) is what
the front ends call; these are the rules it applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from synthts_core.domain import TERMINAL_STATUSES, JobSpec, TrainingJob
from synthts_core.errors import BadInputError, ConflictError
from synthts_core.services import leases
from synthts_core.services.training.drawing import check_trials, draw_trials
from synthts_core.services.training.ownership import refuse_finished
from synthts_core.services.training.runner import run_job, start_job_in_background
from synthts_core.services.training.spec import resolve_defaults, validate_spec
from synthts_core.services.training.tracker_runs import end_open_runs
from synthts_core.storage_support import owner_text

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def submit_job(rt: Runtime, spec: JobSpec) -> TrainingJob:
    """Fill in what the spec leaves to the plugins (``resolve_defaults``), check it against
    storage and the registries, store the job as ``queued``."""
    spec = resolve_defaults(rt, spec)
    validate_spec(rt, spec)
    trials = draw_trials(rt, spec)
    check_trials(rt, spec, trials)
    job = TrainingJob(id=new_job_id(), spec=spec, trials=trials)
    return rt.storage.create_job(job)


def new_job_id() -> str:
    """A fresh job id (``job-`` and 12 hex digits)."""
    return "job-" + uuid.uuid4().hex[:12]


def cancel_job(rt: Runtime, job_id: str) -> TrainingJob:
    """Ask a job to stop: a queued job is cancelled at once, a running one stops its trials at
    their next epoch (the runner then marks it ``cancelled``)."""
    job = rt.storage.get_job(job_id)
    if job.status in TERMINAL_STATUSES:
        raise ConflictError(f"training job {job_id!r} is already {job.status}", name=job_id)
    status = "cancelled" if job.status == "queued" else "cancelling"
    return rt.storage.update_job(job_id, status=status)


def check_resumable(rt: Runtime, job_id: str) -> TrainingJob:
    """The job, if it may be resumed: not succeeded or cancelled, and not running under a live
    owner (``ConflictError`` says who owns it)."""
    job = rt.storage.get_job(job_id)
    refuse_finished(job)
    if job.status in leases.LIVE_STATUSES and not leases.is_stale(
            job, rt.settings.job_stale_after_s):
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); only a stale job can be resumed",
                            name=job_id)
    return job


def resume_job(rt: Runtime, job_id: str, *, wait: bool = True,
               on_progress: Callable[[TrainingJob], None] | None = None) -> TrainingJob:
    """Continue an interrupted job (stale, or failed) from its trials' last checkpoints.

    A job that succeeded or was cancelled has nothing to resume, and one running under a live
    owner is not taken over (``ConflictError``, naming the owner), checked before Ray starts.
    ``wait``: run here to the end and return the final record (CLI); else run in the
    background and return the job as it reads now (API)."""
    check_resumable(rt, job_id)
    if wait:
        return run_job(rt, job_id, resume=True, on_progress=on_progress)
    start_job_in_background(rt, job_id, resume=True)
    return rt.storage.get_job(job_id)


MAX_REASON = 500


def fail_job(rt: Runtime, job_id: str, reason: str) -> TrainingJob:
    """Mark a stale job (its owner is gone) as failed with ``reason``, ending the tracker runs
    its owner left open as FAILED. A live, queued or finished job answers ``ConflictError``."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadInputError("reason", "is empty" if not reason else f"has {len(reason)} "
                            "characters", allowed=f"1-{MAX_REASON} characters")
    job = rt.storage.get_job(job_id)
    if job.status not in leases.LIVE_STATUSES:
        hint = " (cancel it instead)" if job.status == "queued" else ""
        raise ConflictError(f"training job {job_id!r} is {job.status}; only a stale running "
                            f"job can be marked failed{hint}", name=job_id)
    stale = leases.stale_reason(job, rt.settings.job_stale_after_s)
    if stale is None:
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); cancel it instead", name=job_id)
    end_open_runs(rt, job, "FAILED")
    seen = job.owner.token if job.owner is not None else None
    # the lease goes with it: an owner that was only late fails its next heartbeat and stops
    # without recording anything over this
    return rt.storage.update_job(job_id, if_owner=seen, status="failed", owner=None,
                                 error=f"marked failed: {reason} ({stale})")
