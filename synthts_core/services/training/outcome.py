"""What a finished Tune run means for the job's record: the trials' errors collected, then
``cancelled`` (a cancel, a signal), ``failed`` (no checkpoint; a time limit, whose best trial
so far is still registered) or ``succeeded`` with the best trial registered
(``best_trial.register_best``) and the checkpoints no resume needs deleted. Nothing is written
by a process that lost the job's lease.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from synthts_core.domain import TrainingJob
from synthts_core.errors import ConflictError
from synthts_core.services import leases
from synthts_core.services.training.best_trial import (
    best_checkpoint,
    register_best,
    scoring_data,
)
from synthts_core.services.training.checkpoints import prune_finished
from synthts_core.services.training.experiment import result_indices
from synthts_core.services.training.ownership import lease_lost
from synthts_core.services.training.tracker_runs import end_open_runs

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


def finish_job(rt: Runtime, job_id: str, results: Any, token: str) -> TrainingJob:
    """Record errors, then register the best trial by quality (unless cancelled). Every write
    checks this process still owns the job (``token``): one that lost its lease records nothing."""
    from synthts_core.services.training_ray import error_text  # imports Ray: only a run needs it

    if lease_lost(rt, job_id, token):
        raise ConflictError(f"training job {job_id!r}: another process took it over; this one "
                            "stopped without recording its results", name=job_id)
    job = rt.storage.get_job(job_id)
    errors = list(job.errors)
    causes = []  # what Ray said about each failed trial
    for index, result in result_indices(results):
        if result.error is not None:
            text = error_text(result.error)
            causes.append(f"trial t{index:02d}: {text}" if index is not None else text)
    errors = list(dict.fromkeys(errors + causes))
    stop = leases.stop_request(job_id)
    # trials Tune stopped with the experiment (a cancel, a signal, the time limit) get no
    # completion callback: they are recorded as cancelled here
    stopped = [t if t.status not in ("pending", "running") else
               msgspec.structs.replace(t, status="cancelled") for t in job.trials]
    if job.status in ("cancelling", "cancelled") or (stop is not None and stop[0] == "cancel"):
        end_open_runs(rt, job, "KILLED")
        reason = {"error": stop[1]} if stop is not None and stop[0] == "cancel" else {}
        return rt.storage.update_job(job_id, if_owner=token, status="cancelled",
                                     errors=errors, trials=stopped, **reason)
    # a time limit that cut trials short fails the job, but what they learnt is registered
    # (or a trial whose worker never started: training_ray.JobRecorder._watch_starts)
    timed_out = stop[1] if stop is not None and stop[0] in ("timeout", "failed") and any(
        t.epoch < t.epochs for t in job.trials) else None
    if timed_out:
        end_open_runs(rt, job, "FAILED")
        job = rt.storage.update_job(job_id, if_owner=token, trials=stopped)
    # the real series every candidate is scored against: read once, only if something is scored
    scoring = functools.cache(lambda: scoring_data(rt, job))
    best = best_checkpoint(rt, job, results, scoring)
    if best is None:
        errors.append("no trial produced a checkpoint: nothing to register")
        if timed_out:  # the limit is the cause; the empty-handed note stays in the history
            return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                         errors=errors, error=timed_out)
        never_ran = all(t.epoch == 0 for t in job.trials)
        if never_ran and causes:  # Ray's own words are the cause (a worker, the cluster)
            return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                         errors=errors, trials=stopped,
                                         error=never_ran_text(causes))
        return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                     errors=errors[:-1], error=errors[-1])
    ref, best_trial_id, trials, kept = register_best(rt, job, best, scoring)
    # a job cut short by its time limit may be resumed: it keeps its checkpoints
    freed = 0 if timed_out else prune_finished(results, keep=kept)
    if freed:
        log.info("job %s: deleted %d superseded checkpoints", job_id, freed)
    if timed_out:
        return rt.storage.update_job(job_id, if_owner=token, status="failed", errors=errors,
                                     model=ref, best_trial=best_trial_id, trials=trials,
                                     error=timed_out)
    return rt.storage.update_job(job_id, if_owner=token, status="succeeded", errors=errors,
                                 model=ref, best_trial=best_trial_id, progress=1.0,
                                 trials=trials)


def never_ran_text(causes: list[str]) -> str:
    """The job's error when none of its trials finished an epoch: each distinct cause (what
    Ray said, or the trial's own exception)."""
    distinct = list(dict.fromkeys(causes))
    shown = "; ".join(distinct[:3]) + (f"; and {len(distinct) - 3} more" if len(distinct) > 3
                                        else "")
    return f"no trial finished an epoch: {shown}"[:2000]
