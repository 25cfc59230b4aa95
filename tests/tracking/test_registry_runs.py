"""Where registered versions and runs live in MLflow (issue 14): a version is an output of the
trial run that trained it (with its training history); a version without one says why;
experiments are ``<prefix>/<dataset>`` and runs under the old names are still found; the
``Default`` experiment lives in the data folder; and ``synthts train`` with the tracker down
ends in one line that names the tracker, keeping the job to resume."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from synthts_mlflow.logged_model import model_id_of
from synthts_mlflow.plugin import make_tracker

from synthts_core.domain import JobSpec
from synthts_core.ports import free_port
from synthts_core.runtime import Runtime
from synthts_core.services import training
from synthts_core.settings import Settings
from tests.tracking.conftest import fresh_data_dir, tiny_bundle
from tests.training.conftest import TINY_SPACE, tiny_dataset

CGAN_SPACE = {k: v for k, v in TINY_SPACE.items() if k != "n_critic"}


def _client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_experiments_are_prefix_slash_name_and_old_names_are_still_searched(
        tracker_settings: Settings) -> None:
    tracker = make_tracker(tracker_settings)
    prefix = tracker_settings.mlflow_experiment
    assert tracker.experiment_name("sines") == f"{prefix}/sines"
    assert tracker.experiment_name(f"{prefix}/sines") == f"{prefix}/sines"  # never twice
    client = _client(tracker_settings)
    # a run of a job trained before (its experiment had the prefix twice) and one of today
    old_exp = client.create_experiment(f"{prefix}/{prefix}-sines")
    old = client.create_run(old_exp, tags={"synthts.job": "job-a"}).info.run_id
    new = tracker.start_run("sines", "t00", {}, tags={"synthts.job": "job-a"})
    assert client.get_experiment(client.get_run(new).info.experiment_id).name == \
        f"{prefix}/sines"
    assert tracker.end_open_runs("sines", {"synthts.job": "job-a"}, "KILLED") == 2
    assert {client.get_run(r).info.status for r in (old, new)} == {"KILLED"}
    # the old form of the name finds both as well
    again = tracker.start_run("sines", "t01", {}, tags={"synthts.job": "job-b"})
    assert tracker.end_open_runs(f"{prefix}-sines", {"synthts.job": "job-b"}, "FAILED") == 1
    assert client.get_run(again).info.status == "FAILED"


def test_a_version_without_its_training_run_says_why(tracker_settings: Settings,
                                                      model_name: str) -> None:
    tracker = make_tracker(tracker_settings)
    client = _client(tracker_settings)
    prefix = tracker_settings.mlflow_experiment
    trial_run = tracker.start_run("harmonics", "t00", {})
    tracker.log_metrics(trial_run, {"mmd": 0.3}, 1)
    own = tracker.register_model(model_name, tiny_bundle(), run_id=trial_run)
    assert own.run_id == trial_run
    assert client.get_model_version(model_name, own.version).tags["synthts.run"] == "trial"

    lost = uuid.uuid4().hex  # a run id the tracker does not have (a server that lost it)
    ref = tracker.register_model(model_name, tiny_bundle(mmd=0.2), run_id=lost)
    assert ref.run_id not in (None, lost)
    version = client.get_model_version(model_name, ref.version)
    assert lost in version.tags["synthts.run"] and "missing" in version.tags["synthts.run"]
    assert lost in version.description
    run = client.get_run(ref.run_id)
    assert client.get_experiment(run.info.experiment_id).name == f"{prefix}/harmonics"
    assert run.data.metrics["mmd"] == pytest.approx(0.2)
    assert run.data.tags["synthts.run"] == version.tags["synthts.run"]

    none = tracker.register_model(model_name, tiny_bundle())
    tag = client.get_model_version(model_name, none.version).tags["synthts.run"]
    assert tag.startswith("no training run") and "unreachable" in tag


def test_the_default_experiment_and_every_file_live_in_the_data_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_name: str) -> None:
    """MLflow puts experiment 0 in ./mlruns of the folder the store was created from."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # a store not made yet
    tracker = make_tracker(settings)
    run_id = tracker.start_run("harmonics", "t00", {"lr": 0.1})
    tracker.log_metrics(run_id, {"mmd": 0.1}, 1)
    ref = tracker.register_model(model_name, tiny_bundle(), run_id=run_id, aliases=["best"])
    tracker.end_run(run_id, "FINISHED")
    assert tracker.load_bundle(model_name, "best").weights == tiny_bundle().weights
    tracker.log_evaluation(model_name, ref.version, {"metrics": {"mmd": 0.1}})

    default = _client(settings).get_experiment("0")
    location = default.artifact_location.removeprefix("file://")
    assert Path(location) == settings.mlflow_artifact_dir / "0"
    assert list(cwd.iterdir()) == []


