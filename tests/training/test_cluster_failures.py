"""Each way a Ray cluster refuses a job, as the user sees it: `synthts config`, the API's /ready
and `synthts train` (the job record: ``failed`` with the cause, never a traceback).

Real parts: two ``ray start --head`` on loopback (one with token auth, one without) shared by
every case, a closed port, the real SQLite file. One driver process (a fresh Python, so no Ray
is initialised in it and no ``~/.ray/auth_token`` of this machine's user is read) runs every
case in turn with that case's SYNTHTS_* environment: the CLI through click's runner, /ready
through the Litestar app, the job through `synthts train`. Starting it once keeps the cost to
one import of torch and Ray.

The cases:
* unreachable: nothing listens on the port;
* missing token / wrong token: the token head, no token or another one;
* unexpected token: the head without token auth and the env file's token placeholder left in
  (issue 27: the head accepted the token, its nodes called the driver back without one, every
  trial was cancelled before it started, and the job ended with a TypeError);
* unschedulable: 4 CPUs or 0.25 GPU per trial on the 2-CPU, GPU-less head;
* workers die at start, two ways, each set the way `ray job submit --runtime-env-json` sets a
  runtime_env for a driver (RAY_JOB_CONFIG_JSON_ENV_VAR): a runtime_env Ray cannot build (a
  conda env on a node without conda; Ray fails the trial and says why), and one whose
  environment makes the worker's Python exit before it registers (PYTHONHOME pointing nowhere;
  Ray starts another every minute, for ever, and says nothing to the driver: the driver's
  watch of its placed trials, SYNTHTS_RAY_WORKER_START_TIMEOUT_S, ends the job). /ready and
  `synthts config` cannot see either (it shows only once a worker starts), so they must say
  the cluster is fine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthts_core.ports import free_port
from synthts_core.testing.ray_head import RayHead, start_ray_head

from .conftest import tiny_dataset

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TOKEN = "synthts-failure-test-token-0123456789"
PLACEHOLDER = "replace-with-the-ray-token"  # examples/deployment/synthts.env's
TRAIN = ["train", "--dataset", "tiny", "--arch", "cgan", "--trials", "1", "--epochs", "1",
         "--quiet", "--set", "latent_dim=8", "--set", "batch_size=16", "--set", "embed_dim=4"]

DRIVER = r"""
import json, os, re, sys
from click.testing import CliRunner
from synthts_core.cli import cli

cases, train = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for name, env in cases.items():
    # as a fresh process would start: no RAY_AUTH_* a previous case put here, Ray's cached
    # auth config refreshed (one process never changes its settings otherwise)
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        os.environ.pop(key, None)
    if "ray._raylet" in sys.modules:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    runner = CliRunner()
    # the case's settings, the others' removed (CliRunner puts the environment back after)
    env = {**{k: None for k in os.environ if k.startswith(("SYNTHTS_RAY", "RAY_JOB"))}, **env}
    config = runner.invoke(cli, ["config"], env=env)
    with runner.isolation(env=env):
        from litestar.testing import TestClient
        from synthts_core.api import create_app
        from synthts_core.settings import Settings

        with TestClient(create_app(Settings())) as client:
            ready = client.get("/api/v1/ready")
    trained = runner.invoke(cli, train, env=env)
    job_id = re.search(r"job-[0-9a-f]{12}", trained.output)
    job = None
    if job_id:
        shown = runner.invoke(cli, ["jobs", "show", job_id.group(0), "--json"], env=env)
        job = json.loads(shown.output)
    out[name] = {"config": [config.exit_code, config.output],
                 "ready": [ready.status_code, ready.json()["checks"]["ray"]],
                 "train": [trained.exit_code, trained.output], "job": job}
print("RESULTS " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def heads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RayHead]]:
    folder = tmp_path_factory.mktemp("heads")
    started: dict[str, RayHead] = {}
    try:
        started["token"] = start_ray_head(folder, token=TOKEN)
        started["plain"] = start_ray_head(folder)
        yield started
    finally:
        for head in started.values():
            head.stop()


