"""Models: the registry, each version with its metrics; generate N series per label and plot
them; latent interpolation as an animation; the plotly figure in a browser; save as a dataset.

Training jobs still running when the page opens are followed over the API's server-sent events
(no polling); when one ends with a registered model, the registry is re-read once."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, DataTable, Label, SelectionList, Static

from synthts_tui.browser import open_html
from synthts_tui.client import JobEventStream
from synthts_tui.messages import (
    ActiveJobsFound,
    DatasetSaved,
    FigureOpened,
    Interpolated,
    JobEvent,
    ModelsLoaded,
    SeriesGenerated,
    VersionsLoaded,
)
from synthts_tui.screens.base import BaseScreen
from synthts_tui.widgets.dialogs import PromptDialog
from synthts_tui.widgets.param_form import FormInvalid, ParamForm
from synthts_tui.widgets.plot import SeriesPlot

SAMPLE_SCHEMA = [
    {"name": "n", "kind": "int", "default": 3, "low": 1, "high": 10_000,
     "help": "series per label"},
    {"name": "seed", "kind": "int", "default": 0, "low": 0, "high": 2**32 - 2,
     "help": "same seed, same series"},
    {"name": "length", "kind": "int", "default": 0, "low": 0, "high": 10_000_000,
     "help": "points per series (0 = trained; longer: diffusion)"},
    {"name": "missing", "kind": "choice", "default": "none", "choices": ["none", "learned"],
     "help": "none: complete series; learned: the gaps the model learnt"},
    {"name": "steps", "kind": "int", "default": 16, "low": 2, "high": 512,
     "help": "interpolation frames"},
]
FRAME_SECONDS = 0.15
MAX_FOLLOWED_JOBS = 4  # event streams open at once


def version_labels(version: dict[str, Any]) -> list[str]:
    """Label names a version was trained on (its config carries the dataset's)."""
    config = version.get("config") or {}
    for source in (config, config.get("dataset") or {}):
        names = source.get("label_names") if isinstance(source, dict) else None
        if names:
            return [str(n) for n in names]
    return []


def quality_first(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """Quality metrics (mmd, ...) before training losses and the epoch counter."""
    def rank(item: tuple[str, float]) -> tuple[int, str]:
        name = item[0]
        return (1 if name.startswith(("loss", "epoch", "gp")) else 0, name)

    return sorted(metrics.items(), key=rank)


def group_by_label(result: dict[str, Any]) -> dict[str, list[list[float]]]:
    names = result.get("label_names") or []
    labels = result.get("labels")
    groups: dict[str, list[list[float]]] = {}
    for i, series in enumerate(result["values"]):
        label = names[labels[i]] if labels is not None and names else "generated"
        groups.setdefault(label, []).append(series[0])
    return groups


class ModelsScreen(BaseScreen):
    MODE = "models"
    LABEL = "Models"
    BINDINGS = [Binding("g", "generate", "Generate"), Binding("i", "interpolate", "Interpolate"),
                Binding("space", "pause", "Pause animation", show=False),
                Binding("o", "open_figure", "Open figure"), Binding("s", "save", "Save data"),
                Binding("r", "refresh", "Refresh", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.models: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.model: str | None = None
        self.version: dict[str, Any] | None = None
        self.generated: dict[str, Any] | None = None
        self.frames: dict[str, Any] | None = None
        self.frame = 0
        self._animation: Timer | None = None
        self.paused = False
        self.models_loaded = False
        self.last_figure: str | None = None
        self.streams: dict[str, JobEventStream] = {}
        self.training: dict[str, dict[str, Any]] = {}  # job id -> its latest event

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="models-body"):
            with Vertical(id="models-side", classes="side"):
                yield Label("Registered models", classes="section")
                yield DataTable(id="models-table", cursor_type="row")
                yield Label("Versions", classes="section")
                yield DataTable(id="versions-table", cursor_type="row")
                yield Label("Labels (all when none ticked)", classes="param-label")
                yield SelectionList(id="model-labels")
                yield ParamForm(SAMPLE_SCHEMA, id="sample-form")
            with Vertical(id="models-view"):
                with Horizontal(id="model-actions"):
                    yield Button("Generate", id="generate", variant="primary")
                    yield Button("Interpolate", id="interpolate")
                    yield Button("Open figure", id="open-figure")
                    yield Button("Save as dataset", id="save")
                yield SeriesPlot("select a model version", id="model-plot")
                yield Static("", id="model-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#models-table", DataTable).add_columns("model", "latest", "versions",
                                                              "aliases")
        self.query_one("#versions-table", DataTable).add_columns("version", "architecture",
                                                                "aliases", "metrics")

    def refresh_data(self) -> None:
        self.load_models()
        self.load_active_jobs()

    def action_refresh(self) -> None:
        self.load_models()

    def on_unmount(self) -> None:
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()

    # ------------------------------------------------------------------ running jobs
    @work(thread=True, exclusive=True, exit_on_error=False, group="active-jobs")
    def load_active_jobs(self) -> None:
        page = self.client.list_jobs(limit=20)
        self.deliver(ActiveJobsFound([j["id"] for j in page["items"] if not j.get("terminal")]))

    @on(ActiveJobsFound)
    def show_active_jobs(self, message: ActiveJobsFound) -> None:
        for job_id in message.job_ids:
            open_now = [s for s in self.streams.values() if not s.closed]
            if job_id in self.streams or len(open_now) >= MAX_FOLLOWED_JOBS:
                continue
            stream = self.client.job_events(job_id, interval=self.synthts.poll_interval)
            self.streams[job_id] = stream
            self.read_events(stream)

    @on(JobEvent)
    def show_event(self, message: JobEvent) -> None:
        job_id, data = message.job_id, message.data
        self.training[job_id] = data
        if message.kind != "end":
            return
        self.streams.pop(job_id, None)
        model = data.get("model") or {}
        if model:
            self.notify(f"job {job_id} registered {model['name']} v{model['version']}")
            self.load_models()
            if self.model == model["name"]:
                self.load_versions(model["name"])

    # ------------------------------------------------------------------ registry
    @work(thread=True, exclusive=True, exit_on_error=False, group="models")
    def load_models(self) -> None:
        self.deliver(ModelsLoaded(self.client.list_models()))

    @on(ModelsLoaded)
    def show_models(self, message: ModelsLoaded) -> None:
        models = message.models
        self.models = models
        table = self.query_one("#models-table", DataTable)
        table.clear()
        for m in models:
            aliases = ", ".join(f"{k}→{v}" for k, v in (m.get("aliases") or {}).items())
            table.add_row(m["name"], str(m.get("latest_version") or "-"),
                          str(m.get("n_versions", 0)), aliases, key=m["name"])
        if models and self.model is None:
            self.choose_model(models[0]["name"])
        self.models_loaded = True

    @on(DataTable.RowSelected, "#models-table")
    @on(DataTable.RowHighlighted, "#models-table")
    def _model_row(self, event: DataTable.RowSelected | DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value != self.model:
            self.choose_model(str(event.row_key.value))

    def choose_model(self, name: str) -> None:
        self.model = name
        self.version = None
        self.load_versions(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="versions")
    def load_versions(self, name: str) -> None:
        self.deliver(VersionsLoaded(name, self.client.list_versions(name)))

    @on(VersionsLoaded)
    def show_versions(self, message: VersionsLoaded) -> None:
        self.versions = sorted(message.versions, key=lambda v: int(v["version"])
                               if str(v["version"]).isdigit() else 0, reverse=True)
        table = self.query_one("#versions-table", DataTable)
        table.clear()
        for v in self.versions:
            metrics = " ".join(f"{k}={val:.3g}" for k, val in quality_first(
                v.get("metrics") or {})[:3])
            table.add_row(str(v["version"]), v.get("architecture", ""),
                          ", ".join(v.get("aliases") or []), metrics, key=str(v["version"]))
        if self.versions:
            self.choose_version(self.versions[0])

    @on(DataTable.RowSelected, "#versions-table")
    @on(DataTable.RowHighlighted, "#versions-table")
    def _version_row(self, event: DataTable.RowSelected | DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        chosen = next((v for v in self.versions if str(v["version"]) == key), None)
        if chosen is not None and chosen is not self.version:
            self.choose_version(chosen)

    def choose_version(self, version: dict[str, Any]) -> None:
        self.version = version
        labels = self.query_one("#model-labels", SelectionList)
        labels.clear_options()
        for name in version_labels(version):
            labels.add_option((name, name, False))
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in (version.get("metrics") or {}).items())
        # differential privacy: the API's one line, for a version trained with it
        private = f"\nprivacy: {version['privacy_summary']}" if version.get("privacy") else ""
        self.query_one("#model-status", Static).update(
            f"{version['name']} v{version['version']} ({version.get('architecture', '')}) "
            f"{metrics}{private}")

    # ------------------------------------------------------------------ generation
    def _request(self) -> tuple[str, str, dict[str, Any], list[str]] | None:
        if self.model is None or self.version is None:
            self.notify("select a model version first", severity="warning")
            return None
        try:
            values = self.query_one("#sample-form", ParamForm).values()
        except FormInvalid:
            return None
        labels = list(self.query_one("#model-labels", SelectionList).selected)
        return self.model, str(self.version["version"]), values, labels

    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        request = self._request()
        if request is not None:
            self.stop_animation()
            model, version, values, labels = request
            self.query_one("#model-status", Static).update("generating...")
            self.generate(model, version, values["n"], labels, values["seed"],
                          values.get("length") or None, values.get("missing") or "none")

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(self, model: str, version: str, n: int, labels: list[str], seed: int,
                 length: int | None = None, missing: str = "none") -> None:
        result = self.client.generate(model, version, n=n, labels=labels or None, seed=seed,
                                      length=length, missing=missing)
        self.deliver(SeriesGenerated(result, n, labels, seed))

    @on(SeriesGenerated)
    def show_generated(self, message: SeriesGenerated) -> None:
        result, n, labels, seed = message.result, message.n, message.labels, message.seed
        self.generated = {**result, "request": {"n": n, "labels": labels, "seed": seed}}
        groups = group_by_label(result)
        self.query_one("#model-plot", SeriesPlot).show_series(
            groups, title=f"{result['model']} v{result['version']}: {n} per label, seed {seed}")
        shape = "×".join(str(s) for s in result.get("shape") or [])
        self.query_one("#model-status", Static).update(
            f"generated {shape} from {result['model']} v{result['version']}")

    # ------------------------------------------------------------------ interpolation
    @on(Button.Pressed, "#interpolate")
    def action_interpolate(self) -> None:
        request = self._request()
        if request is None:
            return
        model, version, values, labels = request
        names = labels or version_labels(self.version or {})
        start = names[0] if names else None
        end = names[-1] if len(names) > 1 else None
        self.stop_animation()
        self.query_one("#model-status", Static).update("interpolating...")
        self.interpolate(model, version, values["steps"], start, end, values["seed"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def interpolate(self, model: str, version: str, steps: int, start: str | None,
                    end: str | None, seed: int) -> None:
        result = self.client.interpolate(model, version, steps=steps, start_label=start,
                                         end_label=end, seed=seed)
        self.deliver(Interpolated(result, start, end))

    @on(Interpolated)
    def show_interpolation(self, message: Interpolated) -> None:
        self.frames = {**message.result, "start": message.start, "end": message.end}
        self.frame = 0
        self._draw_frame()
        self.paused = False
        self._animation = self.set_interval(FRAME_SECONDS, self._next_frame)

    def _draw_frame(self) -> None:
        if not self.frames:
            return
        values = self.frames["values"]
        alphas = self.frames.get("alphas") or [i / max(len(values) - 1, 1)
                                               for i in range(len(values))]
        k = self.frame % len(values)
        groups = {}
        if k > 0:
            groups["previous"] = [values[k - 1][0]]
        groups[f"α={alphas[k]:.2f}"] = [values[k][0]]
        path = f"{self.frames['start'] or 'z0'} → {self.frames['end'] or 'z1'}"
        self.query_one("#model-plot", SeriesPlot).show_series(
            groups, title=f"latent interpolation {path}, frame {k + 1}/{len(values)}")
        self.query_one("#model-status", Static).update(
            f"frame {k + 1}/{len(values)} ({self.frames.get('method', '')}); space pauses")

    def _next_frame(self) -> None:
        self.frame += 1
        self._draw_frame()

    def action_pause(self) -> None:
        if self._animation is None:
            return
        self.paused = not self.paused
        if self.paused:
            self._animation.pause()
        else:
            self._animation.resume()

    def stop_animation(self) -> None:
        if self._animation is not None:
            self._animation.stop()
            self._animation = None

    # ------------------------------------------------------------------ figure and saving
    @on(Button.Pressed, "#open-figure")
    def action_open_figure(self) -> None:
        """The interpolation's animated figure while one is showing, else the samples'."""
        request = self._request()
        if request is not None:
            model, version, values, labels = request
            if self.frames is not None and self._animation is not None:
                self.open_interpolation_figure(model, version, values["steps"],
                                               self.frames["start"], self.frames["end"],
                                               values["seed"])
            else:
                self.open_samples_figure(model, version, values["n"], labels, values["seed"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="figure")
    def open_samples_figure(self, model: str, version: str, n: int, labels: list[str],
                            seed: int) -> None:
        dataset = ((self.version or {}).get("config") or {}).get("dataset")
        dataset_name = dataset.get("name") if isinstance(dataset, dict) else None
        html = self.client.samples_figure_html(model, version, n=n, labels=labels or None,
                                               seed=seed, dataset=dataset_name)
        self.deliver(FigureOpened(open_html(html, f"{model}-v{version}-samples")))

    @work(thread=True, exclusive=True, exit_on_error=False, group="figure")
    def open_interpolation_figure(self, model: str, version: str, steps: int,
                                  start: str | None, end: str | None, seed: int) -> None:
        html = self.client.interpolation_figure_html(model, version, steps=steps,
                                                     start_label=start, end_label=end, seed=seed)
        self.deliver(FigureOpened(open_html(html, f"{model}-v{version}-interpolation")))

    @on(FigureOpened)
    def show_figure(self, message: FigureOpened) -> None:
        self.last_figure = message.path
        self.notify(f"opened {message.path} in the browser")

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Store exactly the series on screen (the last generation) as a new dataset."""
        generated = self.generated
        if generated is None:
            self.notify("generate some series first", severity="warning")
            return

        def chosen(name: str | None) -> None:
            if name:
                self.save(name, generated)

        default = f"{generated['model']}-v{generated['version']}-samples"
        self.app.push_screen(PromptDialog("Save the generated series as a dataset named",
                                          default), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save(self, name: str, generated: dict[str, Any]) -> None:
        payload: dict[str, Any] = {"values": generated["values"]}
        if generated.get("labels") is not None:
            payload["labels"] = generated["labels"]
            payload["label_names"] = generated.get("label_names") or []
        meta = self.client.upload_dataset(
            name, payload, tags=["synthetic", f"{generated['model']}-v{generated['version']}"])
        self.deliver(DatasetSaved(meta))

    @on(DatasetSaved)
    def show_saved(self, message: DatasetSaved) -> None:
        meta = message.meta
        self.notify(f"saved dataset {meta['name']!r} ({meta['n_series']} series)")
