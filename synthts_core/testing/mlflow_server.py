"""A real ``mlflow server`` on loopback for tests (one per test session).

Tests of the tracker and of training against "an MLflow server" talk to this process over HTTP,
exactly as a deployment would. ``SYNTHTS_TEST_MLFLOW_URI`` uses an existing server instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthts_core.ports import free_port

START_TIMEOUT_S = 90.0




def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(uri + "/health", timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


def _mlflow_executable() -> str:
    beside = Path(sys.executable).parent / "mlflow"
    return str(beside) if beside.exists() else "mlflow"


def start_mlflow_server(root: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``mlflow server`` with a SQLite store and proxied artifacts under ``root``;
    returns the process, its URI and its log file once ``/health`` answers."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    cmd = [
        _mlflow_executable(), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"), "--workers", "1",
    ]
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with log_path.open("wb") as log:
        # its own session, so teardown can stop the server and its worker children together
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        if _healthy(uri):
            return proc, uri, log_path
        time.sleep(0.25)
    stop_mlflow_server(proc)
    raise RuntimeError(f"mlflow server did not answer /health within {START_TIMEOUT_S:.0f} s:\n"
                       f"{log_path.read_text(errors='replace')[-3000:]}")


def stop_mlflow_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a real MLflow tracking server on 127.0.0.1 for the whole test session."""
    existing = os.environ.get("SYNTHTS_TEST_MLFLOW_URI")
    if existing:
        yield existing.rstrip("/")
        return
    proc, uri, _ = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield uri
    finally:
        stop_mlflow_server(proc)
