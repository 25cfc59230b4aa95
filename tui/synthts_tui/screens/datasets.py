"""Datasets: a paged, searchable table; select one to plot a few series per label and see
its spec, checksum and size; export it, open its figure in the browser, delete it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Static

from synthts_core.domain import human_bytes, lengths_text, missing_text
from synthts_tui.browser import open_html
from synthts_tui.messages import (
    DatasetDeleted,
    DatasetExported,
    DatasetLoaded,
    DatasetPageLoaded,
    FigureOpened,
)
from synthts_tui.screens.base import BaseScreen
from synthts_tui.widgets.dialogs import ConfirmDialog, PromptDialog
from synthts_tui.widgets.plot import SeriesPlot

PAGE_SIZE = 15
PER_LABEL = 3
EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".npy": "npy"}


class DatasetsScreen(BaseScreen):
    MODE = "datasets"
    LABEL = "Datasets"
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("left_square_bracket", "page(-1)", "Prev page"),
        Binding("right_square_bracket", "page(1)", "Next page"),
        Binding("e", "export", "Export"),
        Binding("o", "open_figure", "Open figure"),
        Binding("delete", "delete", "Delete"),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.total = 0
        self.items: list[dict[str, Any]] = []
        self.selected: dict[str, Any] | None = None
        self._search_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="datasets-bar"):
            yield Input(placeholder="search names...", id="search", compact=True)
            yield Button("◀", id="prev", compact=True)
            yield Label("", id="page-label")
            yield Button("▶", id="next", compact=True)
        with Horizontal(id="datasets-body"):
            yield DataTable(id="datasets-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="dataset-view"):
                yield SeriesPlot("select a dataset", id="dataset-plot")
                with Horizontal(id="dataset-actions"):
                    yield Button("Export", id="export")
                    yield Button("Open figure", id="open-figure")
                    yield Button("Delete", id="delete", variant="error")
                with VerticalScroll(id="dataset-details-box"):
                    yield Static("", id="dataset-details", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#datasets-table", DataTable)
        table.add_columns("name", "series", "ch", "length", "labels", "source")

    def refresh_data(self) -> None:
        self.load_page()

    def action_refresh(self) -> None:
        self.load_page()

    # ------------------------------------------------------------------ table
    @property
    def search_text(self) -> str:
        return self.query_one("#search", Input).value.strip()

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def load_page(self) -> None:
        page = self.client.list_datasets(offset=self.page_offset, limit=PAGE_SIZE,
                                         name_contains=self.search_text or None, sort="name")
        self.deliver(DatasetPageLoaded(page))

    @on(DatasetPageLoaded)
    def show_page(self, message: DatasetPageLoaded) -> None:
        page = message.page
        info = page["page"]
        self.items = page["items"]
        self.total = info["total"]
        table = self.query_one("#datasets-table", DataTable)
        table.clear()
        for ds in self.items:
            table.add_row(ds["name"], str(ds["n_series"]), str(ds["n_channels"]),
                          str(ds["length"]), ", ".join(ds.get("label_names") or [])[:24],
                          ds.get("source", ""), key=ds["name"])
        pages = max(1, -(-self.total // PAGE_SIZE))
        self.query_one("#page-label", Label).update(
            f" page {self.page_offset // PAGE_SIZE + 1}/{pages} · {self.total} datasets ")
        self.query_one("#prev", Button).disabled = info.get("prev_offset") is None
        self.query_one("#next", Button).disabled = info.get("next_offset") is None

    def action_page(self, step: int) -> None:
        new = self.page_offset + step * PAGE_SIZE
        if 0 <= new < max(self.total, 1):
            self.page_offset = new
            self.load_page()

    @on(Button.Pressed, "#prev")
    def _prev(self) -> None:
        self.action_page(-1)

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        self.action_page(1)

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self.page_offset = 0
        self._search_timer = self.set_timer(0.3, self.load_page)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.query_one("#datasets-table", DataTable).focus()

    # ------------------------------------------------------------------ one dataset
    @on(DataTable.RowSelected, "#datasets-table")
    @on(DataTable.RowHighlighted, "#datasets-table")
    def _row_chosen(self, event: DataTable.RowSelected | DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key is not None else None
        on_page = any(d["name"] == name for d in self.items)  # stale events name gone rows
        if name and on_page and (self.selected is None or self.selected["name"] != name):
            self.select_dataset(str(name))

    def select_dataset(self, name: str) -> None:
        self.selected = next((d for d in self.items if d["name"] == name), {"name": name})
        self.query_one("#dataset-details", Static).update(f"loading {name}...")
        self.load_dataset(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="dataset")
    def load_dataset(self, name: str) -> None:
        meta = self.client.get_dataset(name)
        values = self.client.dataset_values(name, per_label=PER_LABEL, channels=[0])
        self.deliver(DatasetLoaded(meta, values))

    @on(DatasetLoaded)
    def show_dataset(self, message: DatasetLoaded) -> None:
        meta, values = message.meta, message.values
        self.selected = meta
        names = values.get("label_names") or meta.get("label_names") or []
        groups: dict[str, list[list[float]]] = {}
        labels = values.get("labels")
        for i, series in enumerate(values["values"]):
            label = names[labels[i]] if labels is not None and names else "series"
            groups.setdefault(label, []).append(series[0])
        times = values.get("times") or []
        x = times if times and not isinstance(times[0], list) else None
        self.query_one("#dataset-plot", SeriesPlot).show_series(
            groups, x=x, title=f"{meta['name']}: {PER_LABEL} series per label (channel 0)")
        self.query_one("#dataset-details", Static).update(self._details(meta))

    def _details(self, meta: dict[str, Any]) -> str:
        counts = ", ".join(f"{n}={c}" for n, c in zip(meta.get("label_names") or [],
                                                      meta.get("label_counts") or [],
                                                      strict=False))
        own = meta.get("n_values", 0) if meta.get("n_points") is None else \
            meta["n_points"] * meta["n_channels"]  # padding is neither observed nor missing
        lines = [
            f"name      {meta['name']}",
            f"shape     {meta['n_series']} series × {meta['n_channels']} channels × "
            f"{meta['length']} points",
            f"size      {human_bytes(meta.get('n_values', 0) * 4)} (float32)",
            *([f"lengths   {lengths_text(meta['min_length'], meta['length'])}"]
              if meta.get("min_length") is not None else []),
            *([f"missing   {missing_text(meta['n_missing'], own)}"]
              if meta.get("n_missing") else []),
            f"labels    {counts or '-'}",
            f"source    {meta.get('source', '')}",
            f"made by   {', '.join(meta.get('generators') or []) or '-'}",
            f"checksum  {meta.get('checksum', '')}",
        ]
        created = self.when(meta.get("created_at"))
        if created:
            lines.append(f"created   {created}")
        if meta.get("tags"):
            lines.append(f"tags      {', '.join(meta['tags'])}")
        if meta.get("spec") is not None:
            lines.append("spec")
            lines.append(json.dumps(meta["spec"], indent=2))
        return "\n".join(lines)

    # ------------------------------------------------------------------ actions
    def _need_selection(self) -> str | None:
        if self.selected is None:
            self.notify("select a dataset first", severity="warning")
            return None
        return str(self.selected["name"])

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        name = self._need_selection()
        if name is None:
            return

        def chosen(path: str | None) -> None:
            if path:
                target = Path(path).expanduser()
                fmt = EXPORT_FORMATS.get(target.suffix.lower())
                if fmt is None:
                    self.notify(f"file name must end with {', '.join(EXPORT_FORMATS)}",
                                severity="error")
                    return
                self.export_dataset(name, fmt, target)

        self.app.push_screen(PromptDialog("Export to file (.csv, .parquet or .npy)",
                                          f"{name}.csv"), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export_dataset(self, name: str, fmt: str, target: Path) -> None:
        data = self.client.export_dataset(name, fmt)
        target.write_bytes(data)
        self.deliver(DatasetExported(str(target), len(data)))

    @on(DatasetExported)
    def show_exported(self, message: DatasetExported) -> None:
        self.notify(f"wrote {message.path} ({human_bytes(message.size)})")

    @on(Button.Pressed, "#open-figure")
    def action_open_figure(self) -> None:
        name = self._need_selection()
        if name is not None:
            self.open_figure(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="figure")
    def open_figure(self, name: str) -> None:
        html = self.client.dataset_figure_html(name, per_label=PER_LABEL * 2)
        self.deliver(FigureOpened(open_html(html, f"dataset-{name}")))

    @on(FigureOpened)
    def show_figure(self, message: FigureOpened) -> None:
        self.notify(f"opened {message.path} in the browser")

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        name = self._need_selection()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_dataset(name)

        self.app.push_screen(ConfirmDialog(f"Delete dataset {name!r}? This cannot be undone."),
                             answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="delete")
    def delete_dataset(self, name: str) -> None:
        self.client.delete_dataset(name)
        self.deliver(DatasetDeleted(name))

    @on(DatasetDeleted)
    def show_deleted(self, message: DatasetDeleted) -> None:
        name = message.name
        self.notify(f"deleted dataset {name!r}")
        self.items = [d for d in self.items if d["name"] != name]
        self.selected = None
        self.query_one("#dataset-plot", SeriesPlot).clear("select a dataset")
        self.query_one("#dataset-details", Static).update("")
        self.load_page()
