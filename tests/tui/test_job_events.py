"""Job progress reaches the Train and Models pages over the API's server-sent events: while a
page's event stream is open the client sends no request about the job (no polling), yet the
trial's progress bar moves; when the job ends the stream closes and the page shows the end.

Real parts: the API over HTTP (uvicorn on loopback), SQLite storage, MLflow on SQLite, a local
Ray running a long tiny job that the test cancels once progress has been seen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from synthts_tui.app import SynthtsApp
from synthts_tui.client import SynthtsClient
from synthts_tui.local_api import LocalApi
from synthts_tui.screens.models import ModelsScreen
from synthts_tui.screens.train import TrainScreen
from synthts_tui.widgets.job_progress import JobProgress, TrialRow
from textual.widgets import DataTable, ProgressBar

from tests.tui.test_train_and_models import DATASET, TINY_SPACE
from tests.tui.tui_helpers import CountingClient, wait_for

pytestmark = [pytest.mark.ray, pytest.mark.slow]


async def test_progress_arrives_over_the_event_stream_without_polling(
        make_api: Callable[[str], LocalApi], local_ray: str) -> None:
    api = make_api("tui-events")
    with SynthtsClient(api.url) as setup:
        setup.create_dataset(DATASET)
        space = {k: v for k, v in TINY_SPACE.items() if k != "embed_dim"}
        job = setup.submit_job({"dataset": DATASET["name"], "architectures": ["wgan_gp"],
                                "num_trials": 1, "epochs": 5000, "search_space": space})
    path = f"/jobs/{job['id']}/events"
    with CountingClient(api.url) as client:
        app = SynthtsApp(client, stable=True, poll_interval=0.2, start="models")
        async with app.run_test(size=(160, 60)) as pilot:
            models = await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen)
                                    and app.screen, what="the Models page")
            await wait_for(pilot, lambda: job["id"] in models.training, timeout=60,
                           what="the Models page to follow the running job")

            await pilot.press("4")
            train = await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen)
                                   and app.screen, what="the Train page")
            await wait_for(pilot, lambda: ("OPEN", path) in client.sent[1:]
                           and train.watched == job["id"], timeout=60,
                           what="the Train page to open the job's stream")
            opened_at = client.sent.index(("OPEN", path), client.sent.index(("OPEN", path)) + 1)

            def epoch() -> int:
                trials = (train.watched_job or {}).get("trials") or [{}]
                return int(trials[0].get("epoch") or 0)

            await wait_for(pilot, lambda: epoch() >= 3, timeout=180,
                           what="three epochs to arrive as events")
            seen = train.events_seen
            assert seen >= 2  # the bar moved with each event, not with a re-read
            rows = list(train.query_one("#job-progress", JobProgress).query(TrialRow))
            assert len(rows) == 1 and rows[0].query_one(ProgressBar).progress >= 3

            with SynthtsClient(api.url) as other:  # someone else cancels it
                other.cancel_job(job["id"])
            await wait_for(pilot, lambda: (train.watched_job or {}).get("status")
                           == "cancelled", timeout=120, what="the job's end event")
            await wait_for(pilot, lambda: client.sent.count(("CLOSE", path)) >= 2,
                           what="both streams to close")

            train_closed_at = client.sent.index(("CLOSE", path), opened_at)
            during = [r for r in client.sent[opened_at + 1:train_closed_at]
                      if r[0] not in ("OPEN", "CLOSE")]
            assert not [r for r in during if r[1].startswith("/jobs")], during
            table = train.query_one("#jobs-table", DataTable)
            assert str(table.get_row_at(table.get_row_index(job["id"]))[2]) == "cancelled"
            assert models.training[job["id"]]["status"] == "cancelled"
