"""This process's hold on a job it runs: taking the lease (atomic, so two processes never run
one job), noticing that it was lost, and refusing to run again a job that has finished. Who
owns a job and whether that owner is alive is ``services.leases``; this is what the runner and
the end of a run do with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthts_core.domain import JobOwner, TrainingJob, utcnow
from synthts_core.errors import ConflictError
from synthts_core.services import leases

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def take_lease(rt: Runtime, job: TrainingJob, owner: JobOwner) -> TrainingJob:
    """Make ``owner`` the job's owner, if the owner read with ``job`` still holds it (atomic: a
    second process taking the same job at once gets a 409). The job reads running from here on
    (a cancelling one stays cancelling): a later resume of a failed or queued job sees a live
    owner and is refused too."""
    seen = job.owner.token if job.owner is not None else None
    taken = "cancelling" if job.status == "cancelling" else "running"
    return rt.storage.update_job(job.id, if_owner=seen, owner=owner, heartbeat_at=utcnow(),
                                 status=taken)


def lease_lost(rt: Runtime, job_id: str, token: str) -> bool:
    """Whether this process no longer owns the job it runs with ``token``: its heartbeat found
    the lease taken, or the record now names another owner (or none: marked failed)."""
    stop = leases.stop_request(job_id)
    if stop is not None and stop[0] == "lost":
        return True
    try:
        owner = rt.storage.get_job(job_id).owner
    except Exception:  # storage down: the owner-checked writes will tell
        return False
    return owner is None or owner.token != token


def refuse_finished(job: TrainingJob) -> None:
    """A job that succeeded or was cancelled has nothing to resume (``ConflictError``)."""
    if job.status in ("succeeded", "cancelled"):
        raise ConflictError(f"training job {job.id!r} is {job.status}; nothing to resume",
                            name=job.id)
