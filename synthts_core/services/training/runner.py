"""The run loop: a stored job run (or resumed) to its end in this process, under a lease with
a heartbeat, on Ray Tune, with the process's signals caught and everything it took given back
whatever happens (``run_job``); or the same in a daemon thread (``start_job_in_background``).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from synthts_core.domain import TERMINAL_STATUSES, TrainingJob
from synthts_core.errors import ConflictError, SynthtsError
from synthts_core.services import leases
from synthts_core.services.training.checkpoints import sweep_staging
from synthts_core.services.training.experiment import fit
from synthts_core.services.training.outcome import finish_job
from synthts_core.services.training.ownership import lease_lost, refuse_finished, take_lease
from synthts_core.services.training.process_signals import (
    JobInterrupted,
    catch_signals,
    register_exit_hook,
    restore_nothing,
)
from synthts_core.services.training.tracker_runs import end_open_runs, prepare_tracker
from synthts_core.storage_support import owner_text

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


def run_job(rt: Runtime, job_id: str, *, resume: bool = False,
            on_progress: Callable[[TrainingJob], None] | None = None) -> TrainingJob:
    """Run (or resume) a stored job to the end; blocks. Returns the final job record.

    The job is leased to this process first (owner + heartbeat, see ``leases``): a running job
    whose owner is alive is refused (409 naming the owner); a stale one is taken over, and the
    tracker runs its dead owner left open are ended as FAILED. SIGINT/SIGTERM (when this runs
    on the main thread) stop the trials and end the job as ``cancelled`` with the reason; a
    second signal does not wait for the trials."""
    job = rt.storage.get_job(job_id)
    if job.status in TERMINAL_STATUSES and not resume:
        raise ConflictError(f"training job {job_id!r} is already {job.status}", name=job_id)
    if resume:
        refuse_finished(job)  # checked again here: it may have finished since the front end did
    stale = leases.stale_reason(job, rt.settings.job_stale_after_s)
    if job.status in leases.LIVE_STATUSES and stale is None:
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); cancel it with `synthts jobs cancel "
                            f"{job_id}` or wait for it", name=job_id)
    if job.status in leases.LIVE_STATUSES and not resume:
        raise ConflictError(f"training job {job_id!r} is stale ({stale}): resume it with "
                            f"`synthts train --resume {job_id}`", name=job_id)
    owner = leases.new_owner()
    job = take_lease(rt, job, owner)
    # beat before anything that may block (ending runs while the tracker is down)
    beat = leases.Heartbeat(rt, job_id, owner.token, rt.settings.job_heartbeat_s).start()
    acquired = False
    restore: Callable[[], None] = restore_nothing
    try:
        if stale is not None:
            log.warning("job %s was stale (%s): taking it over", job_id, stale)
            end_open_runs(rt, job, "FAILED")
            rt.storage.update_job(job_id, if_owner=owner.token, status=job.status,
                                  error=f"resumed after its owner was lost: {stale}")
        if job.status == "cancelling":
            end_open_runs(rt, job, "KILLED")
            return rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled")
        # inside the try: a job whose Ray cannot start (or import) fails, never stays queued
        from synthts_core.services import training_ray

        training_ray.acquire_ray(rt.settings)
        acquired = True
        # trials that fit the cluster and the disk, a resumable folder; records the cluster
        from synthts_core.services.cluster import prepare_job

        prepare_job(rt, job, resume)
        restore = catch_signals(job_id)  # after ray.init, which sets its own SIGTERM handler
        register_exit_hook()
        training_ray.ACTIVE_JOBS[job_id] = (rt, on_progress)
        leases.set_deadline(job_id, job.spec.time_limit_s)
        if rt.storage.get_job(job_id).status in ("cancelling", "cancelled"):
            # cancelled while Ray was starting: honour it, never flip back to running
            return rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled")
        prepare_tracker(rt)
        results = fit(rt, job, resume)
        return finish_job(rt, job_id, results, owner.token)
    except (Exception, JobInterrupted) as exc:
        if lease_lost(rt, job_id, owner.token):
            # another process owns the job now: its runs and its record are not ours to end
            log.warning("training job %s: lease lost to another process; stopped here "
                        "without recording anything", job_id)
            raise
        stop = leases.stop_request(job_id)
        if isinstance(exc, JobInterrupted) or (stop is not None and stop[0] == "cancel"):
            reason = stop[1] if stop else str(exc)
            log.warning("training job %s cancelled: %s", job_id, reason)
            end_open_runs(rt, rt.storage.get_job(job_id), "KILLED")
            rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled",
                                  error=reason)
            raise
        msg = exc.message if isinstance(exc, SynthtsError) else f"{type(exc).__name__}: {exc}"
        log.exception("training job %s failed", job_id)
        end_open_runs(rt, rt.storage.get_job(job_id), "FAILED")
        # appends: trial errors stay
        rt.storage.update_job(job_id, if_owner=owner.token, status="failed", error=msg)
        raise
    finally:
        # each step on its own: one that fails must not skip the others
        for step in (beat.stop, restore, functools.partial(leases.forget, job_id),
                     functools.partial(sweep_staging, rt, job_id)):
            try:
                step()
            except Exception as exc:
                log.warning("job %s: cleanup step failed: %s", job_id, exc)
        if acquired:
            try:
                training_ray.ACTIVE_JOBS.pop(job_id, None)
                training_ray.release_ray()
            except Exception as exc:
                log.warning("job %s: could not release Ray: %s", job_id, exc)


def start_job_in_background(rt: Runtime, job_id: str, *, resume: bool = False
                            ) -> threading.Thread:
    """Run a job in a daemon thread (the API's way: never on the event loop). Failures are
    already written to the job record by ``run_job``; the thread only logs them."""

    def target() -> None:
        try:
            run_job(rt, job_id, resume=resume)
        except Exception:
            log.exception("background training job %s ended with an error", job_id)

    thread = threading.Thread(target=target, name=f"synthts-train-{job_id}", daemon=True)
    thread.start()
    return thread
