"""Job leases over HTTP: a running job whose owner process is gone is ``stale`` in the job
records; it can be marked failed or resumed; a job with a live owner is refused with a 409
that names the owner. Real parts: the app over HTTP, SQLite storage; the owners are real
processes (this test process, and one that has exited)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from synthts_core.domain import JobOwner, JobSpec, TrainingJob, utcnow
from synthts_core.services import leases

from .conftest import assert_problem


def _store(app, status: str, owner: JobOwner | None) -> str:
    rt = app.state.runtime
    job = rt.storage.create_job(TrainingJob(id=f"job-lease-{os.urandom(4).hex()}",
                                            spec=JobSpec(dataset="nowhere")))
    rt.storage.update_job(job.id, status=status, owner=owner, heartbeat_at=utcnow())
    return job.id


def _gone_owner() -> JobOwner:
    """The owner record of a process that ran on this host and has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return JobOwner(host=socket.gethostname(), pid=int(done.stdout), token="gone")


def test_a_live_job_is_not_stale_and_cannot_be_resumed_or_failed(app, client) -> None:
    job_id = _store(app, "running", leases.new_owner())  # this process: alive
    read = client.get(f"/api/v1/jobs/{job_id}").json()
    assert read["stale"] is False and read["stale_reason"] is None
    assert read["owner"]["pid"] == os.getpid() and read["heartbeat_at"]
    body = assert_problem(client.post(f"/api/v1/jobs/{job_id}/resume"), 409)
    assert f"pid {os.getpid()}" in body["detail"]
    body = assert_problem(client.post(f"/api/v1/jobs/{job_id}/fail",
                                      json={"reason": "x"}), 409)
    assert "cancel it instead" in body["detail"]


def test_a_stale_job_is_shown_and_can_be_marked_failed(app, client) -> None:
    job_id = _store(app, "running", _gone_owner())
    read = client.get(f"/api/v1/jobs/{job_id}").json()
    assert read["stale"] is True and "is gone" in read["stale_reason"]
    assert read["status"] == "running" and read["error"] is None
    listed = client.get("/api/v1/jobs", params={"limit": 500}).json()["items"]
    assert next(j for j in listed if j["id"] == job_id)["stale"] is True

    assert_problem(client.post(f"/api/v1/jobs/{job_id}/fail", json={"reason": ""}), 422,
                   "reason")
    failed = client.post(f"/api/v1/jobs/{job_id}/fail", json={"reason": "host rebooted"})
    assert failed.status_code == 200, failed.text
    body = failed.json()
    assert body["status"] == "failed" and body["terminal"] and not body["stale"]
    assert body["error"].startswith("marked failed: host rebooted")
    assert body["error"] in body["errors"]
    assert_problem(client.post(f"/api/v1/jobs/{job_id}/fail", json={"reason": "again"}), 409)


def test_resume_of_a_stale_job_runs_in_the_background(app, client) -> None:
    # a job its dead owner was cancelling: resuming it finishes the cancel (no Ray needed)
    job_id = _store(app, "cancelling", _gone_owner())
    started = client.post(f"/api/v1/jobs/{job_id}/resume")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        read = client.get(f"/api/v1/jobs/{job_id}").json()
        if read["terminal"]:
            break
        time.sleep(0.1)
    assert read["status"] == "cancelled" and not read["stale"]
    assert any("resumed after its owner was lost" in e for e in read["errors"])
    assert read["owner"]["pid"] == os.getpid()  # the server took the lease over
    assert_problem(client.post(f"/api/v1/jobs/{job_id}/resume"), 409)  # nothing to resume


def test_time_limit_is_checked_naming_the_field(client) -> None:
    bad = client.post("/api/v1/jobs", json={"dataset": "nowhere", "time_limit_s": 0})
    assert_problem(bad, 422, "time_limit_s")


def test_architecture_epochs_are_checked_naming_the_field(client) -> None:
    bad = client.post("/api/v1/jobs", json={"dataset": "nowhere",
                                            "architecture_epochs": {"diffusion": 0}})
    assert_problem(bad, 422, "architecture_epochs")
