"""The cluster a job runs on: a real ``ray start --head`` with and without token auth, joined
by a real driver process; impossible resource requests and a full disk refused before a job
starts (on the session's local Ray)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from synthts_core.errors import BadInputError
from synthts_core.services import cluster, training
from synthts_core.settings import Settings
from synthts_core.testing.ray_head import RayHead, start_ray_head

TOKEN = "synthts-test-token-0123456789abcdef"

# a driver as `synthts train` is one: settings from the environment, then acquire_ray
DRIVER = r"""
import json, sys
from synthts_core.errors import SynthtsError
from synthts_core.services import training_ray
from synthts_core.settings import Settings
try:
    training_ray.acquire_ray(Settings(_env_file=None))
except SynthtsError as exc:
    print(json.dumps({"error": exc.message}))
    sys.exit(3)
import ray
print(json.dumps({"cpu": ray.cluster_resources().get("CPU")}))
training_ray.release_ray()
"""


def _driver(tmp_path: Path, **env: str) -> tuple[int, dict]:
    home = tmp_path / "driver-home"  # no ~/.ray/auth_token of this machine's user
    home.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("RAY_", "SYNTHTS_"))}
    proc = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True,
                          env={**base, "HOME": str(home), "OMP_NUM_THREADS": "1", **env},
                          timeout=120, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stdout + proc.stderr[-3000:]
    return proc.returncode, json.loads(lines[-1])


@pytest.mark.slow
def test_token_head_needs_the_token_and_says_so(tmp_path: Path) -> None:
    head = start_ray_head(tmp_path, token=TOKEN)
    try:
        rc, out = _driver(tmp_path, SYNTHTS_RAY_ADDRESS=head.address)
        assert rc == 3
        assert "requires token auth" in out["error"] and "no token sent" in out["error"]
        assert "SYNTHTS_RAY_AUTH_TOKEN" in out["error"] and "\n" not in out["error"]

        rc, out = _driver(tmp_path, SYNTHTS_RAY_ADDRESS=head.address,
                          SYNTHTS_RAY_AUTH_TOKEN="not-the-token-0123456789")
        assert rc == 3 and "the token sent was rejected" in out["error"]

        token_file = tmp_path / "token"
        token_file.write_text(TOKEN)
        rc, out = _driver(tmp_path, SYNTHTS_RAY_ADDRESS=head.address,
                          SYNTHTS_RAY_AUTH_TOKEN_PATH=str(token_file))
        assert (rc, out) == (0, {"cpu": 2.0})

        # every process naming the head's temp folder is Ray's and found, but a user's
        # `tail -f` of one of its logs is not (stop/kill would SIGKILL it)
        log = next(head.temp_dir.rglob("*.out"))
        tail = subprocess.Popen(["tail", "-f", str(log)], stdout=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            found = set(head.pids())
            assert tail.pid not in found and _naming(head.temp_dir) - {tail.pid} <= found
        finally:
            tail.kill()
            tail.wait()

        head.kill()  # SIGKILL of the head's processes: nothing of it is left
        assert not head.alive()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", head.port), timeout=1).close()
        rc, out = _driver(tmp_path, **head.driver_env())
        assert rc == 3 and f"nothing accepts connections at {head.address}" in out["error"]
    finally:
        head.stop()
    assert not head.temp_dir.exists()  # stop() removed the folders it made, nothing else
    assert tmp_path.is_dir() and (tmp_path / "token").exists()


def _naming(folder: Path) -> set[int]:
    pids = set()
    for entry in os.scandir("/proc"):
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                if entry.name.isdigit() and str(folder).encode() in fh.read():
                    pids.add(int(entry.name))
        except OSError:
            continue
    return pids - {os.getpid()}


def test_ray_head_stops_once_and_only_its_own_processes(tmp_path: Path) -> None:
    """No Ray needed: a `sleep` leads the head's session, a `tail -f` names its folder."""
    temp_dir = tmp_path / "rayhead-x"
    temp_dir.mkdir()
    (temp_dir / "raylet.out").write_text("")
    leader = subprocess.Popen(["sleep", "60"], start_new_session=True)
    tail = subprocess.Popen(["tail", "-f", str(temp_dir / "raylet.out")],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    other = None
    try:
        head = RayHead(address="127.0.0.1:1", temp_dir=temp_dir, session_id=leader.pid,
                       log_path=tmp_path / "log", _leader=leader)
        assert head.pids() == [leader.pid]  # the tail is not Ray's
        head.stop(grace_s=5.0)
        assert leader.returncode is not None and tail.poll() is None and not head.alive()
        # the leader is reaped, so its pid may now lead an unrelated session. Reusing a given
        # pid cannot be caused on demand: pretend it happened by pointing session_id at one
        other = subprocess.Popen(["sleep", "60"], start_new_session=True)
        head.session_id = other.pid
        assert head.pids() == []
        head.stop(grace_s=0.5)
        assert other.poll() is None  # a second stop() touches nothing
    finally:
        for proc in (leader, tail, other):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert temp_dir.is_dir()  # a head built by hand deletes nothing


def test_ray_head_refuses_a_relative_folder() -> None:
    with pytest.raises(ValueError, match="absolute"):
        start_ray_head(Path("relative"))


def test_impossible_resources_fail_the_job_before_it_starts(rt, dataset, tiny_spec) -> None:
    """The documented 4 CPUs and 0.25 GPU per trial on the 2-CPU, GPU-less session Ray."""
    base = rt.settings
    for changes, expected in (
            ({"ray_cpus_per_trial": 4.0},
             "SYNTHTS_RAY_CPUS_PER_TRIAL: is 4 but the cluster has 2 CPU"),
            ({"ray_gpus_per_trial": 0.25},
             "SYNTHTS_RAY_GPUS_PER_TRIAL: is 0.25 but the cluster has no GPU")):
        rt.settings = base.model_copy(update=changes)
        # the time limit only bounds a regression (Tune would wait for the resources for ever)
        job = training.submit_job(rt, tiny_spec(num_trials=1, epochs=1, time_limit_s=120))
        with pytest.raises(BadInputError):
            training.run_job(rt, job.id)
        stored = rt.storage.get_job(job.id)
        assert stored.status == "failed" and expected in stored.error
        assert all(t.status == "pending" and t.epoch == 0 for t in stored.trials)
        assert stored.cluster is None  # refused before it was recorded as running anywhere


@pytest.mark.parametrize(("value", "allowed"), [
    (-1.0, ">= 0"), (float("nan"), ">= 0"), (1.5, "whole number above 1")])
def test_resource_settings_are_validated(value, allowed) -> None:
    with pytest.raises(BadInputError, match="SYNTHTS_RAY_GPUS_PER_TRIAL") as err:
        cluster.check_trial_settings(Settings(_env_file=None, ray_gpus_per_trial=value))
    assert allowed in err.value.message
    with pytest.raises(BadInputError, match="SYNTHTS_RAY_CPUS_PER_TRIAL: is 0"):
        cluster.check_trial_settings(Settings(_env_file=None, ray_cpus_per_trial=0))


def test_a_job_that_would_not_fit_on_the_disk_fails_at_once(rt, dataset, tiny_spec) -> None:
    job = training.submit_job(rt, tiny_spec(num_trials=2, epochs=1))
    free = __import__("shutil").disk_usage(rt.settings.data_dir).free
    rt.settings = rt.settings.model_copy(update={"min_free_bytes": free})
    with pytest.raises(BadInputError):
        training.run_job(rt, job.id)
    stored = rt.storage.get_job(job.id)
    assert stored.status == "failed"
    assert "SYNTHTS_RAY_STORAGE" in stored.error and "free but job" in stored.error
    assert not any(Path(rt.settings.ray_storage_uri).glob(f"{job.id}/*"))


def test_disk_estimate_grows_with_trials_and_model(rt, dataset, tiny_spec) -> None:
    small = training.submit_job(rt, tiny_spec(num_trials=1, epochs=1))
    many = training.submit_job(rt, tiny_spec(num_trials=4, epochs=1))
    one, four = cluster.estimate_job_bytes(rt, small), cluster.estimate_job_bytes(rt, many)
    assert 0 < one < four
    # the trials' models are measured (a tiny dataset's are smaller than the default guess)
    assert 0 < cluster.checkpoint_bytes(rt, small) < cluster.DEFAULT_CHECKPOINT_BYTES


def test_auth_settings_become_ray_environment(tmp_path: Path) -> None:
    assert cluster.auth_env(Settings(_env_file=None)) == {}
    assert cluster.auth_env(Settings(_env_file=None, ray_auth_mode="disabled")) == {
        "RAY_AUTH_MODE": "disabled"}
    assert cluster.auth_env(Settings(_env_file=None, ray_auth_token="abc")) == {
        "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "abc", "RAY_AUTH_TOKEN_PATH": None}
    with pytest.raises(BadInputError, match="SYNTHTS_RAY_AUTH_TOKEN_PATH"):
        cluster.auth_env(Settings(_env_file=None, ray_auth_token_path=tmp_path / "missing"))
    with pytest.raises(BadInputError, match="one of the two"):
        cluster.auth_env(Settings(_env_file=None, ray_auth_token="a",
                                  ray_auth_token_path=tmp_path))


def test_ready_checks_the_configured_ray_cluster(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    from synthts_core.api import create_app
    from tests.api.conftest import api_settings

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(api_settings(tmp_path / "api", ray_address=f"127.0.0.1:{port}"))
    with TestClient(app) as client:
        ready = client.get("/api/v1/ready")
        assert ready.status_code == 503, ready.text
        ray_check = ready.json()["checks"]["ray"]
        assert not ray_check["ok"]
        assert f"nothing accepts connections at 127.0.0.1:{port}" in ray_check["detail"]
        assert ready.json()["checks"]["storage"]["ok"]
    local = create_app(api_settings(tmp_path / "api"))
    with TestClient(local) as client:
        ready = client.get("/api/v1/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["ray"] == {
            "ok": True, "target": "local (started per job)",
            "detail": "a local Ray starts with each job"}
