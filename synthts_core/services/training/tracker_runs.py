"""The tracker runs of a job's trials, seen from the driver: the experiment they are logged
under, the tracker opened once before the workers race to, and the runs a stopped, cancelled or
dead job left open ended with the right status.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synthts_core.domain import JobSpec, TrainingJob

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


def end_open_runs(rt: Runtime, job: TrainingJob, status: str) -> int:
    """End the tracker runs of a job's trials that are still open (a killed owner, stopped
    trials) as ``status`` (FAILED or KILLED). Never raises: returns how many were ended."""
    try:
        ended = int(rt.tracker.end_open_runs(experiment_name(rt, job.spec), {"synthts.job": job.id},
                                             status))
        if status == "KILLED":
            # a cancel also relabels the runs its stopped trials ended as FAILED on their way out
            for t in job.trials:
                if t.run_id and t.status in ("pending", "running", "cancelled"):
                    rt.tracker.end_run(t.run_id, status)
                    ended += 1
        return ended
    except Exception as exc:
        log.warning("job %s: could not end its open tracker runs: %s", job.id, exc)
        return 0


def experiment_name(rt: Runtime, spec: JobSpec) -> str:
    """The tracker experiment of a job's trial runs (the tracker adds its prefix)."""
    return spec.dataset


def prepare_tracker(rt: Runtime) -> None:
    """Open the tracker once in the driver before the workers do: an embedded MLflow store
    creates its database on first use, and two workers racing to create it break one."""
    try:
        rt.tracker.ping()
    except Exception as exc:
        log.warning("tracker unavailable before training (trials will retry): %s", exc)
