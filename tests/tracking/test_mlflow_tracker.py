"""The MLflow tracker against the embedded SQLite store and a real ``mlflow server``."""

from __future__ import annotations

import json
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

import pytest
from synthts_mlflow.plugin import make_tracker

from synthts_core.errors import BackendUnavailableError, BadInputError, NotFoundError
from synthts_core.ports import free_port
from synthts_core.settings import Settings
from tests.tracking.conftest import tiny_bundle, tiny_config


def mlflow_client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_runs_record_params_metrics_and_artifacts(tracker_settings: Settings) -> None:
    tracker = make_tracker(tracker_settings)
    run_id = tracker.start_run("job-1", "trial-0", {"lr": 2e-4, "layers": [128, 256]},
                               tags={"architecture": "tiny"})
    for epoch in range(3):
        tracker.log_metrics(run_id, {"loss_g": 1.0 / (epoch + 1), "mmd": 0.5 - 0.1 * epoch}, epoch)
    tracker.log_artifact(run_id, "figures/epoch_2.html", b"<html>epoch 2</html>")
    tracker.end_run(run_id, "FINISHED")

    run = mlflow_client(tracker_settings).get_run(run_id)  # what MLflow itself shows
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "trial-0"
    assert run.data.params == {"lr": "0.0002", "layers": "[128, 256]"}
    assert run.data.tags["architecture"] == "tiny"
    assert run.data.metrics["mmd"] == pytest.approx(0.3)
    exp = mlflow_client(tracker_settings).get_experiment(run.info.experiment_id)
    assert exp.name == f"{tracker_settings.mlflow_experiment}/job-1"
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow_client(tracker_settings).download_artifacts(run_id, "figures", tmp)
        assert (Path(local) / "epoch_2.html").read_bytes() == b"<html>epoch 2</html>"
    history = tracker.run_history(run_id)
    assert history["loss_g"] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [step for step, _ in history["mmd"]] == [0, 1, 2]

    with pytest.raises(BadInputError, match="status"):
        tracker.end_run(run_id, "DONE")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="name"):
        tracker.log_artifact(run_id, "../outside.txt", b"x")


def test_versions_aliases_bundles_and_evaluations(tracker_settings: Settings,
                                                  model_name: str) -> None:
    tracker = make_tracker(tracker_settings)
    first = tiny_bundle(tiny_config(seed=1), mmd=0.3)
    second = tiny_bundle(tiny_config(seed=2), mmd=0.1)
    assert first.weights != second.weights
    run_id = tracker.start_run("job-2", "trial-best", {"seed": 1})
    v1 = tracker.register_model(model_name, first, run_id=run_id, aliases=["best"])
    tracker.end_run(run_id, "FINISHED")
    v2 = tracker.register_model(model_name, second)  # no run: the tracker makes one
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.run_id == run_id and v2.run_id not in (None, run_id)
    assert v1.aliases == ["best"] and v2.aliases == []
    assert v2.architecture == "tiny" and v2.metrics == {"mmd": pytest.approx(0.1)}
    assert v2.config["label_names"] == ["sine", "square", "saw"]

    assert tracker.get_version(model_name, "best").version == "1"
    tracker.set_alias(model_name, "best", "2")  # the alias moves
    assert tracker.get_version(model_name, "best").version == "2"
    assert tracker.get_version(model_name, "1").aliases == []
    assert tracker.get_version(model_name, "latest").version == "2"
    assert [v.version for v in tracker.list_versions(model_name)] == ["1", "2"]
    [listed] = [m for m in tracker.list_models() if m.name == model_name]
    assert (listed.n_versions, listed.latest_version, listed.aliases) == (2, "2", {"best": "2"})

    loaded = tracker.load_bundle(model_name, "1")
    assert loaded.weights == first.weights and loaded.config == first.config
    assert tracker.load_bundle(model_name, "best").weights == second.weights

    client = mlflow_client(tracker_settings)
    mv = client.get_model_version(model_name, "2")
    assert mv.run_id == v2.run_id and mv.source.startswith("models:/m-")
    logged = client.get_logged_model(mv.source.removeprefix("models:/"))  # MLflow 3 logged model
    assert logged.source_run_id == v2.run_id
    assert [o.model_id for o in client.get_run(v2.run_id).outputs.model_outputs] == [
        logged.model_id]
    assert mv.tags["dataset_checksum"] == "sha256:" + "ab" * 32
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(download_artifacts(artifact_uri=logged.artifact_location, dst_path=tmp,
                                        tracking_uri=tracker_settings.mlflow_tracking_uri))
        names = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"MLmodel", "pyfunc_model.py", "artifacts/weights.safetensors",
            "artifacts/config.json", "artifacts/metrics.json"} <= names

    report = {"dataset": "harmonics", "metrics": [{"name": "mmd", "value": 0.07},
                                                   {"name": "fid", "value": 1.5}]}
    tracker.log_evaluation(model_name, "best", report)
    assert tracker.get_version(model_name, "2").metrics == {
        "mmd": pytest.approx(0.1), "eval.mmd": pytest.approx(0.07), "eval.fid": pytest.approx(1.5)}
    [evaluation] = client.list_artifacts(v2.run_id, "evaluations")
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(client.download_artifacts(v2.run_id, evaluation.path, tmp)).read_text()
    assert json.loads(text) == report

    with pytest.raises(NotFoundError, match="versions: 1, 2"):
        tracker.get_version(model_name, "7")
    with pytest.raises(NotFoundError, match="best"):
        tracker.get_version(model_name, "champion")
    with pytest.raises(NotFoundError, match="not-registered"):
        tracker.list_versions("not-registered")
    with pytest.raises(BadInputError, match="alias"):
        tracker.set_alias(model_name, "latest", "1")


