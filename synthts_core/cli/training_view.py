"""How ``synthts train`` and ``synthts demo`` show a running search.

On a terminal: one live rich progress bar per trial (epochs done, the job's quality metric now,
elapsed time) under a bar for the whole job; log lines printed meanwhile scroll above the bars.
Elsewhere (a pipe, a log file, CI) and with ``--quiet``: the concise lines of
``services.progress.ProgressLines``. The summary table at the end is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from synthts_core.domain import TrainingJob
from synthts_core.services.progress import ENDED, ProgressLines, metric_text

STATUS_STYLE = {"running": "cyan", "succeeded": "green", "failed": "red", "cancelled": "yellow",
                "pending": "dim"}


class TrainingView:
    """``on_progress`` callback and log sink; use as a context manager so the bars always stop."""

    def __init__(self, *, live: bool | None = None, echo: Callable[[str], None] = click.echo,
                 console: Any = None, every: int = 25) -> None:
        from rich.console import Console

        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self.echo = echo
        self.lines = ProgressLines(echo, every=every)
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._job_task: Any = None

    # ------------------------------------------------------------------ callbacks
    def __call__(self, job: TrainingJob) -> None:
        if not self.live:
            self.lines(job)
            return
        if self._progress is None:
            if all(t.status in ENDED for t in job.trials):
                return
            self._start(job)
        metric = job.spec.select_metric
        for trial in job.trials:
            style = STATUS_STYLE.get(trial.status, "")
            self._progress.update(
                self._tasks[trial.trial_id], completed=trial.epoch, total=max(trial.epochs, 1),
                description=f"[{style}]{trial.trial_id} {trial.architecture:<8} {trial.status}[/]",
                metric=(trial.error or "")[:60] if trial.status == "failed"
                else metric_text(trial, metric))
        self._progress.update(self._job_task, completed=sum(t.epoch for t in job.trials))
        if all(t.status in ENDED for t in job.trials):
            self.stop()

    def log(self, text: str) -> None:
        """A log line: above the bars while they run, else a plain line."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.echo(text)

    # ------------------------------------------------------------------ bars
    def _start(self, job: TrainingJob) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metric]}"), TimeElapsedColumn(),
            console=self.console, refresh_per_second=4, transient=False)
        total = sum(max(t.epochs, 1) for t in job.trials)
        self._job_task = self._progress.add_task(
            f"[bold]{job.id}[/] {len(job.trials)} trials", total=total, metric="epochs")
        for trial in job.trials:
            self._tasks[trial.trial_id] = self._progress.add_task(
                f"{trial.trial_id} {trial.architecture:<8}", total=max(trial.epochs, 1),
                metric="")
        self._progress.start()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> TrainingView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ViewLog:
    """A ``log`` for services that print (``run_main_job``): lines go through the view, and
    ``on_progress`` hands it the training updates."""

    def __init__(self, view: TrainingView) -> None:
        self.view = view
        self.on_progress = view

    def __call__(self, text: str) -> None:
        self.view.log(text)
