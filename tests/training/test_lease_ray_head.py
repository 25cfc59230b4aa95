"""The Ray head dies (SIGKILL of all its processes) while ``synthts train`` runs a job on it:
the job must not stay ``running`` for ever. Its driver either records the failure or dies with
the head; then the job is failed or stale, and resumes to success on another (local) Ray.

Real parts: ``ray start --head`` on loopback (synthts_core.testing.ray_head), ``synthts train``
in a subprocess joined to it, SQLite storage, the embedded MLflow store."""

from __future__ import annotations

import os
import signal
import time

import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.services import leases
from synthts_core.testing.ray_head import start_ray_head

from .test_lease import _state_written_after, job_runs, start_train, wait_for_epoch

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_a_killed_ray_head_leaves_no_job_running_for_ever(rt, dataset, local_ray,
                                                          tmp_path) -> None:
    head = start_ray_head(tmp_path / "head", num_cpus=2)
    proc = None
    try:
        # the driver's Ray core gives up on a lost head after this long (60 s by default)
        env = {**head.driver_env(), "RAY_gcs_rpc_server_reconnect_timeout_s": "5"}
        proc = start_train(rt, head.address, tmp_path, "--epochs", "40", env=env)
        job = wait_for_epoch(rt, proc, 2)
        seen = time.time()
        deadline = time.monotonic() + 60  # Tune's experiment state (every 2 s) has a checkpoint
        while time.monotonic() < deadline and not _state_written_after(rt, job.id, seen):
            time.sleep(0.1)
        head.kill()
        code = proc.wait(timeout=180)  # the driver must end, one way or the other
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        head.stop()
    assert code != 0
    after = rt.storage.get_job(job.id)
    print(f"after the head died: driver exit {code}, job {after.status}, error {after.error!r}")
    if after.status == "failed":  # the driver lived to say why
        assert after.error
    else:  # the driver died with the head: its lease says so
        assert leases.is_stale(after, rt.settings.job_stale_after_s), after.status
    assert after.trials[0].epoch < 40

    result = CliRunner().invoke(cli, ["train", "--resume", job.id, "--quiet"], obj=rt)
    assert result.exit_code == 0, result.output
    done = rt.storage.get_job(job.id)
    assert done.status == "succeeded" and done.error is None and done.model is not None
    assert done.trials[0].epoch == 40
    assert "RUNNING" not in job_runs(rt, job.id).values()
