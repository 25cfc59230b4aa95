"""SIGTERM of ``synthts serve`` while a job it started runs: the server shuts down, and the job
ends ``cancelled`` with the signal as its error and its MLflow run KILLED, instead of staying
``running`` for ever. Real parts: ``synthts serve`` (uvicorn) in a subprocess joined to the
tests' Ray, the API over HTTP, SQLite storage, the embedded MLflow store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import TINY_SPACE
from .test_lease import job_runs

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_sigterm_of_serve_cancels_its_jobs(rt, dataset, local_ray, tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "SYNTHTS_API_TOKEN"}
    env.update(SYNTHTS_DATA_DIR=str(rt.settings.data_dir), SYNTHTS_API_PORT=str(port),
               SYNTHTS_RAY_ADDRESS=local_ray, SYNTHTS_DEVICE="cpu", OMP_NUM_THREADS="1")
    log_path = tmp_path / "serve.log"  # a file, not a pipe: a full pipe would block the server
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("synthts")), "serve"],
                                env=env, cwd=tmp_path, start_new_session=True,
                                stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        space = {k: v for k, v in TINY_SPACE.items() if k != "embed_dim"}
        job = httpx.post(f"{base}/jobs", json={
            "dataset": "tiny", "architectures": ["wgan_gp"], "num_trials": 1, "epochs": 5000,
            "search_space": space}, timeout=30).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            read = httpx.get(f"{base}/jobs/{job['id']}", timeout=10).json()
            if read["trials"][0]["epoch"] >= 1:
                break
            time.sleep(0.2)
        assert read["status"] == "running" and read["owner"]["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
            proc.wait(timeout=30)
    log = log_path.read_text(errors="replace")[-3000:]
    assert code == -signal.SIGTERM, log  # it still ends as SIGTERM asks
    done = rt.storage.get_job(job["id"])
    assert done.status == "cancelled", (done.status, done.errors, log)
    assert done.error.startswith("cancelled: SIGTERM received"), done.errors
    assert done.trials[0].status == "cancelled", done.trials[0]
    runs = job_runs(rt, job["id"])
    assert set(runs.values()) == {"KILLED"}, (runs, log)
