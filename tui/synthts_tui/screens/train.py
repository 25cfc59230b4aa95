"""Train: choose a dataset (and some of its labels), architectures, a search space, trials
and epochs; submit; watch jobs with a progress bar per trial and live metric curves; cancel.
A job whose owner process is gone shows as ``stale``: resume it (u), or mark it failed (f).

The watched job is followed over the API's server-sent events (``GET /jobs/{id}/events``), not
polled: while its stream is open the page sends no request for it; the job list is re-read once
when the job ends."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Label, Select, SelectionList, Static, TextArea

from synthts_core.job_form import form_json
from synthts_tui.client import ApiError, JobEventStream
from synthts_tui.messages import (
    JobChanged,
    JobEvent,
    JobsLoaded,
    JobSubmitted,
    TrainingChoicesLoaded,
)
from synthts_tui.screens.base import BaseScreen
from synthts_tui.widgets.dialogs import ConfirmDialog
from synthts_tui.widgets.job_progress import JobProgress
from synthts_tui.widgets.param_form import FormInvalid, ParamForm
from synthts_tui.widgets.plot import SeriesPlot

JOB_SCHEMA = [  # bounds and defaults: the core's job form (the API and CLI use it too)
    *form_json("num_trials", "epochs"),
    # empty: left to the server, which picks the installed metric that gives the verdict (the
    # CLI and API default); the job as created names it
    {"name": "select_metric", "kind": "str", "default": None, "nullable": True,
     "help": "metric that picks the best trial (empty: the one that gives the verdict)"},
    *form_json("seed"),
]


class TrainScreen(BaseScreen):
    MODE = "train"
    LABEL = "Train"
    BINDINGS = [Binding("ctrl+s", "submit", "Submit job"), Binding("c", "cancel_job", "Cancel job"),
                Binding("u", "resume_job", "Resume job", show=False),
                Binding("f", "fail_job", "Mark failed", show=False),
                Binding("r", "refresh", "Refresh", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[dict[str, Any]] = []
        self.watched: str | None = None
        self.watched_job: dict[str, Any] | None = None
        self.last_submitted: dict[str, Any] | None = None
        self.datasets: dict[str, dict[str, Any]] = {}
        self.choices_loaded = False
        self.jobs_loaded = False
        self.stream: JobEventStream | None = None
        self.events_seen = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="train-body"):
            with VerticalScroll(id="train-form", classes="side"):
                yield Label("Dataset", classes="section")
                yield Select([], id="train-dataset", prompt="choose a dataset", compact=True)
                yield Label("Labels (all when none ticked)", classes="param-label")
                yield SelectionList(id="train-labels")
                yield Label("Architectures", classes="section")
                yield SelectionList(id="train-archs")
                yield Static("", id="archs-error", classes="param-error")
                yield Label("Search", classes="section")
                yield ParamForm(JOB_SCHEMA, id="job-form")
                yield Label("search space (JSON)", classes="param-label")
                yield TextArea("{}", id="search-space", soft_wrap=True)
                yield Static("", id="space-help", classes="param-help", markup=False)
                yield Static('e.g. {"lr": [0.0001, 0.001], "batch_size": [32, 64]}: a value, '
                             "a list of choices, or {\"low\": a, \"high\": b}",
                             classes="param-help", markup=False)
                yield Static("", id="space-error", classes="param-error")
                yield Button("Submit job", id="submit", variant="primary")
            with Vertical(id="train-jobs"):
                yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
                yield JobProgress(id="job-progress")
                yield SeriesPlot("metric curves of the selected job", id="metrics-plot")
                yield Button("Cancel job", id="cancel", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#jobs-table", DataTable).add_columns(
            "job", "dataset", "status", "progress", "trials", "model")
        self.load_choices()

    def on_unmount(self) -> None:
        self.stop_following()

    def refresh_data(self) -> None:
        self.load_jobs()

    def action_refresh(self) -> None:
        self.load_choices()
        self.load_jobs()

    # ------------------------------------------------------------------ choices
    @work(thread=True, exclusive=True, exit_on_error=False, group="choices")
    def load_choices(self) -> None:
        datasets = self.client.list_datasets(limit=500, sort="name")["items"]
        archs = self.client.architectures()
        self.deliver(TrainingChoicesLoaded(datasets, archs))

    @on(TrainingChoicesLoaded)
    def show_choices(self, message: TrainingChoicesLoaded) -> None:
        self.datasets = {d["name"]: d for d in message.datasets}
        select = self.query_one("#train-dataset", Select)
        current = select.value
        select.set_options([(n, n) for n in self.datasets])
        if current in self.datasets:
            select.value = current
        archs = self.query_one("#train-archs", SelectionList)
        archs.clear_options()
        lines = []
        for arch in message.architectures:
            archs.add_option((arch["name"], arch["name"], True))
            names = ", ".join(p["name"] for p in arch.get("space") or [])
            lines.append(f"{arch['name']}: {names}")
        self.query_one("#space-help", Static).update("\n".join(lines))
        self.choices_loaded = True

    @on(Select.Changed, "#train-dataset")
    def _dataset_chosen(self, event: Select.Changed) -> None:
        labels = self.query_one("#train-labels", SelectionList)
        labels.clear_options()
        meta = self.datasets.get(str(event.value))
        for name in (meta or {}).get("label_names") or []:
            labels.add_option((name, name, False))

    # ------------------------------------------------------------------ submit
    def _job_spec(self) -> dict[str, Any]:
        errors: dict[str, str] = {}
        dataset = self.query_one("#train-dataset", Select).value
        if dataset == Select.NULL:
            errors["dataset"] = "dataset: choose one"
        archs = list(self.query_one("#train-archs", SelectionList).selected)
        self.query_one("#archs-error", Static).update(
            "" if archs else "architectures: tick at least one")
        if not archs:
            errors["architectures"] = "tick at least one"
        values: dict[str, Any] = {}
        try:
            values = self.query_one("#job-form", ParamForm).values()
        except FormInvalid as exc:
            errors.update(exc.errors)
        space_error = self.query_one("#space-error", Static)
        try:
            space = json.loads(self.query_one("#search-space", TextArea).text or "{}")
            if not isinstance(space, dict):
                raise ValueError("must be a JSON object")
            space_error.update("")
        except ValueError as exc:
            space_error.update(f"search_space: {exc}")
            errors["search_space"] = str(exc)
        if errors:
            raise FormInvalid(errors)
        spec: dict[str, Any] = {"dataset": dataset, "architectures": archs,
                                "search_space": space,
                                **{k: v for k, v in values.items() if v is not None}}
        labels = list(self.query_one("#train-labels", SelectionList).selected)
        if labels:
            spec["labels"] = labels
        return spec

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        try:
            spec = self._job_spec()
        except FormInvalid as exc:
            self.notify(f"{len(exc.errors)} field(s) need fixing", severity="error")
            return
        self.query_one("#submit", Button).disabled = True
        self.submit_job(spec)

    @work(thread=True, exclusive=True, exit_on_error=False, group="submit")
    def submit_job(self, spec: dict[str, Any]) -> None:
        self.deliver(JobSubmitted(self.client.submit_job(spec)))

    @on(JobSubmitted)
    def show_submitted(self, message: JobSubmitted) -> None:
        job = message.job
        self.query_one("#submit", Button).disabled = False
        self.last_submitted = job
        self.stop_following()
        self.watched = job["id"]
        self.notify(f"submitted job {job['id']}")
        self.load_jobs()

    def worker_failed(self, name: str, error: BaseException | None) -> bool:
        self.query_one("#submit", Button).disabled = False
        if isinstance(error, ApiError) and error.field:
            if error.field.startswith("search_space"):
                self.query_one("#space-error", Static).update(error.detail)
            elif error.field.startswith("architectures"):
                self.query_one("#archs-error", Static).update(error.detail)
            else:
                self.query_one("#job-form", ParamForm).show_error(error.field, error.detail)
        return False

    # ------------------------------------------------------------------ watching
    def follow(self, job_id: str) -> None:
        """Open the job's event stream (unless it is open already) and show what it sends."""
        if self.stream is not None and not self.stream.closed:
            if self.stream.job_id == job_id:
                return
            self.stop_following()
        self.stream = self.client.job_events(job_id, interval=self.synthts.poll_interval)
        self.read_events(self.stream)

    def stop_following(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    @on(JobEvent)
    def show_event(self, message: JobEvent) -> None:
        if message.job_id != self.watched:
            return
        kind, data = message.kind, message.data
        self.events_seen += 1
        job = data if kind == "end" else {**(self.watched_job or {}), **data}
        self.show_job(job)
        self._update_row(job)
        if kind == "end":
            self.load_jobs()  # once: the list may have moved on meanwhile

    def _update_row(self, job: dict[str, Any]) -> None:
        """The job's row in the table, from the event alone (no request)."""
        from textual.coordinate import Coordinate

        table = self.query_one("#jobs-table", DataTable)
        try:
            row = table.get_row_index(job["id"])
        except Exception:  # not in the listed page
            return
        model = job.get("model") or {}
        table.update_cell_at(Coordinate(row, 2), status_label(job))
        table.update_cell_at(Coordinate(row, 3), f"{int(float(job.get('progress') or 0) * 100)}%")
        if model:
            table.update_cell_at(Coordinate(row, 5), f"{model['name']}@{model['version']}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="jobs")
    def load_jobs(self) -> None:
        page = self.client.list_jobs(limit=20)
        job = self.client.get_job(self.watched) if self.watched else None
        self.deliver(JobsLoaded(page, job))

    @on(JobsLoaded)
    def show_jobs(self, message: JobsLoaded) -> None:
        job = message.job
        self.jobs = message.page["items"]
        table = self.query_one("#jobs-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for j in self.jobs:
            spec = j.get("spec") or {}
            model = j.get("model") or {}
            table.add_row(str(j["id"])[:12], spec.get("dataset", "?"), status_label(j),
                          f"{int(float(j.get('progress') or 0) * 100)}%",
                          str(len(j.get("trials") or [])),
                          f"{model['name']}@{model['version']}" if model else "-", key=j["id"])
        if self.jobs:
            table.move_cursor(row=min(cursor, len(self.jobs) - 1))
        if job is None and self.watched is None:
            active = next((j for j in self.jobs if not j.get("terminal")), None)
            if active is not None:  # a job is running: follow it
                self.watched, job = active["id"], active
        if job is not None:
            self.show_job(job)
            if not job.get("terminal"):
                self.follow(job["id"])
        self.jobs_loaded = True

    def show_job(self, job: dict[str, Any]) -> None:
        self.watched_job = job
        self.query_one("#job-progress", JobProgress).job = job
        metric = (job.get("spec") or {}).get("select_metric") or ""
        curves: dict[str, tuple[list[float], list[float]]] = {}
        shown = set()
        for trial in job.get("trials") or []:
            history = trial.get("history") or []
            key = metric if any(metric in h for h in history) else next(
                (k for h in history for k in h if k != "epoch"), None)
            if key:
                shown.add(key)
                points = [(h.get("epoch", i + 1), h[key]) for i, h in enumerate(history)
                          if key in h]
                curves[f"{str(trial['trial_id'])[:8]} {key}"] = (
                    [float(e) for e, _ in points], [float(v) for _, v in points])
        self.query_one("#metrics-plot", SeriesPlot).show_history(
            curves, title=f"{', '.join(sorted(shown))} per epoch" if curves
            else "no metrics yet")
        self.query_one("#cancel", Button).disabled = bool(job.get("terminal"))

    @on(DataTable.RowSelected, "#jobs-table")
    def _job_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key is not None and event.row_key.value != self.watched:
            self.stop_following()
            self.watched = str(event.row_key.value)
            self.watched_job = None
            self.load_jobs()

    # ------------------------------------------------------------------ cancel
    def confirm_for_watched(self, question: str, yes: str, then: Callable[[str], Any]) -> None:
        """Ask ``question`` about the watched job; on yes, ``then(job_id)``."""
        job_id = self.watched
        if not job_id:
            self.notify("select a job first", severity="warning")
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                then(job_id)

        self.app.push_screen(ConfirmDialog(question.format(job_id), yes=yes), answered)

    @on(Button.Pressed, "#cancel")
    def action_cancel_job(self) -> None:
        self.confirm_for_watched("Cancel job {}?", "Cancel job", self.cancel_job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cancel")
    def cancel_job(self, job_id: str) -> None:
        self.deliver(JobChanged(self.client.cancel_job(job_id), "cancel"))

    @on(JobChanged)
    def show_changed(self, message: JobChanged) -> None:
        job = message.job
        state = "resuming" if message.action == "resume" else job["status"]
        self.notify(f"job {job['id']}: {state}")
        self.load_jobs()

    # ------------------------------------------------------------------ stale jobs
    def action_resume_job(self) -> None:
        if self.watched:
            self.resume_job(self.watched)

    @work(thread=True, exclusive=True, exit_on_error=False, group="resume")
    def resume_job(self, job_id: str) -> None:
        self.deliver(JobChanged(self.client.resume_job(job_id), "resume"))

    def action_fail_job(self) -> None:
        self.confirm_for_watched("Mark stale job {} failed?", "Mark failed", self.fail_job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="fail")
    def fail_job(self, job_id: str) -> None:
        self.deliver(JobChanged(self.client.fail_job(job_id, "marked failed in the TUI"),
                                "fail"))


def status_label(job: dict[str, Any]) -> str:
    """``stale`` for a job whose owner is gone, else its status."""
    return "stale" if job.get("stale") else str(job.get("status", "?"))
