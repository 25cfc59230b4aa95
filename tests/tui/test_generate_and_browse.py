"""Generate a labelled dataset from the Generate page, find and plot it on the Datasets page,
and check that an invalid parameter is caught on its field without sending anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthts_tui.app import SynthtsApp
from synthts_tui.screens.datasets import PAGE_SIZE, DatasetsScreen
from synthts_tui.screens.generate import GenerateScreen
from synthts_tui.widgets.dialogs import ConfirmDialog, ErrorDialog, PromptDialog
from synthts_tui.widgets.param_form import ParamForm
from synthts_tui.widgets.plot import SeriesPlot
from textual.widgets import Button, DataTable, Input, Select, Static

from tests.tui.tui_helpers import CountingClient, wait_for

SIZE = (160, 60)


def _set(screen, selector: str, value: str) -> None:
    screen.query_one(selector, Input).value = value


async def _open_generate(pilot) -> GenerateScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, GenerateScreen)
                            and pilot.app.screen, what="the Generate page")
    await wait_for(pilot, lambda: screen.catalogue and screen.query("#param-frequency"),
                   what="the catalogue and the sinusoidal form")
    return screen


async def test_create_dataset_then_find_plot_export_and_delete_it(
        flow_client: CountingClient, tmp_path: Path) -> None:
    app = SynthtsApp(flow_client, stable=True, start="generate")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_generate(pilot)
        form = screen.query_one("#signal-form", ParamForm)
        # the preview follows the parameters
        _set(form, "#param-frequency", "0.5")
        await wait_for(pilot, lambda: screen.query_one("#preview", SeriesPlot).drawn,
                       what="a preview")
        assert screen.query_one("#preview", SeriesPlot).drawn == {"sinusoidal": 3}

        settings = screen.query_one("#settings-form", ParamForm)
        _set(settings, "#param-count", "6")
        _set(settings, "#param-length", "64")
        _set(screen, "#label", "slow")
        await pilot.pause()
        screen.query_one("#add-class", Button).press()
        await pilot.pause()
        _set(form, "#param-frequency", "2")
        _set(screen, "#label", "fast")
        await pilot.pause()
        screen.query_one("#add-class", Button).press()
        await pilot.pause()
        assert [c["label"] for c in screen.dataset_classes] == ["slow", "fast"]
        assert screen.query_one("#classes-table", DataTable).row_count == 2

        _set(screen, "#dataset-name", "tui-two-tones")
        screen.query_one("#save", Button).press()
        saved = await wait_for(pilot, lambda: screen.last_saved, what="the dataset to save")
        assert saved["name"] == "tui-two-tones"

        # the server holds what the form described
        meta = flow_client.get_dataset("tui-two-tones")
        assert meta["label_names"] == ["slow", "fast"]
        assert meta["label_counts"] == [6, 6]
        assert meta["length"] == 64
        freqs = [c["signal"]["params"]["frequency"] for c in meta["spec"]["classes"]]
        assert freqs == [0.5, 2.0]

        # Datasets page: search, select, plot a few series per label, show the checksum
        await pilot.press("3")
        browse = await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen)
                                and app.screen, what="the Datasets page")
        browse.query_one("#search", Input).value = "two-tones"
        table = browse.query_one("#datasets-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1 and browse.total == 1,
                       what="the search result")
        table.focus()
        await pilot.press("enter")
        plot = browse.query_one("#dataset-plot", SeriesPlot)
        await wait_for(pilot, lambda: plot.drawn, what="the dataset plot")
        assert plot.drawn == {"slow": 3, "fast": 3}
        details = str(browse.query_one("#dataset-details", Static).content)
        assert meta["checksum"] in details
        assert "6 series" not in details and "12 series × 1 channels × 64 points" in details

        # export through the API into a file named in a prompt
        target = tmp_path / "two-tones.csv"
        await pilot.press("e")
        prompt = await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog)
                                and app.screen, what="the export prompt")
        prompt.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: target.exists() and target.stat().st_size > 0,
                       what="the exported file")
        lines = target.read_text().splitlines()
        assert len(lines) > 12 * 64 // 2 and "slow" in target.read_text()

        # a name that is taken: the API's own message shows in a dialog
        await pilot.press("2")
        screen = await _open_generate(pilot)
        _set(screen, "#dataset-name", "tui-two-tones")
        screen.query_one("#save", Button).press()
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog)
                                and app.screen, what="the error dialog", fail_on_error=False)
        assert "tui-two-tones" in dialog.message
        await pilot.press("escape")

        # delete asks first; "no" keeps it, "yes" removes it
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen is browse and browse.selected, what="Datasets")
        app.set_focus(None)
        for answer, still_there in (("n", True), ("y", False)):
            await pilot.press("delete")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                           what="the confirmation")
            await pilot.press(answer)
            await pilot.pause(0.3)
            await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen), what="back")
            if not still_there:
                await wait_for(pilot, lambda: table.row_count == 0, what="the row to go")
            names = [d["name"] for d in flow_client.list_datasets(limit=100)["items"]]
            assert ("tui-two-tones" in names) is still_there


async def test_invalid_parameter_shows_on_its_field_and_sends_nothing(
        flow_client: CountingClient) -> None:
    app = SynthtsApp(flow_client, stable=True, start="generate")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_generate(pilot)
        await wait_for(pilot, lambda: screen.preview_requests >= 1, what="the first preview")
        await pilot.pause(0.6)
        total_before = flow_client.list_datasets(limit=1)["page"]["total"]
        flow_client.sent.clear()

        form = screen.query_one("#signal-form", ParamForm)
        _set(form, "#param-frequency", "-1")
        field = form.field("frequency")
        await wait_for(pilot, lambda: field.error, what="the field's message")
        assert field.error.startswith("frequency: got -1.0")
        assert "allowed" in field.error and "[0," in field.error
        assert field.has_class("-invalid")

        _set(screen, "#dataset-name", "never-sent")
        screen.query_one("#save", Button).press()
        await pilot.pause(1.0)  # longer than the preview debounce

        assert flow_client.writes() == []
        assert flow_client.list_datasets(limit=1)["page"]["total"] == total_before
        status = str(screen.query_one("#preview-status", Static).content)
        assert "fix 1 field" in status

        # a non-number is caught the same way; fixing it clears the message
        _set(form, "#param-frequency", "fast")
        await wait_for(pilot, lambda: "got 'fast'" in field.error, what="the parse message")
        _set(form, "#param-frequency", "1.5")
        await wait_for(pilot, lambda: not field.error, what="the message to clear")
        await wait_for(pilot, lambda: flow_client.writes(), what="a preview after the fix")
        assert flow_client.writes() == [("POST", "/signals/preview")]


@pytest.mark.parametrize("bad", ["", "has space", "-leading-dash"])
async def test_bad_dataset_name_is_refused_locally(flow_client: CountingClient, bad: str) -> None:
    app = SynthtsApp(flow_client, stable=True, start="generate")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_generate(pilot)
        await pilot.pause(0.6)
        flow_client.sent.clear()
        _set(screen, "#dataset-name", bad)
        screen.query_one("#save", Button).press()
        await pilot.pause(0.2)
        assert "name: got" in str(screen.query_one("#name-error", Static).content)
        assert ("POST", "/datasets") not in flow_client.sent


async def test_dataset_from_a_preset_with_smaller_options(flow_client: CountingClient) -> None:
    app = SynthtsApp(flow_client, stable=True, start="generate")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_generate(pilot)
        screen.query_one("#preset", Select).value = "harmonics10"
        settings = screen.query_one("#settings-form", ParamForm)
        await wait_for(pilot, lambda: settings.field("length").control.value == "1024",
                       what="the preset's own options in the form")
        _set(settings, "#param-count", "3")
        _set(settings, "#param-length", "64")
        _set(screen, "#dataset-name", "tui-harmonics10-small")
        await pilot.pause()
        screen.query_one("#save", Button).press()
        saved = await wait_for(pilot, lambda: screen.last_saved, what="the preset dataset")
        assert saved["label_names"] == [f"{f}Hz" for f in range(1, 11)]
        assert saved["label_counts"] == [3] * 10 and saved["length"] == 64


async def test_datasets_table_pages_through_search_results(flow_client: CountingClient) -> None:
    tiny = {"length": 8, "classes": [{"label": "a", "count": 1, "signal": {
        "generator": "sinusoidal", "params": {}}}]}
    for i in range(PAGE_SIZE + 1):
        flow_client.create_dataset({"name": f"pager-{i:02d}", "spec": tiny})
    app = SynthtsApp(flow_client, stable=True, start="datasets")
    async with app.run_test(size=SIZE) as pilot:
        browse = await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen)
                                and app.screen, what="Datasets")
        browse.query_one("#search", Input).value = "pager-"
        table = browse.query_one("#datasets-table", DataTable)
        await wait_for(pilot, lambda: browse.total == PAGE_SIZE + 1
                       and table.row_count == PAGE_SIZE, what="the first page")
        label = browse.query_one("#page-label")
        assert "page 1/2" in str(label.content)
        assert browse.query_one("#prev", Button).disabled
        table.focus()
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: table.row_count == 1, what="the second page")
        assert browse.items[0]["name"] == f"pager-{PAGE_SIZE:02d}"
        assert "page 2/2" in str(label.content) and browse.query_one("#next", Button).disabled
        await pilot.click("#prev")
        await wait_for(pilot, lambda: table.row_count == PAGE_SIZE, what="back to page one")


async def test_a_cross_field_error_from_the_server_lands_on_its_field(
        flow_client: CountingClient) -> None:
    """AR(1) with phi = 1.5 is inside the schema's bounds but not stationary: only the
    generator's own check (on the server) knows. The preview's 422 goes on the field."""
    app = SynthtsApp(flow_client, stable=True, start="generate")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_generate(pilot)
        screen.query_one("#signal", Select).value = "autoregressive"
        await wait_for(pilot, lambda: screen.query("#param-ar_param"), what="the AR form")
        form = screen.query_one("#signal-form", ParamForm)
        _set(form, "#param-ar_param", "1.5")
        field = form.field("ar_param")
        await wait_for(pilot, lambda: "stationary" in field.error, what="the server's message")
        assert "ar_param" in field.error
        assert "stationary" in str(screen.query_one("#preview-status", Static).content)
        assert not isinstance(app.screen, ErrorDialog)  # said on the page, not in a dialog
        _set(form, "#param-ar_param", "0.5")
        await wait_for(pilot, lambda: not field.error, what="the message to clear")


async def test_dataset_details_state_the_missing_points_and_the_plot_breaks_there(
        flow_client: CountingClient) -> None:
    """A dataset with missing points (uploaded with null) and series of different lengths
    (ragged lists): the details state the share of missing points and the lengths, and the
    plot draws each run of observed points (a gap at the missing ones, a shorter series
    ending early, no crash)."""
    series = [[float(t) for t in range(12)] for _ in range(4)]
    for row in series:
        row[3:5] = [None, None]
    series[2][:] = [None] * 11 + [1.0]
    series[3] = series[3][:7]
    flow_client.upload_dataset("tui-holes", {"values": series, "labels": ["a", "b", "a", "b"]})
    app = SynthtsApp(flow_client, stable=True, start="datasets")
    async with app.run_test(size=SIZE) as pilot:
        browse = await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen)
                                and app.screen, what="the Datasets page")
        await pilot.pause()
        browse.select_dataset("tui-holes")
        plot = browse.query_one("#dataset-plot", SeriesPlot)
        shown = browse.query_one("#dataset-details", Static)
        await wait_for(pilot, lambda: "name      tui-holes" in str(shown.content) and plot.drawn,
                       what="the dataset plot")  # not the first row's dataset
        assert plot.drawn == {"a": 2, "b": 2}
        details = str(shown.content)
        assert "missing   39.5 % of points (17 values)" in details  # of 43 own points
        assert "lengths   lengths 7\N{EN DASH}12 points" in details
    flow_client.delete_dataset("tui-holes")


def test_a_plotted_line_breaks_at_each_missing_point() -> None:
    from synthts_tui.widgets.plot import _observed_runs

    assert _observed_runs([1.0, None, float("nan"), 2.0, 3.0, None]) == [(0, 1), (3, 5)]
    assert _observed_runs([None, None]) == [] and _observed_runs([1.0, 2.0]) == [(0, 2)]
