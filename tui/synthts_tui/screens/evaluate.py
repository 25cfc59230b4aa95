"""Evaluate: run quality metrics for a model version against a dataset; show the table and
the 2-D embeddings of real vs synthetic series."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Select, SelectionList, Static

from synthts_tui.messages import (
    EmbeddingReady,
    EvaluationChoicesLoaded,
    LearnedDatasetFound,
    ReportReady,
)
from synthts_tui.screens.base import BaseScreen
from synthts_tui.widgets.param_form import FormInvalid, ParamForm
from synthts_tui.widgets.plot import SeriesPlot

EMBED_PER_LABEL = 100
EVAL_SCHEMA = [
    {"name": "n_per_label", "kind": "int", "default": 50, "low": 1, "high": 100_000,
     "help": "synthetic series per label"},
    {"name": "seed", "kind": "int", "default": 0, "low": 0, "high": 2**32 - 1,
     "help": "same seed, same synthetic series"},
]


def embedding_points(metrics: list[dict[str, Any]]) -> tuple[str, dict[str, list[list[float]]]]:
    """Find 2-D embeddings in a report: a metric whose ``details`` hold point lists."""
    for metric in metrics:
        details = metric.get("details") or {}
        emb = details.get("embedding") or details.get("embeddings") or details
        groups = {k: v for k, v in emb.items() if k in ("real", "synthetic")
                  and isinstance(v, list) and v and isinstance(v[0], list) and len(v[0]) == 2}
        if groups:
            return metric["name"], groups
    return "", {}


def verdict_text(verdict: dict[str, Any] | None) -> Text:
    """PASS / FAIL with the summary, then each class worst first (the report's lead); then the
    privacy audit the same way."""
    if not verdict:
        return Text("no verdict: no evaluated metric states a pass threshold (tick detector)",
                    style="yellow")
    # null: an audit-only verdict that failed nothing but could not vouch for every class
    word, style = {True: ("PASS", "bold green"), None: ("INCONCLUSIVE", "bold yellow")}.get(
        verdict.get("passed"), ("FAIL", "bold red"))
    out = Text()
    out.append(word, style=style)
    out.append(f": {verdict.get('summary', '')}\n")
    _class_lines(out, verdict)
    audit = verdict.get("privacy")
    if audit:
        columns = [audit, *(audit.get("guards") or [])]
        failed = any(c.get("passed") is False for v in columns for c in v.get("classes") or [])
        word, colour = (("PASS", "bold green") if audit.get("passed") else
                        ("FAIL", "bold red") if failed else ("INCONCLUSIVE", "bold yellow"))
        out.append("privacy audit ")
        out.append(word, style=colour)
        out.append(f": {audit.get('summary', '')}\n")
        _class_lines(out, audit)
    return out


def _class_lines(out: Text, verdict: dict[str, Any]) -> None:
    """One line per class, worst first: the verdict's metric and each guard's, with a word."""
    words = {True: ("pass", "green"), False: ("fail", "red"), None: ("inconclusive", "yellow")}
    guards = [(g["metric"], {c["label"]: c for c in g.get("classes") or []})
              for g in verdict.get("guards") or []]
    for c in verdict.get("classes") or []:
        word, colour = words[c.get("passed")]
        value = "-" if c.get("value") is None else f"{c['value']:.3f}"
        out.append(f"  {c['label']:<12} {verdict['metric']} {value:>6}  ")
        out.append(word, style=colour)
        for metric, by_label in guards:
            gc = by_label.get(c["label"])
            if gc is not None:
                g_word, g_colour = words[gc.get("passed")]
                g_value = "-" if gc.get("value") is None else f"{gc['value']:.2g}"
                out.append(f"  {metric} {g_value} ")
                out.append(g_word, style=g_colour)
        out.append("\n")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


class EvaluateScreen(BaseScreen):
    MODE = "evaluate"
    LABEL = "Evaluate"
    BINDINGS = [Binding("ctrl+r", "run", "Run evaluation"),
                Binding("r", "refresh", "Refresh", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] | None = None
        self.choices_loaded = False
        self.embedding: dict[str, list[list[float]]] | None = None
        self.dataset_names: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="evaluate-body"):
            with VerticalScroll(id="evaluate-form", classes="side"):
                yield Label("Model", classes="section")
                yield Select([], id="eval-model", prompt="choose a model", compact=True)
                yield Label("version (number or alias)", classes="param-label")
                yield Input("latest", id="eval-version", compact=True)
                yield Label("Dataset", classes="section")
                yield Select([], id="eval-dataset", prompt="choose a dataset",
                             compact=True)
                yield Label("Metrics (all when none ticked)", classes="section")
                yield SelectionList(id="eval-metrics")
                yield ParamForm(EVAL_SCHEMA, id="eval-form")
                yield Static("", id="eval-error", classes="param-error")
                yield Button("Run evaluation", id="run", variant="primary")
            with Vertical(id="evaluate-view"):
                verdict = Static("", id="eval-verdict")
                verdict.display = False  # shown once a report arrives
                yield verdict
                yield DataTable(id="eval-table", cursor_type="row", zebra_stripes=True)
                yield SeriesPlot("embeddings", id="eval-plot")
                yield Static("", id="eval-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#eval-table", DataTable).add_columns(
            "metric", "value", "std", "better", "per class")

    def refresh_data(self) -> None:
        self.load_choices()

    def action_refresh(self) -> None:
        self.load_choices()

    @work(thread=True, exclusive=True, exit_on_error=False, group="choices")
    def load_choices(self) -> None:
        models = self.client.list_models()
        datasets = self.client.list_datasets(limit=500, sort="name")["items"]
        metrics = self.client.metrics()
        self.deliver(EvaluationChoicesLoaded(models, datasets, metrics))

    @on(EvaluationChoicesLoaded)
    def show_choices(self, message: EvaluationChoicesLoaded) -> None:
        self.dataset_names = [d["name"] for d in message.datasets]
        for select_id, names in (("#eval-model", [m["name"] for m in message.models]),
                                 ("#eval-dataset", self.dataset_names)):
            select = self.query_one(select_id, Select)
            current = select.value
            select.set_options([(n, n) for n in names])
            if current in names:
                select.value = current
        metrics = self.query_one("#eval-metrics", SelectionList)
        ticked = set(metrics.selected)
        metrics.clear_options()
        for m in message.metrics:
            metrics.add_option((m["name"], m["name"], m["name"] in ticked))
        self.choices_loaded = True

    @on(Select.Changed, "#eval-model")
    def _model_chosen(self, event: Select.Changed) -> None:
        if event.value != Select.NULL:
            self.load_learned_dataset(str(event.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="learned")
    def load_learned_dataset(self, model: str) -> None:
        """The dataset the newest version learned: the natural one to compare against."""
        versions = self.client.list_versions(model)
        newest = max(versions, key=lambda v: int(v["version"]) if str(v["version"]).isdigit()
                     else 0, default=None)
        dataset = ((newest or {}).get("config") or {}).get("dataset") or {}
        if isinstance(dataset, dict) and dataset.get("name"):
            self.deliver(LearnedDatasetFound(dataset["name"]))

    @on(LearnedDatasetFound)
    def show_learned_dataset(self, message: LearnedDatasetFound) -> None:
        select = self.query_one("#eval-dataset", Select)
        if select.value == Select.NULL and message.name in self.dataset_names:
            select.value = message.name

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        model = self.query_one("#eval-model", Select).value
        dataset = self.query_one("#eval-dataset", Select).value
        version = self.query_one("#eval-version", Input).value.strip() or "latest"
        error = self.query_one("#eval-error", Static)
        missing = [n for n, v in (("model", model), ("dataset", dataset)) if v == Select.NULL]
        try:
            values = self.query_one("#eval-form", ParamForm).values()
        except FormInvalid:
            return
        if missing:
            error.update(f"choose a {' and a '.join(missing)}")
            return
        error.update("")
        metrics = list(self.query_one("#eval-metrics", SelectionList).selected)
        self.query_one("#eval-status", Static).update("evaluating... (metrics train small "
                                                      "classifiers; this can take a while)")
        self.query_one("#run", Button).disabled = True
        self.evaluate(str(model), version, str(dataset), metrics, values)

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluate")
    def evaluate(self, model: str, version: str, dataset: str, metrics: list[str],
                 values: dict[str, Any]) -> None:
        report = self.client.evaluate(model, version, dataset=dataset, metrics=metrics or None,
                                      n_per_label=values["n_per_label"], seed=values["seed"])
        self.deliver(ReportReady(report))
        name, groups = embedding_points(report.get("metrics") or [])
        if not groups:  # the report has no points: project both sets here
            n = min(int(values["n_per_label"]), EMBED_PER_LABEL)
            real = self.client.dataset_values(dataset, per_label=n)["values"]
            fake = self.client.generate(model, version, n=n, seed=values["seed"])["values"]
            from synthts_core.projection import pca_2d  # the evaluation's own PCA

            real_points, fake_points = (p.tolist() for p in pca_2d(real, fake))
            name, groups = "PCA", {"real": real_points, "synthetic": fake_points}
        self.deliver(EmbeddingReady(name, groups))

    @on(ReportReady)
    def show_report(self, message: ReportReady) -> None:
        report = message.report
        self.report = report
        self.query_one("#run", Button).disabled = False
        verdict = self.query_one("#eval-verdict", Static)
        verdict.update(verdict_text(report.get("verdict")))
        verdict.display = True
        table = self.query_one("#eval-table", DataTable)
        table.clear()
        for m in report.get("metrics") or []:
            per_class = " ".join(f"{k}={_fmt(v)}" for k, v in (m.get("per_class") or {}).items())
            table.add_row(m["name"], _fmt(m.get("value")), _fmt(m.get("std")),
                          "higher" if m.get("higher_is_better") else "lower", per_class[:60])
        self.query_one("#eval-plot", SeriesPlot).clear("embedding...")
        model = report.get("model") or {}
        self.query_one("#eval-status", Static).update(
            f"{model.get('name', '?')} v{model.get('version', '?')} against "
            f"{report.get('dataset')}: {report.get('n_synthetic', 0)} synthetic series")

    @on(EmbeddingReady)
    def show_embedding(self, message: EmbeddingReady) -> None:
        self.embedding = message.groups
        self.query_one("#eval-plot", SeriesPlot).show_points(
            message.groups, title=f"{message.method} of real vs synthetic series")

    def worker_failed(self, name: str, error: BaseException | None) -> bool:
        self.query_one("#run", Button).disabled = False
        self.query_one("#eval-status", Static).update("")
        return False
