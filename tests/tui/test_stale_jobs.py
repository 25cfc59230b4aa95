"""A job whose owner process is gone shows as ``stale`` on the Train page, and the page's
"mark failed" action (key ``f``, confirmed) ends it through the API. Real parts: the API over
HTTP (uvicorn on loopback), SQLite storage; the owner is a real process that has exited."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

from synthts_tui.app import SynthtsApp
from synthts_tui.local_api import LocalApi
from synthts_tui.screens.train import TrainScreen
from synthts_tui.widgets.dialogs import ConfirmDialog
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from synthts_core.domain import JobOwner, JobSpec, TrainingJob, utcnow
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from tests.tui.tui_helpers import CountingClient, wait_for


async def test_a_stale_job_shows_as_stale_and_can_be_marked_failed(
        make_api: Callable[[str], LocalApi]) -> None:
    api = make_api("tui-stale")
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = JobOwner(host=socket.gethostname(), pid=int(done.stdout), token="gone")
    with Runtime(Settings(data_dir=api.settings.data_dir, _env_file=None)) as rt:
        job = rt.storage.create_job(TrainingJob(id="job-stale-tui", spec=JobSpec(dataset="d")))
        rt.storage.update_job(job.id, status="running", owner=gone, heartbeat_at=utcnow())

    with CountingClient(api.url) as client:
        app = SynthtsApp(client, stable=True, poll_interval=0.2, start="train")
        async with app.run_test(size=(160, 60)) as pilot:
            train = await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen)
                                   and app.screen.jobs_loaded and app.screen,
                                   what="the Train page with its jobs")
            table = train.query_one("#jobs-table", DataTable)
            assert table.get_cell_at(Coordinate(0, 2)) == "stale"
            assert train.watched == job.id  # a job that is not terminal is followed

            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                           what="the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: table.row_count and
                           table.get_cell_at(Coordinate(0, 2)) == "failed", timeout=30,
                           what="the job to show as failed")
        assert client.get_job(job.id)["error"].startswith("marked failed: marked failed in the TUI")
