"""Home: what the API is connected to, how much is stored, what happened lately."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Digits, Label, Static

from synthts_tui.messages import ReadyLoaded, SummaryLoaded
from synthts_tui.screens.base import BaseScreen


def short_target(uri: str) -> str:
    """``sqlite:////home/me/.local/share/synthts/synthts.db`` -> ``sqlite:///…/synthts.db``:
    the kind of backend and its file, not a long local path."""
    if uri.startswith("sqlite:///") and "/" in uri[len("sqlite:///"):]:
        return "sqlite:///…/" + uri.rsplit("/", 1)[-1]
    if uri.startswith("file:") or uri.startswith("/"):
        return "…/" + uri.rstrip("/").rsplit("/", 1)[-1]
    return uri


ACTIVITY_COLUMNS = (("kind", 7), ("name", 24), ("status", 10), ("details", 44), ("when", 16))


class CountCard(Vertical):
    def __init__(self, title: str, id: str) -> None:
        super().__init__(id=id, classes="count-card")
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Label(self.title_text, classes="count-title")
        yield Digits("-", classes="count-value")

    def set(self, value: int | None) -> None:
        self.query_one(Digits).update("-" if value is None else str(value))


class HomeScreen(BaseScreen):
    MODE = "home"
    LABEL = "Home"
    BINDINGS = [Binding("r", "refresh", "Refresh")]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="home-top"):
            with Vertical(id="connections", classes="panel"):
                yield Label("Connections", classes="panel-title")
                yield Static("checking...", id="connections-text")
            yield CountCard("Datasets", "count-datasets")
            yield CountCard("Jobs", "count-jobs")
            yield CountCard("Models", "count-models")
        with Vertical(id="activity", classes="panel"):
            yield Label("Recent activity", classes="panel-title")
            yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)

    def __init__(self) -> None:
        super().__init__()
        self.loaded: set[str] = set()
        """Which parts have arrived ("ready", "summary"): tests and screenshots wait on it."""

    def on_mount(self) -> None:
        table = self.query_one("#activity-table", DataTable)
        # Fixed widths: the columns do not jump as rows arrive, and the header is never drawn
        # with the widths of an earlier fill (auto widths left it stale after clear()+add_row).
        for label, width in ACTIVITY_COLUMNS:
            table.add_column(label, width=width)

    def action_refresh(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load_ready()
        self.load_summary()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ready")
    def load_ready(self) -> None:
        """Separate from the counts: a slow backend check must not hold them back."""
        self.deliver(ReadyLoaded(self.client.ready(), self.client.info()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="summary")
    def load_summary(self) -> None:
        datasets = self.client.list_datasets(limit=5, sort="-created_at")
        jobs = self.client.list_jobs(limit=5)
        models = self.client.list_models()
        self.deliver(SummaryLoaded(datasets, jobs, models))

    @on(ReadyLoaded)
    def show_ready(self, message: ReadyLoaded) -> None:
        ready, info = message.ready, message.info
        api = "connected" if self.synthts.stable else self.client.base_url
        lines = [f"api      [green]●[/] {api}"]
        for name, check in (ready.get("checks") or {}).items():
            ok = check.get("ok")
            mark = "[green]●[/]" if ok else "[red]●[/]"
            target = short_target(check.get("target") or "")
            detail = "" if ok else f" [red]{escape(str(check.get('detail') or ''))}[/]"
            lines.append(f"{name:<8} {mark} {escape(target)}{detail}")
        if "ray" not in (ready.get("checks") or {}):
            ray = info.get("ray") or "started on demand by training jobs"
            lines.append(f"ray      [cyan]○[/] {escape(str(ray))} [dim](not probed)[/]")
        if info.get("auth_required_for_writes"):
            lines.append("auth     [yellow]●[/] writes need a bearer token")
        self.query_one("#connections-text", Static).update("\n".join(lines))
        self.loaded.add("ready")

    @on(SummaryLoaded)
    def show_summary(self, message: SummaryLoaded) -> None:
        datasets, jobs, models = message.datasets, message.jobs, message.models
        self.query_one("#count-datasets", CountCard).set(datasets["page"]["total"])
        self.query_one("#count-jobs", CountCard).set(jobs["page"]["total"])
        self.query_one("#count-models", CountCard).set(len(models))
        rows: list[tuple[str, tuple[str, ...]]] = []
        for ds in datasets["items"]:
            labels = ", ".join(ds.get("label_names") or [])[:30]
            rows.append((ds.get("created_at") or "", (
                "dataset", ds["name"], ds.get("source", ""),
                f"{ds['n_series']}×{ds['n_channels']}×{ds['length']} {labels}",
                self.when(ds.get("created_at")))))
        for job in jobs["items"]:
            spec = job.get("spec") or {}
            model = job.get("model") or {}
            name = spec.get("model_name") or model.get("name") or (
                "" if self.synthts.stable else str(job["id"])[:12])
            result = f" → {model['name']} v{model['version']}" if model else ""
            rows.append((job.get("updated_at") or "", (
                "job", name, job["status"],
                f"on {spec.get('dataset', '?')} {int(job['progress'] * 100)}%{result}",
                self.when(job.get("updated_at")))))
        table = self.query_one("#activity-table", DataTable)
        table.clear()
        for _, row in sorted(rows, key=lambda r: r[0], reverse=True):
            table.add_row(*row)
        self.loaded.add("summary")