@pytest.fixture(scope="module")
def results(heads: dict[str, RayHead], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case run by one driver process; the results by case name."""
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    work = tmp_path_factory.mktemp("failures")
    rt = Runtime(Settings(_env_file=None, data_dir=work / "data"))
    rt.storage.create_dataset(tiny_dataset())
    rt.close()
    token, plain = heads["token"].address, heads["plain"].address
    cases = {
        "unreachable": {"SYNTHTS_RAY_ADDRESS": f"127.0.0.1:{free_port()}"},
        "missing token": {"SYNTHTS_RAY_ADDRESS": token},
        "wrong token": {"SYNTHTS_RAY_ADDRESS": token,
                        "SYNTHTS_RAY_AUTH_TOKEN": "not-the-token-0123456789"},
        "unexpected token": {"SYNTHTS_RAY_ADDRESS": plain, "SYNTHTS_RAY_AUTH_TOKEN": PLACEHOLDER},
        "too many CPUs": {"SYNTHTS_RAY_ADDRESS": plain, "SYNTHTS_RAY_CPUS_PER_TRIAL": "4"},
        "a GPU": {"SYNTHTS_RAY_ADDRESS": plain, "SYNTHTS_RAY_GPUS_PER_TRIAL": "0.25"},
        "workers die at start": {
            "SYNTHTS_RAY_ADDRESS": plain, "RAY_JOB_CONFIG_JSON_ENV_VAR": json.dumps(
                {"runtime_env": {"conda": "synthts-no-such-env"}})},
        "worker processes exit at start": {
            "SYNTHTS_RAY_ADDRESS": plain, "SYNTHTS_RAY_WORKER_START_TIMEOUT_S": "10",
            "RAY_JOB_CONFIG_JSON_ENV_VAR": json.dumps(
                {"runtime_env": {"env_vars": {"PYTHONHOME": "/synthts-no-such-python"}}})},
    }
    home = work / "home"  # no ~/.ray/auth_token of this machine's user
    home.mkdir()
    # no CONDA_EXE (nor RAY_CONDA_HOME, a RAY_ name): Ray's words for the missing conda env
    # name the conda it looked for, which differs where conda is installed
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("RAY_", "SYNTHTS_")) and k != "CONDA_EXE"}
    env = {**base, "HOME": str(home), "OMP_NUM_THREADS": "1", "SYNTHTS_DEVICE": "cpu",
           "SYNTHTS_DATA_DIR": str(work / "data")}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(cases), json.dumps(TRAIN)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=work)
    found = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS ")]
    assert proc.returncode == 0 and found, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = json.loads(found[-1].removeprefix("RESULTS "))
    for name, case in out.items():
        case["address"] = cases[name]["SYNTHTS_RAY_ADDRESS"]
    return out


def _refused(case: dict, words: str) -> None:
    """`synthts config` exits 1, /ready answers 503, the job fails before it runs: each with
    ``words``, in one line and without a traceback."""
    code, shown = case["config"]
    assert code == 1 and "FAILED: " in shown and words in shown, shown
    status, check = case["ready"]
    assert status == 503 and not check["ok"] and words in check["detail"], check
    code, output = case["train"]
    assert code != 0 and "error: " in output and words in output, output
    assert "Traceback" not in output, output
    job = case["job"]
    assert job["status"] == "failed" and words in job["error"], job
    assert all(t["status"] == "pending" and t["epoch"] == 0 for t in job["trials"])


def test_an_unreachable_address_is_named(results) -> None:
    case = results["unreachable"]
    _refused(case, f"Ray unavailable: nothing accepts connections at {case['address']}")


def test_a_missing_token_is_named(results) -> None:
    case = results["missing token"]
    _refused(case, f"the cluster at {case['address']} requires token auth (no token sent")


def test_a_wrong_token_is_named(results) -> None:
    case = results["wrong token"]
    _refused(case, f"the cluster at {case['address']} requires token auth (the token sent "
                   "was rejected)")


def test_a_token_the_cluster_does_not_expect_is_named(results) -> None:
    """Issue 27 as reported: /ready said "token accepted" and the job ended in a TypeError."""
    case = results["unexpected token"]
    _refused(case, f"the cluster at {case['address']} does not use token auth, but this "
                   "driver sends a token")
    assert "leave SYNTHTS_RAY_AUTH_TOKEN" in case["job"]["error"]
    assert PLACEHOLDER not in json.dumps(case)  # the secret is named, never shown


def test_trials_no_node_can_hold_are_named(results) -> None:
    _refused(results["too many CPUs"], "SYNTHTS_RAY_CPUS_PER_TRIAL: is 4 but the cluster has "
                                        "2 CPU")
    _refused(results["a GPU"], "SYNTHTS_RAY_GPUS_PER_TRIAL: is 0.25 but the cluster has no GPU")


def test_workers_that_die_at_start_fail_the_job_with_rays_cause(results) -> None:
    case = results["workers die at start"]
    # nothing to see before a worker starts: both checks pass, naming the cluster
    code, shown = case["config"]
    assert code == 0 and f"({case['address']}): ok: reachable" in shown, shown
    status, check = case["ready"]
    assert status == 200 and check["ok"] and "2 CPU" in check["detail"], check
    code, output = case["train"]
    assert code != 0 and "Traceback" not in output and "TypeError" not in output, output
    job = case["job"]
    assert job["status"] == "failed", job
    # Ray's words: what failed, then why (the why names the conda Ray looked for, which
    # depends on the machine, so only its presence is asserted)
    assert job["error"].startswith("no trial finished an epoch: trial t00: Failed to set up "
                                   "runtime environment. ("), job
    assert job["error"].endswith(")") and len(job["error"].split("(", 1)[1]) > 2, job
    assert job["errors"][0] == job["error"].removeprefix("no trial finished an epoch: "), job
    trial = job["trials"][0]
    assert trial["status"] == "failed" and trial["epoch"] == 0 and trial["run_id"] is None
    assert trial["error"] == job["errors"][0].removeprefix("trial t00: "), trial
    assert f"failed: {job['error']}" in output  # the CLI ends with the same cause


def test_a_working_cluster_passes_both_checks(heads, tmp_path: Path) -> None:
    """The checks can pass: the token head with its token (no job needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "SYNTHTS_"))}
    env.update(HOME=str(tmp_path), SYNTHTS_DATA_DIR=str(tmp_path / "data"),
               SYNTHTS_RAY_ADDRESS=heads["token"].address, SYNTHTS_RAY_AUTH_TOKEN=TOKEN)
    proc = subprocess.run([sys.executable, "-m", "synthts_core.cli", "config", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = json.loads(proc.stdout)["checks"]["ray"]
    assert check["ok"] and check["detail"].startswith("reachable, token accepted, 1 node, "
                                                      "2 CPU, 0 GPU"), check
    assert TOKEN not in proc.stdout


def test_worker_processes_that_exit_at_start_fail_the_job_naming_why(results) -> None:
    case = results["worker processes exit at start"]
    code, shown = case["config"]
    assert code == 0 and f"({case['address']}): ok: reachable" in shown, shown
    code, output = case["train"]
    assert code != 0 and "Traceback" not in output, output
    job = case["job"]
    assert job["status"] == "failed", job
    assert job["error"].startswith("trial t00: Ray placed it but its worker did not start "
                                   "within 10 s (actor PENDING_CREATION"), job["error"]
    # the worker's own last words, read from the head's log folder (on this machine): it died
    # before it could send its output anywhere but the raylet's stderr
    assert "the worker died at start: Fatal Python error: init_fs_encoding" in job["error"]
    assert job["error"].endswith("/logs/raylet.err)"), job["error"]
    trial = job["trials"][0]
    assert trial["status"] == "failed" and trial["epoch"] == 0 and trial["run_id"] is None
    assert trial["error"] == job["error"], trial
    assert f"failed: {job['error']}" in output
