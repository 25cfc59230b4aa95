"""Generate: pick a signal, set its parameters (checked on the field before anything is sent),
watch a live preview, collect classes and save a labelled dataset under a name."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from synthts_core.domain import check_name
from synthts_core.errors import BadInputError
from synthts_tui.client import ApiError
from synthts_tui.messages import CatalogueLoaded, DatasetSaved, PreviewLoaded
from synthts_tui.screens.base import BaseScreen
from synthts_tui.widgets.param_form import FormInvalid, ParamForm
from synthts_tui.widgets.plot import SeriesPlot

NO_NOISE = "__none__"
NO_PRESET = "__none__"
PREVIEW_SERIES = 3
PREVIEW_DELAY = 0.35
SETTINGS_SCHEMA = [
    {"name": "length", "kind": "int", "default": 256, "low": 2, "high": 100_000,
     "help": "points per series"},
    {"name": "step", "kind": "float", "default": 0.05, "low": 0, "low_exclusive": True,
     "high": 1e9, "help": "time between points"},
    {"name": "count", "kind": "int", "default": 20, "low": 1, "high": 1_000_000,
     "help": "series in this class"},
    {"name": "seed", "kind": "int", "default": 0, "low": 0, "high": 2**32 - 1,
     "help": "same seed, same data"},
]


class GenerateScreen(BaseScreen):
    MODE = "generate"
    LABEL = "Generate"
    BINDINGS = [Binding("ctrl+s", "save", "Save dataset"), Binding("ctrl+a", "add_class",
                                                                     "Add class")]

    def __init__(self) -> None:
        super().__init__()
        self.catalogue: dict[str, Any] = {}
        self.dataset_classes: list[dict[str, Any]] = []
        self._preview_timer: Timer | None = None
        self.preview_requests = 0
        self.last_saved: dict[str, Any] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="generate-body"):
            with VerticalScroll(id="generate-form", classes="side"):
                yield Label("Signal", classes="section")
                yield Select([], id="signal", prompt="loading catalogue...", compact=True)
                yield Static("", id="signal-help", classes="param-help")
                yield ParamForm(id="signal-form")
                yield Label("Noise", classes="section")
                yield Select([("none", NO_NOISE)], id="noise", value=NO_NOISE, allow_blank=False,
                             compact=True)
                yield ParamForm(id="noise-form")
                yield Label("Class", classes="section")
                yield ParamForm(SETTINGS_SCHEMA, id="settings-form")
                yield Label("label", classes="param-label")
                yield Input(placeholder="class label (default: the signal name)", id="label",
                            compact=True)
                yield Static("", id="label-error", classes="param-error")
                yield Button("Add class", id="add-class")
                yield DataTable(id="classes-table", cursor_type="row")
                yield Label("Or a preset (replaces the classes above)", classes="section")
                yield Select([("none", NO_PRESET)], id="preset", value=NO_PRESET,
                             allow_blank=False, compact=True)
                yield Static("", id="preset-help", classes="param-help", markup=False)
                yield Label("Dataset name", classes="section")
                yield Input(placeholder="e.g. harmonics-small", id="dataset-name", compact=True)
                yield Static("", id="name-error", classes="param-error")
                yield Button("Save dataset", id="save", variant="primary")
            with Vertical(id="generate-preview"):
                yield SeriesPlot("preview", id="preview")
                yield Static("", id="preview-status")

    def on_mount(self) -> None:
        table = self.query_one("#classes-table", DataTable)
        table.add_columns("label", "signal", "noise", "count")
        self.load_catalogue()

    # ------------------------------------------------------------------ catalogue
    @work(thread=True, exclusive=True, exit_on_error=False, group="catalogue")
    def load_catalogue(self) -> None:
        self.deliver(CatalogueLoaded(self.client.catalogue()))

    @on(CatalogueLoaded)
    def show_catalogue(self, message: CatalogueLoaded) -> None:
        catalogue = message.catalogue
        self.catalogue = catalogue
        signals = [(s["name"], s["name"]) for s in catalogue.get("signals", [])]
        noises = [("none", NO_NOISE)] + [(s["name"], s["name"])
                                         for s in catalogue.get("noises", [])]
        select = self.query_one("#signal", Select)
        select.set_options(signals)
        self.query_one("#noise", Select).set_options(noises)
        self.query_one("#noise", Select).value = NO_NOISE
        presets = self.query_one("#preset", Select)
        presets.set_options([("none", NO_PRESET)] + [(p["name"], p["name"])
                                                     for p in catalogue.get("presets", [])])
        presets.value = NO_PRESET
        if signals:
            first = "sinusoidal" if any(n == "sinusoidal" for n, _ in signals) else signals[0][1]
            select.value = first

    def _generator(self, name: str) -> dict[str, Any] | None:
        for item in [*self.catalogue.get("signals", []), *self.catalogue.get("noises", [])]:
            if item["name"] == name:
                return item
        return None

    async def _replace_form(self, form_id: str, params: list[dict[str, Any]]) -> None:
        old = self.query_one(f"#{form_id}", ParamForm)
        new = ParamForm(params, id=form_id)
        await old.remove()
        anchor = "#signal-help" if form_id == "signal-form" else "#noise"
        await self.query_one("#generate-form").mount(new, after=anchor)

    @on(Select.Changed, "#signal")
    async def _signal_chosen(self, event: Select.Changed) -> None:
        gen = self._generator(str(event.value)) if event.value != Select.NULL else None
        self.query_one("#signal-help", Static).update(gen["description"] if gen else "")
        await self._replace_form("signal-form", gen["params"] if gen else [])
        self.schedule_preview()

    @on(Select.Changed, "#noise")
    async def _noise_chosen(self, event: Select.Changed) -> None:
        gen = self._generator(str(event.value)) if event.value != NO_NOISE else None
        await self._replace_form("noise-form", gen["params"] if gen else [])
        self.schedule_preview()

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        preset = next((p for p in self.catalogue.get("presets", [])
                       if p["name"] == event.value), None)
        text = ""
        if preset is not None:
            spec = preset.get("spec") or {}
            classes = spec.get("classes") or []
            counts = sum(int(c.get("count", 0)) for c in classes)
            text = (f"{preset.get('description', '')} · {len(classes)} classes, {counts} "
                    f"series of {spec.get('length', '?')} points; count, length and seed "
                    f"below are passed to the preset")
            settings = self.query_one("#settings-form", ParamForm)
            defaults = {"length": spec.get("length"), "seed": spec.get("seed"),
                        "count": classes[0].get("count") if classes else None}
            for key, value in defaults.items():
                if value is not None:
                    settings.field(key).control.value = str(value)
        self.query_one("#preset-help", Static).update(text)

    # ------------------------------------------------------------------ preview
    @on(ParamForm.Changed)
    def _params_changed(self, event: ParamForm.Changed) -> None:
        self.schedule_preview()

    def schedule_preview(self) -> None:
        """Debounce: only the last edit in a burst asks the API for a preview."""
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview_now)

    def _current_class(self, *, need_label: bool = False) -> dict[str, Any]:
        """The class the form describes; raises ``FormInvalid`` with messages on the fields."""
        errors: dict[str, str] = {}
        signal = self.query_one("#signal", Select).value
        if signal == Select.NULL:
            errors["signal"] = "choose a signal"
        noise = self.query_one("#noise", Select).value
        parts: dict[str, Any] = {}
        for form_id in ("signal-form", "noise-form", "settings-form"):
            try:
                parts[form_id] = self.query_one(f"#{form_id}", ParamForm).values()
            except FormInvalid as exc:
                errors.update(exc.errors)
        label = self.query_one("#label", Input).value.strip() or str(signal)
        if need_label and any(c["label"] == label for c in self.dataset_classes):
            errors["label"] = f"label: {label!r} is already a class of this dataset"
        self.query_one("#label-error", Static).update(errors.get("label", ""))
        if errors:
            raise FormInvalid(errors)
        klass: dict[str, Any] = {
            "label": label, "count": parts["settings-form"]["count"],
            "signal": {"generator": signal, "params": parts["signal-form"]},
        }
        if noise != NO_NOISE:
            klass["noise"] = {"generator": noise, "params": parts["noise-form"]}
        klass["_settings"] = parts["settings-form"]
        return klass

    def _preview_now(self) -> None:
        try:
            klass = self._current_class()
        except FormInvalid as exc:
            self.query_one("#preview-status", Static).update(
                f"[red]fix {len(exc.errors)} field(s) to see a preview[/]")
            return
        settings = klass["_settings"]
        body: dict[str, Any] = {"signal": klass["signal"], "n": PREVIEW_SERIES,
                                "length": settings["length"], "seed": settings["seed"],
                                "sampling": {"step": settings["step"]}}
        if "noise" in klass:
            body["noise"] = klass["noise"]
        self.query_one("#preview-status", Static).update("previewing...")
        self.fetch_preview(body, klass["label"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def fetch_preview(self, body: dict[str, Any], label: str) -> None:
        self.preview_requests += 1
        self.deliver(PreviewLoaded(self.client.preview(body), label, body))

    @on(PreviewLoaded)
    def show_preview(self, message: PreviewLoaded) -> None:
        data, label, body = message.data, message.label, message.body
        times = data.get("times") or []
        x = times if times and not isinstance(times[0], list) else None
        self.query_one("#preview", SeriesPlot).show_series(
            {label: data["values"]}, x=x, title=f"preview: {body['signal']['generator']}")
        self.query_one("#preview-status", Static).update(
            f"{len(data['values'])} series × {body['length']} points, seed {body['seed']}")

    # ------------------------------------------------------------------ classes and saving
    @on(Button.Pressed, "#add-class")
    def action_add_class(self) -> None:
        try:
            klass = self._current_class(need_label=True)
        except FormInvalid:
            return
        self.dataset_classes.append(klass)
        self._redraw_classes()
        self.query_one("#label", Input).value = ""

    def _redraw_classes(self) -> None:
        table = self.query_one("#classes-table", DataTable)
        table.clear()
        for c in self.dataset_classes:
            table.add_row(c["label"], c["signal"]["generator"],
                          (c.get("noise") or {}).get("generator", "-"), str(c["count"]))

    @on(DataTable.RowSelected, "#classes-table")
    def _remove_class(self, event: DataTable.RowSelected) -> None:
        """Selecting a class (Enter or click) removes it from the list."""
        del self.dataset_classes[event.cursor_row]
        self._redraw_classes()

    def _dataset_name(self) -> str:
        error = self.query_one("#name-error", Static)
        try:
            name = check_name(self.query_one("#dataset-name", Input).value.strip())
        except BadInputError as exc:
            error.update(exc.message)
            raise FormInvalid({"name": exc.message}) from None
        error.update("")
        return name

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#dataset-name")
    def action_save(self) -> None:
        """Check every field first; nothing is sent while any of them is invalid."""
        errors: dict[str, str] = {}
        try:
            name = self._dataset_name()
        except FormInvalid as exc:
            errors.update(exc.errors)
        preset = self.query_one("#preset", Select).value
        if preset != NO_PRESET:
            try:
                options = self.query_one("#settings-form", ParamForm).values()
            except FormInvalid as exc:
                errors.update(exc.errors)
            if errors:
                self.notify(f"{len(errors)} field(s) need fixing", severity="error")
                return
            overrides = {k: options[k] for k in ("count", "length", "seed")}
            self.query_one("#save", Button).disabled = True
            self.save_dataset({"name": name, "preset": preset, "overrides": overrides})
            return
        try:
            current = self._current_class(need_label=False)
        except FormInvalid as exc:
            errors.update(exc.errors)
        if errors:
            self.notify(f"{len(errors)} field(s) need fixing", severity="error")
            return
        classes = self.dataset_classes or [current]
        settings = current["_settings"]
        spec = {"length": settings["length"], "seed": settings["seed"],
                "sampling": {"step": settings["step"]},
                "classes": [{k: v for k, v in c.items() if not k.startswith("_")}
                            for c in classes]}
        self.query_one("#save", Button).disabled = True
        self.save_dataset({"name": name, "spec": spec})

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save_dataset(self, body: dict[str, Any]) -> None:
        self.deliver(DatasetSaved(self.client.create_dataset(body)))

    @on(DatasetSaved)
    def show_saved(self, message: DatasetSaved) -> None:
        meta = message.meta
        self.last_saved = meta
        self.query_one("#save", Button).disabled = False
        self.notify(f"saved dataset {meta['name']!r}: {meta['n_series']} series, "
                    f"labels {', '.join(meta.get('label_names') or [])}")

    def worker_failed(self, name: str, error: BaseException | None) -> bool:
        if name == "fetch_preview" and isinstance(error, ApiError) and error.status == 422:
            # a live preview is not worth a dialog per keystroke: say it where it shows
            self.query_one("#preview-status", Static).update(f"[red]{escape(error.detail)}[/]")
            if error.field:
                self._show_field_error(error)
            return True
        self.query_one("#save", Button).disabled = False
        if isinstance(error, ApiError) and error.field:
            self._show_field_error(error)
        return False

    def _show_field_error(self, error: ApiError) -> None:
        field = error.field or ""
        if field == "name":
            self.query_one("#name-error", Static).update(error.detail)
            return
        for form in self.query(ParamForm):
            if form.show_error(field, error.detail):
                return
