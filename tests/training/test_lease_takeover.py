"""Lease edge cases without a Ray run: crafted job records in the real SQLite storage.

A take-over marks the job running at once (a second resume is refused), a job marked failed
loses its owner (a late owner's heartbeat finds the lease gone and stops as "lost"), a process
that lost its lease records nothing, and the heartbeat/stale timing is checked in settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from synthts_core.domain import JobOwner, JobSpec, TrainingJob, utcnow
from synthts_core.errors import ConflictError
from synthts_core.runtime import Runtime
from synthts_core.services import leases, training
from synthts_core.services.training.outcome import finish_job
from synthts_core.settings import Settings


@pytest.fixture
def rt(synthts_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(synthts_settings)
    yield runtime
    runtime.close()


def _gone_owner() -> JobOwner:
    """The owner record of a process that ran on this host and has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return JobOwner(host=socket.gethostname(), pid=int(done.stdout), token="gone")


def _store(rt: Runtime, status: str, owner: JobOwner | None) -> TrainingJob:
    job = rt.storage.create_job(TrainingJob(id=f"job-take-{os.urandom(4).hex()}",
                                            spec=JobSpec(dataset="nowhere")))
    return rt.storage.update_job(job.id, status=status, owner=owner, heartbeat_at=utcnow())


def test_a_taken_over_failed_job_cannot_be_resumed_twice(rt: Runtime) -> None:
    job = _store(rt, "failed", _gone_owner())
    taken = training.take_lease(rt, job, leases.new_owner())
    assert taken.status == "running" and leases.is_live(taken, rt.settings)
    # a second resume (CLI or API) while the first starts Ray: refused, naming the owner
    with pytest.raises(ConflictError, match=f"pid {os.getpid()}"):
        training.check_resumable(rt, job.id)
    with pytest.raises(ConflictError, match="live process"):
        training.run_job(rt, job.id, resume=True)
    # a cancelling job stays cancelling when taken over
    cancelling = _store(rt, "cancelling", _gone_owner())
    assert training.take_lease(rt, cancelling, leases.new_owner()).status == "cancelling"


def test_a_job_marked_failed_loses_its_owner_whose_heartbeat_then_stops(rt: Runtime) -> None:
    late = JobOwner(host="elsewhere", pid=1, token="late")  # another host: only the age tells
    job = _store(rt, "running", late)
    rt.storage.update_job(job.id, heartbeat_at=utcnow().replace(year=2020))
    failed = training.fail_job(rt, job.id, "host rebooted")
    assert failed.status == "failed" and failed.owner is None
    assert not leases.is_live(failed, rt.settings)
    # the late owner's next beat finds the lease gone: it stops as "lost" (records nothing)
    beat = leases.Heartbeat(rt, job.id, "late", 0.05).start()
    try:
        deadline = time.monotonic() + 10
        while leases.stop_request(job.id) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leases.stop_request(job.id) == ("lost", "another process took the job over")
        assert training.lease_lost(rt, job.id, "late")
    finally:
        beat.stop()
        leases.forget(job.id)
    assert rt.storage.get_job(job.id).status == "failed"


def test_a_process_that_lost_its_lease_records_nothing(rt: Runtime) -> None:
    owner = leases.new_owner()
    job = _store(rt, "running", owner)
    # this run's token is not the owner's: finish_job (``outcome``) must not write
    # succeeded/cancelled over it
    leases.request_stop(job.id, "cancel", "SIGTERM")
    try:
        with pytest.raises(ConflictError, match="another process took it over"):
            finish_job(rt, job.id, [], "old-token")
        after = rt.storage.get_job(job.id)
        assert after.status == "running" and after.owner == owner and not after.errors
        # a lost lease overrides an earlier cancel (whose path would end the job's runs)
        leases.request_stop(job.id, "lost", "another process took the job over")
        assert leases.stop_request(job.id)[0] == "lost"
    finally:
        leases.forget(job.id)


def test_heartbeat_and_stale_limit_are_checked_together() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(job_heartbeat_s=30, job_stale_after_s=60, _env_file=None)
    text = str(caught.value)
    assert "SYNTHTS_JOB_STALE_AFTER_S" in text and "SYNTHTS_JOB_HEARTBEAT_S" in text
    assert Settings(job_heartbeat_s=20, job_stale_after_s=60, _env_file=None)


def test_jobs_resume_is_train_resume_with_its_refusals(rt: Runtime) -> None:
    """`synthts jobs resume ID` takes the same path as `synthts train --resume ID`: a finished
    job or one with a live owner is refused in one line, before Ray starts."""
    from click.testing import CliRunner

    from synthts_core.cli import cli

    env = {"SYNTHTS_DATA_DIR": str(rt.settings.data_dir), "SYNTHTS_STORAGE": rt.settings.storage_uri}
    done = _store(rt, "succeeded", None)
    result = CliRunner().invoke(cli, ["jobs", "resume", done.id], env=env)
    assert result.exit_code == 1 and "nothing to resume" in result.output, result.output
    live = _store(rt, "running", leases.new_owner())
    result = CliRunner().invoke(cli, ["jobs", "resume", live.id], env=env)
    assert result.exit_code == 1 and "live process" in result.output, result.output
