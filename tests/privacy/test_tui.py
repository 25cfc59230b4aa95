"""The TUI's model view shows a DP version's privacy line (from the API's version read), and
nothing for a version trained without DP. The API is served for real (uvicorn on loopback,
SQLite storage, MLflow on SQLite); the versions are registered from GAN trainers trained here
one epoch, the DP one with its record as a trial writes it (the trial itself is covered by
test_recorded.py)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from synthts_tui.app import SynthtsApp
from synthts_tui.screens.models import ModelsScreen
from textual.widgets import DataTable, Static

from synthts_core.domain import ModelBundle
from synthts_core.runtime import Runtime
from tests.tui.conftest import make_api, mlflow_template  # noqa: F401 - fixtures
from tests.tui.tui_helpers import CountingClient, wait_for

pytestmark = pytest.mark.slow


def _register(rt: Runtime, name: str, dp_epsilon: float | None) -> None:
    arch = rt.registries.architectures.get("cwgan_gp")
    config = {**arch.space.defaults(), "latent_dim": 8, "batch_size": 8, "n_critic": 2,
              "dp_epsilon": dp_epsilon, "architecture": "cwgan_gp", "length": 16,
              "n_channels": 1, "n_classes": 2, "label_names": ["a", "b"], "seed": 0,
              "total_epochs": 1, "normalisation": {"method": "minmax", "offset": [0.0],
                                                   "scale": [1.0]},
              "dataset": {"name": "tiny", "checksum": "sha256:" + "cd" * 32}}
    trainer = arch.build(config)
    values = np.sin(np.linspace(0, 6, 16))[None, None, :].repeat(32, 0).astype(np.float32)
    trainer.train_epoch(values, np.arange(32) % 2)
    record = trainer.privacy_record(32)
    if record is not None:
        config["privacy"] = msgspec.to_builtins(record)
    rt.tracker.register_model(name, ModelBundle(config=config, weights=trainer.weights(),
                                                metrics={"mmd": 0.5}), aliases=["best"])


async def test_the_model_view_shows_the_privacy_line(make_api) -> None:  # noqa: F811
    api = make_api("tui-privacy")
    with Runtime(api.settings) as rt:
        _register(rt, "dp-model", 6.0)
        _register(rt, "plain-model", None)
    with CountingClient(api.url) as client:
        app = SynthtsApp(client, stable=True, poll_interval=0.5, start="models")
        async with app.run_test(size=(160, 60)) as pilot:
            models = await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen)
                                    and app.screen, what="the Models page")
            await wait_for(pilot, lambda: models.models_loaded and models.version is not None,
                           timeout=120, what="the registry")
            status = models.query_one("#model-status", Static)
            table = models.query_one("#models-table", DataTable)
            for name, private in (("dp-model", True), ("plain-model", False)):
                table.move_cursor(row=table.get_row_index(name))  # as a user picks a row
                await wait_for(pilot, lambda n=name: models.version is not None
                               and models.version["name"] == n, timeout=120,
                               what=f"{name}'s version")
                await pilot.pause()
                text = str(status.render())
                if private:
                    assert "privacy: epsilon" in text and "spent of 6" in text, text
                    assert "opacus RDP" in text
                else:
                    assert "privacy" not in text, text