def test_an_existing_store_is_left_as_it_is(tmp_path: Path, migrated_mlflow_db: Path) -> None:
    settings = Settings(data_dir=fresh_data_dir(tmp_path, migrated_mlflow_db), _env_file=None)
    before = _client(settings).get_experiment("0").artifact_location
    make_tracker(settings).ping()
    assert _client(settings).get_experiment("0").artifact_location == before


# ----------------------------------------------------------------------------- with training


@pytest.fixture
def train_rt(synthts_settings: Settings, local_ray: str) -> Any:
    settings = synthts_settings.model_copy(update={"device": "cpu", "ray_cpus_per_trial": 1.0})
    runtime = Runtime(settings)
    runtime.storage.create_dataset(tiny_dataset())
    yield runtime
    runtime.close()


@pytest.mark.ray
@pytest.mark.slow
def test_a_version_points_at_the_trial_run_that_trained_it(train_rt: Runtime) -> None:
    rt = train_rt
    job = training.submit_job(rt, JobSpec(dataset="tiny", architectures=["cgan"], num_trials=1,
                                          epochs=2, select_metric="mmd",
                                          search_space=dict(CGAN_SPACE)))
    done = training.run_job(rt, job.id)
    assert done.status == "succeeded", done.errors
    [trial] = done.trials
    assert trial.run_id and done.model is not None
    version = rt.tracker.get_version(done.model.name, done.model.version)
    assert done.model.run_id == version.run_id == trial.run_id
    # MLflow shows the training history on the version's run, and the model as its output
    history = rt.tracker.run_history(version.run_id)
    assert [step for step, _ in history["mmd"]] == [1, 2]
    client = _client(rt.settings)
    run = client.get_run(version.run_id)
    assert [o.model_id for o in run.outputs.model_outputs] == [model_id_of(version.source)]
    assert client.get_experiment(run.info.experiment_id).name == "synthts/tiny"
    assert client.get_model_version(version.name, version.version).tags["synthts.run"] == "trial"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHTS_")}
    env.update(extra)
    return env


@pytest.mark.ray
@pytest.mark.slow
def test_train_with_the_tracker_down_is_one_line_and_the_job_resumes(
        train_rt: Runtime, local_ray: str, tmp_path: Path) -> None:
    rt = train_rt
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    space = [arg for k, v in CGAN_SPACE.items() for arg in ("--set", f"{k}={v}")]
    env = _clean_env(SYNTHTS_DATA_DIR=str(rt.settings.data_dir), SYNTHTS_MLFLOW_URI=uri,
                     SYNTHTS_RAY_ADDRESS=local_ray, SYNTHTS_DEVICE="cpu", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "synthts_core.cli", "train", "--dataset", "tiny", "--arch", "cgan",
         "--trials", "1", "--epochs", "1", "--metric", "mmd", "--quiet", *space],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and len(output.splitlines()) < 20, output
    [error] = [line for line in output.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: MLflow unavailable: {uri}: ") and "refused" in error, error

    # the job is kept: failed with that error, its trial trained and checkpointed
    [job] = rt.storage.list_jobs().items
    assert job.status == "failed" and uri in job.errors[-1]
    [trial] = job.trials
    assert trial.status == "succeeded" and trial.checkpoint and trial.run_id is None

    # with a tracker that answers (here the embedded one), resuming registers what trained,
    # and the version says that its trial has no run
    done = training.resume_job(rt, job.id)
    assert done.status == "succeeded", done.errors
    tag = _client(rt.settings).get_model_version(done.model.name,
                                                 done.model.version).tags["synthts.run"]
    assert tag.startswith("no training run")
