"""What an MLflow user sees of synthts' runs without training anything: experiments marked as
model training (MLflow 3's UI opens them in its model-training view), MLflow's source and user
tags, the dataset as a run input, system metrics when the setting asks for them, and versions
registered before logged models still loading."""

from __future__ import annotations

import time
from typing import Any

import pytest
from synthts_mlflow.plugin import make_tracker

from synthts_core.settings import Settings
from tests.tracking.conftest import tiny_bundle


def _client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_experiments_are_model_training_and_runs_carry_source_tags(
        tracker_settings: Settings, model_name: str) -> None:
    tracker = make_tracker(tracker_settings)
    run_id = tracker.start_run("job-1", "trial", {"lr": 0.001}, tags={"synthts.job": "job-1"})
    tracker.end_run(run_id, "FINISHED")
    client = _client(tracker_settings)
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["mlflow.source.type"] == "JOB"
    assert run.data.tags["mlflow.source.name"].startswith("synthts ")
    assert run.data.tags["mlflow.user"] and run.data.tags["synthts.job"] == "job-1"

    # a registration without a run gets its own run, with the dataset as its input
    ref = tracker.register_model(model_name, tiny_bundle())
    [dataset_input] = client.get_run(ref.run_id).inputs.dataset_inputs
    assert (dataset_input.dataset.name, dataset_input.dataset.digest) == ("harmonics", "ab" * 18)


def test_an_older_experiment_is_marked_when_first_used(embedded_settings: Settings) -> None:
    client = _client(embedded_settings)
    tracker = make_tracker(embedded_settings)
    tracker.ping()
    exp_id = client.create_experiment(tracker.experiment_name("old"))
    assert "mlflow.experimentKind" not in client.get_experiment(exp_id).tags
    assert tracker.experiment_id("old") == exp_id
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == \
        "custom_model_development"


def test_system_metrics_only_when_the_setting_is_on(embedded_settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")
    client = _client(embedded_settings)
    off = make_tracker(embedded_settings)
    run_off = off.start_run("sys", "off", {})
    off.end_run(run_off, "FINISHED")
    assert not [k for k in client.get_run(run_off).data.metrics if k.startswith("system/")]

    on = make_tracker(embedded_settings.model_copy(update={"mlflow_system_metrics": True}))
    run_on = on.start_run("sys", "on", {})
    monitor = on._monitors[run_on]
    deadline = time.monotonic() + 30
    while monitor._logging_step < 1 and time.monotonic() < deadline:  # one sample taken
        time.sleep(0.05)
    on.end_run(run_on, "FINISHED")  # flushes what was sampled
    metrics = client.get_run(run_on).data.metrics
    assert "system/cpu_utilization_percentage" in metrics
    assert "system/system_memory_usage_megabytes" in metrics
    assert run_on not in on._monitors


def test_a_version_in_a_run_folder_still_loads(embedded_settings: Settings,
                                               model_name: str) -> None:
    """Versions registered before logged models: files in the run's ``model/`` folder."""
    tracker = make_tracker(embedded_settings)
    bundle = tiny_bundle()
    run_id = tracker.start_run("legacy", "legacy", {})
    tracker.log_artifact_files(run_id, {"config.json": b'{"architecture": "tiny"}',
                                        "weights.safetensors": bundle.weights,
                                        "metrics.json": b'{"mmd": 0.5}'}, "model")
    client = _client(embedded_settings)
    client.create_registered_model(model_name)
    client.create_model_version(model_name, f"{client.get_run(run_id).info.artifact_uri}/model",
                                run_id=run_id)
    loaded = tracker.load_bundle(model_name, "1")
    assert loaded.weights == bundle.weights and loaded.metrics == {"mmd": 0.5}