def _worker(settings_json: str, worker: int, runs: int, steps: int, out: Any) -> None:
    """One process as a Ray trial would do it: rebuild the tracker from the settings."""
    settings = Settings.model_validate_json(settings_json)
    tracker = make_tracker(settings)
    ids = []
    for r in range(runs):
        run_id = tracker.start_run("concurrent", f"w{worker}-r{r}", {"worker": worker, "run": r})
        for step in range(steps):
            tracker.log_metrics(run_id, {"a": float(step), "b": float(worker)}, step)
        tracker.end_run(run_id, "FINISHED")
        ids.append(run_id)
    from synthts_mlflow import resilience

    out.put((ids, resilience.lock_retries))


@pytest.mark.slow
def test_many_processes_write_one_sqlite_store(embedded_settings: Settings) -> None:
    make_tracker(embedded_settings).ping()  # the parent creates the store, as the service does
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers, runs, steps = 2, 3, 12
    procs = [ctx.Process(target=_worker, args=(embedded_settings.model_dump_json(), w, runs,
                                               steps, queue)) for w in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    ids = [run_id for run_ids, _ in results for run_id in run_ids]
    print("lock retries per worker:", [retries for _, retries in results])
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(ids)) == workers * runs
    tracker = make_tracker(embedded_settings)
    for run_id in ids:
        history = tracker.run_history(run_id)
        assert [s for s, _ in history["a"]] == list(range(steps))
        assert [v for _, v in history["a"]] == [float(s) for s in range(steps)]
        assert len(history["b"]) == steps


@pytest.mark.timeout(30)  # MLflow's own retries would wait minutes; the tracker must not hang
def test_dead_server_fails_fast_with_backend_unavailable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mlflow_uri=f"http://127.0.0.1:{free_port()}",
                        _env_file=None)
    tracker = make_tracker(settings)
    with pytest.raises(BackendUnavailableError, match="MLflow unavailable"):
        tracker.ping()
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1"):
        tracker.list_models()


def test_embedded_ping_and_plugin_registration(embedded_runtime: Any) -> None:
    tracker = embedded_runtime.tracker  # built through the registered factory
    tracker.ping()
    assert embedded_runtime.settings.mlflow_tracking_uri.startswith("sqlite:///")
    assert (embedded_runtime.settings.data_dir / "mlflow.db").is_file()
    assert embedded_runtime.registries.trackers.plugin_of("mlflow") == "mlflow"
