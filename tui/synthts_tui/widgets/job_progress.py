"""A training job at a glance: status, overall progress, one progress bar per trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar, Static

STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow",
                "cancelling": "yellow", "running": "cyan", "queued": "dim", "pending": "dim"}


def _metric_text(metrics: Mapping[str, Any], limit: int = 3) -> str:
    parts = []
    for key, value in list(metrics.items())[:limit]:
        parts.append(f"{key}={value:.4g}" if isinstance(value, (int, float)) else f"{key}={value}")
    return " ".join(parts)


class TrialRow(Horizontal):
    """One trial: id and architecture, an epoch progress bar, latest metrics."""

    def __init__(self, trial_id: str) -> None:
        super().__init__(classes="trial-row")
        self.trial_id = trial_id

    def compose(self) -> ComposeResult:
        yield Label("", classes="trial-name")
        yield ProgressBar(total=1, show_eta=False, classes="trial-bar")
        yield Label("", classes="trial-metrics")

    def update_trial(self, trial: Mapping[str, Any]) -> None:
        status = trial.get("status", "pending")
        style = STATUS_STYLE.get(status, "")
        name = f"{self.trial_id[:10]} {trial.get('architecture', '')}"
        self.query_one(".trial-name", Label).update(f"[{style}]{name} {status}[/]")
        epochs = max(int(trial.get("epochs") or 0), 1)
        bar = self.query_one(ProgressBar)
        bar.update(total=epochs, progress=min(int(trial.get("epoch") or 0), epochs))
        text = trial.get("error") or _metric_text(trial.get("metrics") or {})
        self.query_one(".trial-metrics", Label).update(str(text)[:80])


class JobProgress(VerticalScroll):
    """Bound to one job dict; ``job`` is reactive, so assigning the job from a new server-sent
    event (or a fresh read) redraws."""

    job: reactive[dict[str, Any] | None] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        yield Label("no job selected", id="job-title")
        yield ProgressBar(total=1.0, show_eta=False, id="job-bar")
        yield Static("", id="job-errors", markup=False)

    def watch_job(self, job: dict[str, Any] | None) -> None:
        if not self.is_mounted:
            return
        title = self.query_one("#job-title", Label)
        bar = self.query_one("#job-bar", ProgressBar)
        if job is None:
            title.update("no job selected")
            bar.update(total=1.0, progress=0)
            return
        status = job.get("status", "")
        spec = job.get("spec") or {}
        style = STATUS_STYLE.get(status, "")
        title.update(f"job {str(job.get('id', ''))[:12]} on {spec.get('dataset', '?')}: "
                     f"[{style}]{status}[/]")
        bar.update(total=1.0, progress=float(job.get("progress") or 0.0))
        errors = job.get("errors") or []
        self.query_one("#job-errors", Static).update("\n".join(map(str, errors))[:500])
        rows = {r.trial_id: r for r in self.query(TrialRow)}
        for trial in job.get("trials") or []:
            tid = str(trial.get("trial_id"))
            row = rows.get(tid)
            if row is None:
                row = TrialRow(tid)
                self.mount(row)
                self.call_after_refresh(row.update_trial, trial)
            else:
                row.update_trial(trial)
        wanted = {str(t.get("trial_id")) for t in job.get("trials") or []}
        for tid, row in rows.items():
            if tid not in wanted:
                row.remove()
