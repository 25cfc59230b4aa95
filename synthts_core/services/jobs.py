"""Training jobs: the one way the API, the CLI and the TUI (through the API) submit, run,
follow, cancel, fail, resume and prune model searches.

The work itself is in the ``training`` package (submit, run on Ray Tune, cancel, fail, resume,
process signals), ``leases`` (who owns a running job), ``cluster`` (where it ran) and
``retention`` (pruning experiment folders); this class is what the front ends and the main job
call, so each rule is applied the same way whichever front end asks. A resume in particular has
one entry, ``resume``: a job that succeeded or was cancelled, or one running under a live owner,
is refused before anything starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from synthts_core.domain import JobSpec, Page, TrainingJob

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime
    from synthts_core.services.main_job import MainJobOptions, MainJobResult
    from synthts_core.services.retention import PruneItem

OnProgress = Callable[[TrainingJob], None]


class JobService:
    """Training jobs of one runtime (``runtime.services.jobs``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------ submit and run
    def spec(self, fields: Mapping[str, Any],
             overrides: Mapping[str, Any] | None = None) -> JobSpec:
        """A job spec from plain fields (an API body, a job file), with ``overrides`` (CLI
        flags) on top: ``None`` overrides nothing, ``search_space`` entries merge key by key.
        ``BadInputError`` names a field of the wrong type."""
        from synthts_core.domain import from_builtins

        merged = dict(fields)
        extra = dict(overrides or {})
        space = dict(merged.get("search_space") or {})
        space.update(extra.pop("search_space", None) or {})
        merged.update({k: v for k, v in extra.items() if v is not None})
        if space:
            merged["search_space"] = space
        return from_builtins(merged, JobSpec)

    def submit(self, spec: JobSpec, *, start: bool = False) -> TrainingJob:
        """Fill in what the spec leaves to the plugins (architectures, selection metric), check
        it against storage and the registries, store the job as ``queued`` with its trials
        drawn; ``start`` also runs it in the background (the API's way)."""
        from synthts_core.services import training

        job = training.submit_job(self.rt, spec)
        if start:
            self.start(job.id)
        return job

    def start(self, job_id: str) -> threading.Thread:
        """Run a stored job in a daemon thread; its outcome is written to its record."""
        from synthts_core.services import training

        return training.start_job_in_background(self.rt, job_id)

    def run(self, job_id: str, *, on_progress: OnProgress | None = None) -> TrainingJob:
        """Run a stored job here to its end (blocks; the CLI's way); the final record."""
        from synthts_core.services import training

        return training.run_job(self.rt, job_id, on_progress=on_progress)

    def resume(self, job_id: str, *, wait: bool = True,
               on_progress: OnProgress | None = None) -> TrainingJob:
        """Continue an interrupted job (stale, or failed) from its trials' last checkpoints.

        The one way in for every front end: a job that succeeded or was cancelled has nothing
        to resume, and one running under a live owner is not taken over (``ConflictError``,
        naming the owner), checked before Ray starts. ``wait``: run here to the end and return
        the final record (CLI); else run in the background and return the job as it reads now
        (API)."""
        from synthts_core.services import training

        return training.resume_job(self.rt, job_id, wait=wait, on_progress=on_progress)

    def cancel(self, job_id: str) -> TrainingJob:
        """Ask a job to stop: a queued one is cancelled at once, running trials stop at their
        next epoch. A job that has ended is a ``ConflictError``."""
        from synthts_core.services import training

        return training.cancel_job(self.rt, job_id)

    def fail(self, job_id: str, reason: str) -> TrainingJob:
        """Mark a stale job (its owner is gone) as failed with ``reason``; its open tracker
        runs end FAILED. A live, queued or finished job is a ``ConflictError``."""
        from synthts_core.services import training

        return training.fail_job(self.rt, job_id, reason)

    # ------------------------------------------------------------------ read
    def get(self, job_id: str) -> TrainingJob:
        """One job (``NotFoundError`` names it)."""
        return self.rt.storage.get_job(job_id)

    def list(self, *, offset: int = 0, limit: int = 50, status: str | None = None) -> Page:
        """A page of jobs, newest first."""
        return self.rt.storage.list_jobs(offset=offset, limit=limit, status=status)

    @property
    def stale_after_s(self) -> float:
        """Seconds without a heartbeat after which a running job's owner counts as gone."""
        return self.rt.settings.job_stale_after_s

    def stale_reason(self, job: TrainingJob) -> str | None:
        """Why a running job's owner counts as gone, or ``None`` while it is live (or the job
        is not running)."""
        from synthts_core.services.leases import stale_reason

        return stale_reason(job, self.stale_after_s)

    def cluster_text(self, job: TrainingJob) -> str | None:
        """Where the job ran (address, nodes, resources), or ``None`` before it ran."""
        from synthts_core.services.cluster import cluster_text

        return None if job.cluster is None else cluster_text(job.cluster)

    def higher_is_better(self, metric: str | None) -> bool:
        """Whether a larger value of ``metric`` is better, to show a job's trials; a metric no
        longer installed reads as a distance (lower is better). The one rule, strict where it
        ranks trials: ``evaluation.comparison.higher_is_better``."""
        from synthts_core.services.evaluation.comparison import higher_is_better

        return higher_is_better(self.rt.registries, metric, strict=False)

    def default_select_metric(self) -> str | None:
        """The metric a job that names none is ranked by: the first installed one that gives
        the verdict (states a ``pass_threshold``); ``None`` when none does."""
        from synthts_core.services import training

        return training.default_select_metric(self.rt.registries)

    # ------------------------------------------------------------------ process
    def cancel_jobs_on_sigterm(self) -> None:
        """Make SIGTERM of this process cancel the jobs it runs in threads (recorded
        ``cancelled`` with the signal, their tracker runs KILLED) before it ends as SIGTERM asks:
        for a server (``create_app``), called on the main thread before uvicorn takes the
        signals over. It always turns off Ray's own crash-signal handler for the Rays this
        process starts (``RAY_DISABLE_FAILURE_SIGNAL_HANDLER``, unless already set); off the
        main thread, or where a SIGTERM handler is already set, it installs none."""
        from synthts_core.services import training

        training.install_server_signal_handler()

    # ------------------------------------------------------------------ housekeeping
    def prune(self, keep: int | None = None, *, dry_run: bool = False) -> list[PruneItem]:
        """Delete the Ray experiment folders of finished jobs beyond the ``keep`` most recent
        (default ``SYNTHTS_JOB_RETENTION``) and mark those jobs not resumable."""
        from synthts_core.services import retention

        return retention.prune(self.rt, keep, dry_run=dry_run)

    def run_main_job(self, opts: MainJobOptions,
                     log: Callable[[str], None] = print) -> MainJobResult:
        """``synthts demo``: generate -> store -> train -> register -> generate -> evaluate ->
        report, on whatever the settings name."""
        from synthts_core.services.main_job import run_main_job

        return run_main_job(self.rt, opts, log=log)
