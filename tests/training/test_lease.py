"""Jobs that never lie: a job's owner process holds a lease (owner + heartbeat). Killed hard
(SIGKILL, nothing runs), its job is shown as ``stale``, can be marked failed and resumed to
success; SIGTERM ends the job as ``cancelled`` with the reason; a time limit fails it.

Real parts: ``synthts train`` in a subprocess on the tests' local Ray, SQLite storage, the
embedded MLflow store (read back with the MLflow client), signals sent to real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.domain import utcnow
from synthts_core.errors import BadInputError, ConflictError
from synthts_core.runtime import Runtime
from synthts_core.services import leases, training

from .conftest import TINY_SPACE
from .test_resume import _state_written_after

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def train_argv(*extra: str) -> list[str]:
    sets = [a for k, v in TINY_SPACE.items() if k != "embed_dim" for a in ("--set", f"{k}={v}")]
    return [str(Path(sys.executable).with_name("synthts")), "train", "--dataset", "tiny",
            "--arch", "wgan_gp", "--trials", "1", "--quiet", *sets, *extra]


def start_train(rt: Runtime, address: str, tmp_path: Path, *extra: str,
                env: dict[str, str] | None = None) -> subprocess.Popen:
    """``synthts train`` as its own process (and process group) on the Ray at ``address``."""
    env = {**os.environ, "SYNTHTS_DATA_DIR": str(rt.settings.data_dir),
           "SYNTHTS_RAY_ADDRESS": address, "SYNTHTS_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "SYNTHTS_JOB_HEARTBEAT_S": "0.5", **(env or {})}
    # its output goes to a file: a pipe nobody reads would block the process once full
    log_path = tmp_path / "train.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(train_argv(*extra), env=env, cwd=tmp_path,
                                start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc


def train_log(proc: subprocess.Popen) -> str:
    return proc.log_path.read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]


def wait_for_epoch(rt: Runtime, proc: subprocess.Popen, epoch: int, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, train_log(proc)
        page = rt.storage.list_jobs()
        if page.items and any(t.epoch >= epoch for t in page.items[0].trials):
            return page.items[0]
        time.sleep(0.1)
    raise AssertionError(f"no trial reached epoch {epoch}")


def job_runs(rt: Runtime, job_id: str) -> dict[str, str]:
    """run id -> status of every MLflow run of the job, read with the MLflow client."""
    client = rt.tracker.client
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, filter_string=f"tags.`synthts.job` = '{job_id}'")
    return {r.info.run_id: r.info.status for r in runs}


def test_a_killed_owner_leaves_a_stale_job_that_is_failed_then_resumed(
        rt, dataset, local_ray, tmp_path) -> None:
    # enough epochs that the trial is still running when Tune's state has been written and the
    # owner is killed (with 30, a busy machine's late state write let the trial finish first)
    epochs = 80
    proc = start_train(rt, local_ray, tmp_path, "--epochs", str(epochs))
    try:
        job = wait_for_epoch(rt, proc, 2)
        assert job.status == "running" and job.owner is not None
        assert job.owner.pid == proc.pid and not leases.is_stale(job, 60)
        seen = time.time()
        deadline = time.monotonic() + 60  # Tune's experiment state (every 2 s) has a checkpoint
        while time.monotonic() < deadline and not _state_written_after(rt, job.id, seen):
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
        proc.wait(timeout=30)

    runner = CliRunner()
    killed = rt.storage.get_job(job.id)
    assert killed.status == "running" and killed.trials[0].epoch < epochs
    assert "RUNNING" in job_runs(rt, job.id).values()  # what kill -9 leaves behind
    listing = json.loads(runner.invoke(cli, ["jobs", "list", "--json"], obj=rt).output)
    row = next(i for i in listing["items"] if i["id"] == job.id)
    assert row["stale"] and "is gone" in row["stale_reason"]
    shown = runner.invoke(cli, ["jobs", "show", job.id], obj=rt)
    assert "stale" in shown.output and f"--resume {job.id}" in shown.output

    failed = runner.invoke(cli, ["jobs", "fail", job.id, "--reason", "node lost"], obj=rt)
    assert failed.exit_code == 0, failed.output
    after = rt.storage.get_job(job.id)
    assert after.status == "failed" and after.error.startswith("marked failed: node lost")
    assert "RUNNING" not in job_runs(rt, job.id).values()  # ended FAILED by `jobs fail`
    assert "FAILED" in job_runs(rt, job.id).values()

    result = runner.invoke(cli, ["train", "--resume", job.id, "--quiet"], obj=rt)
    assert result.exit_code == 0, result.output
    done = rt.storage.get_job(job.id)
    assert done.status == "succeeded" and done.model is not None
    assert done.error is None  # the current state; the failure stays in the history
    assert any(e.startswith("marked failed: node lost") for e in done.errors)
    assert not leases.is_stale(done, 60) and done.trials[0].epoch == epochs
    assert set(job_runs(rt, job.id).values()) == {"FINISHED"}  # the resumed run ends well
    again = runner.invoke(cli, ["train", "--resume", job.id], obj=rt)
    assert again.exit_code == 1 and "succeeded; nothing to resume" in again.output


def test_sigterm_of_train_cancels_the_job_and_ends_its_runs(rt, dataset, local_ray,
                                                            tmp_path) -> None:
    proc = start_train(rt, local_ray, tmp_path, "--epochs", "2000")
    try:
        job = wait_for_epoch(rt, proc, 1)
        proc.send_signal(signal.SIGTERM)  # the owner only, as a service manager would
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert code == 1, train_log(proc)
    done = rt.storage.get_job(job.id)
    assert done.status == "cancelled", done.errors
    assert "SIGTERM" in done.error and done.error in done.errors
    assert done.trials[0].status == "cancelled" and done.trials[0].epoch < 2000
    runs = job_runs(rt, job.id)
    assert set(runs.values()) == {"KILLED"}, runs  # cancelled: none left RUNNING or FAILED


def test_a_time_limit_fails_the_job_naming_it(rt, dataset, tiny_spec) -> None:
    with pytest.raises(BadInputError, match="time_limit_s"):
        training.submit_job(rt, tiny_spec(time_limit_s=0))
    result = CliRunner().invoke(cli, ["train", "--dataset", "tiny", "--time-limit", "-5"],
                                obj=rt)
    assert result.exit_code == 2 and "time_limit_s" in result.output
    assert rt.storage.list_jobs().total == 0

    space = {k: v for k, v in TINY_SPACE.items() if k != "n_critic"}
    job = training.submit_job(rt, tiny_spec(num_trials=1, epochs=5000, time_limit_s=2,
                                            architectures=["cgan"], search_space=space))
    done = training.run_job(rt, job.id)
    assert done.status == "failed"
    assert done.error == "time limit of 2 s reached"
    assert done.trials[0].epoch < 5000
    assert "RUNNING" not in job_runs(rt, job.id).values()


def test_a_live_owner_is_named_and_never_overridden(rt, dataset, tiny_spec) -> None:
    """This test process holds the lease, as a running ``synthts serve`` would."""
    job = training.submit_job(rt, tiny_spec())
    rt.storage.update_job(job.id, status="running", owner=leases.new_owner(),
                          heartbeat_at=utcnow())
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--resume", job.id], obj=rt)
    assert result.exit_code == 1
    assert f"owned by a live process (pid {os.getpid()}" in result.output
    with pytest.raises(ConflictError, match="cancel it instead"):
        training.fail_job(rt, job.id, "impatient")
    with pytest.raises(ConflictError, match="owned by another process"):
        rt.storage.update_job(job.id, if_owner="someone-else", heartbeat_at=utcnow())
    # alive, but silent for longer than the stale timeout: stale by its heartbeat
    old = rt.storage.update_job(job.id, heartbeat_at=utcnow() - timedelta(seconds=120))
    assert "last heartbeat was 120 s ago" in leases.stale_reason(old, 60)
    assert not leases.is_stale(old, 600)
    with pytest.raises(BadInputError, match="reason"):
        training.fail_job(rt, job.id, " ")
