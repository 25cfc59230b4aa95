"""Training progress as a few plain lines: what logs, pipes and ``--quiet`` get.

A line when a trial starts, one each time it passes another ``every`` percent of its epochs
(with its current quality metric), and one when it ends: a 4-trial, 150-epoch search prints
about 20 lines, not 600. Live progress bars for terminals are the CLI's (``cli.progress``).
"""

from __future__ import annotations

from collections.abc import Callable

from synthts_core.domain import TrainingJob, TrialState

ENDED = ("succeeded", "failed", "cancelled")


def metric_text(trial: TrialState, metric: str) -> str:
    """``mmd=0.0312`` (the job's metric), or the first loss when the metric is not there yet."""
    value = trial.metrics.get(metric)
    if value is not None:
        return f"{metric}={value:.4g}"
    for key in sorted(trial.metrics):
        if key.startswith("loss"):
            return f"{key}={trial.metrics[key]:.4g}"
    return ""


class ProgressLines:
    """``on_progress`` callback of ``training.run_job`` that writes concise lines to ``log``."""

    def __init__(self, log: Callable[[str], None], every: int = 25) -> None:
        if not 1 <= every <= 100:
            raise ValueError(f"every: got {every}; allowed: 1..100 (percent)")
        self.log = log
        self.every = every
        self._step: dict[str, int] = {}  # trial id -> last reported multiple of ``every``
        self._status: dict[str, str] = {}

    def __call__(self, job: TrainingJob) -> None:
        metric = job.spec.select_metric
        for trial in job.trials:
            tid = trial.trial_id
            before = self._status.get(tid, "pending")
            if trial.status == before and trial.status in ENDED:
                continue
            name = f"  trial {tid} {trial.architecture:<8}"
            if before == "pending" and trial.status != "pending":
                self.log(f"{name} started ({trial.epochs} epochs)")
            self._status[tid] = trial.status
            if trial.status == "failed":
                self.log(f"{name} failed: {trial.error}")
                continue
            if trial.status == "cancelled":
                self.log(f"{name} cancelled at epoch {trial.epoch}/{trial.epochs}")
                continue
            shown = metric_text(trial, metric)
            if trial.status == "succeeded":
                self.log(f"{name} done: epoch {trial.epoch}/{trial.epochs} {shown}".rstrip())
                continue
            percent = 100 * trial.epoch // max(trial.epochs, 1)
            step = percent // self.every
            if percent < 100 and step > self._step.get(tid, 0):
                self._step[tid] = step
                self.log(f"{name} epoch {trial.epoch}/{trial.epochs} ({percent}%) {shown}"
                         .rstrip())
