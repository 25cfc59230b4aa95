"""Submit a small training job from the Train page and watch it finish; then, on the Models
page, generate from the registered version, animate an interpolation, open a figure and save
the generated series; on the Evaluate page, score the version against its dataset.

Real parts throughout: the API over HTTP, SQLite storage, MLflow on SQLite, a local Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthts_tui.app import SynthtsApp
from synthts_tui.screens.evaluate import EvaluateScreen
from synthts_tui.screens.models import ModelsScreen
from synthts_tui.screens.train import TrainScreen
from synthts_tui.widgets.dialogs import ConfirmDialog
from synthts_tui.widgets.job_progress import JobProgress, TrialRow
from synthts_tui.widgets.param_form import ParamForm
from synthts_tui.widgets.plot import SeriesPlot
from textual.widgets import Button, DataTable, Select, SelectionList, TextArea

from synthts_core.plugins import make_plugin_manager
from synthts_core.services.training import default_select_metric
from tests.tui.tui_helpers import CountingClient, wait_for

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TINY_SPACE = {"latent_dim": 8, "batch_size": 16, "n_critic": 2, "embed_dim": 4,
              "conv_width": 8, "conv_layers": 2}
DATASET = {"name": "tui-train-set", "spec": {
    "length": 32, "seed": 1, "sampling": {"step": 0.1},
    "classes": [{"label": "slow", "count": 24,
                 "signal": {"generator": "sinusoidal", "params": {"frequency": 0.3}}},
                {"label": "fast", "count": 24,
                 "signal": {"generator": "sinusoidal", "params": {"frequency": 1.2}}}]}}


async def test_train_then_generate_interpolate_save_and_evaluate(
        flow_client: CountingClient, local_ray: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHTS_TUI_NO_BROWSER", "1")
    flow_client.create_dataset(DATASET)
    app = SynthtsApp(flow_client, stable=True, poll_interval=0.5, start="train")
    async with app.run_test(size=(160, 60)) as pilot:
        train = await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen
                               and app.screen.choices_loaded, what="the Train page")
        train = app.screen
        train.query_one("#train-dataset", Select).value = "tui-train-set"
        labels = train.query_one("#train-labels", SelectionList)
        await wait_for(pilot, lambda: labels.option_count == 2, what="the dataset's labels")
        archs = train.query_one("#train-archs", SelectionList)
        archs.deselect_all()
        archs.select("cgan")
        archs.select("cwgan_gp")  # both conditional: the registered model generates per label
        form = train.query_one("#job-form", ParamForm)
        form.field("num_trials").control.value = "2"
        form.field("epochs").control.value = "2"
        train.query_one("#search-space", TextArea).text = json.dumps(TINY_SPACE)
        await pilot.pause()
        train.query_one("#submit", Button).press()
        job = await wait_for(pilot, lambda: train.last_submitted, what="the job to be accepted")
        # the metric left empty is the server's default, as for the CLI and the API: the one
        # that gives the verdict (the form once sent "mmd" itself)
        assert form.field("select_metric").read() is None
        assert job["spec"]["select_metric"] == default_select_metric(
            make_plugin_manager().registries)

        progress = train.query_one("#job-progress", JobProgress)
        await wait_for(pilot, lambda: train.watched_job and train.watched_job["terminal"],
                       timeout=240, what="the job to finish")
        done = train.watched_job
        assert done["id"] == job["id"]
        assert done["status"] == "succeeded", done["errors"]
        await pilot.pause(0.2)
        rows = list(progress.query(TrialRow))
        assert len(rows) == 2
        assert all(r.query_one("ProgressBar").percentage == 1.0 for r in rows)
        assert sum(train.query_one("#metrics-plot", SeriesPlot).drawn.values()) == 2
        table = train.query_one("#jobs-table", DataTable)
        assert any("succeeded" in str(c) for c in table.get_row_at(0))
        model = done["model"]
        assert model is not None

        # Models: the registered version generates per label
        await pilot.press("5")
        models = await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen)
                                and app.screen, what="the Models page")
        await wait_for(pilot, lambda: models.version is not None
                       and models.model == model["name"], what="the registered version")
        sample = models.query_one("#sample-form", ParamForm)
        sample.field("n").control.value = "2"
        sample.field("steps").control.value = "5"
        await pilot.pause()
        models.action_generate()
        plot = models.query_one("#model-plot", SeriesPlot)
        await wait_for(pilot, lambda: models.generated, what="generated series")
        assert plot.drawn == {"slow": 2, "fast": 2}
        assert models.generated["shape"] == [4, 1, 32]

        models.action_open_figure()  # samples beside real series of the training set
        figure = await wait_for(pilot, lambda: models.last_figure, what="the samples figure")
        assert "plotly" in Path(figure).read_text()
        assert Path(figure).name.startswith(f"{model['name']}-v{model['version']}-samples")
        models.last_figure = None

        models.action_save()
        await pilot.pause(0.3)
        await pilot.press("enter")  # accept the suggested name in the prompt
        name = f"{model['name']}-v{model['version']}-samples"
        await wait_for(pilot, lambda: any(d["name"] == name for d in flow_client.list_datasets(
            limit=100)["items"]), what="the saved dataset")
        saved = flow_client.get_dataset(name)
        assert saved["n_series"] == 4 and saved["label_names"] == ["slow", "fast"]

        # Evaluate: one cheap metric against the training dataset
        await pilot.press("6")
        evaluate = await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen)
                                  and app.screen.choices_loaded and app.screen,
                                  what="the Evaluate page")
        evaluate.query_one("#eval-model", Select).value = model["name"]
        dataset_select = evaluate.query_one("#eval-dataset", Select)
        await wait_for(pilot, lambda: dataset_select.value == "tui-train-set",
                       what="the dataset the model learned, chosen for us")
        evaluate.query_one("#eval-metrics", SelectionList).select("mmd")
        evaluate.query_one("#eval-form", ParamForm).field("n_per_label").control.value = "10"
        await pilot.pause()
        evaluate.action_run()
        report = await wait_for(pilot, lambda: evaluate.report, timeout=60,
                                what="the evaluation report")
        assert [m["name"] for m in report["metrics"]] == ["mmd"]
        table = evaluate.query_one("#eval-table", DataTable)
        assert table.row_count == 1 and str(table.get_row_at(0)[0]) == "mmd"
        verdict = evaluate.query_one("#eval-verdict")
        assert verdict.display and "no verdict" in str(verdict.render())
        plot = evaluate.query_one("#eval-plot", SeriesPlot)
        await wait_for(pilot, lambda: plot.drawn, what="the embedding plot")
        assert plot.drawn == {"real": 20, "synthetic": 20}

        # back on Models: the interpolation animates, pauses, and opens as a figure
        await pilot.press("5")
        await wait_for(pilot, lambda: app.screen is models, what="the Models page again")
        models.action_interpolate()
        await wait_for(pilot, lambda: models.frames, what="interpolation frames")
        assert len(models.frames["values"]) == 5
        first = models.frame
        await wait_for(pilot, lambda: models.frame >= first + 2, what="the animation to step")
        models.action_pause()
        stopped = models.frame
        await pilot.pause(0.5)
        assert models.frame == stopped

        # while the interpolation is on screen, "open figure" opens its animated plotly page
        models.action_open_figure()
        figure = await wait_for(pilot, lambda: models.last_figure, what="the figure")
        assert "plotly" in Path(figure).read_text()
        assert Path(figure).name.startswith(f"{model['name']}-v{model['version']}-interpolation")


async def test_cancel_a_running_job(flow_client: CountingClient, local_ray: str) -> None:
    name = "tui-cancel-set"
    flow_client.create_dataset({**DATASET, "name": name})
    app = SynthtsApp(flow_client, stable=True, poll_interval=0.5, start="train")
    async with app.run_test(size=(160, 60)) as pilot:
        train = await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen)
                               and app.screen.choices_loaded and app.screen, what="Train")
        train.query_one("#train-dataset", Select).value = name
        archs = train.query_one("#train-archs", SelectionList)
        archs.deselect_all()
        archs.select("wgan_gp")
        form = train.query_one("#job-form", ParamForm)
        form.field("num_trials").control.value = "1"
        form.field("epochs").control.value = "5000"
        space = {k: v for k, v in TINY_SPACE.items() if k != "embed_dim"}
        train.query_one("#search-space", TextArea).text = json.dumps(space)
        await pilot.pause()
        train.action_submit()
        job = await wait_for(pilot, lambda: train.last_submitted, what="the job")
        await wait_for(pilot, lambda: train.watched_job and train.watched_job["status"]
                       == "running", timeout=120, what="the job to run")
        app.set_focus(None)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: train.watched_job["status"] == "cancelled",
                       timeout=120, what="the job to be cancelled")
        stored = flow_client.get_job(job["id"])
        assert stored["status"] == "cancelled" and stored["terminal"]
        assert stored["trials"][0]["epoch"] < 5000
        assert train.query_one("#cancel", Button).disabled
