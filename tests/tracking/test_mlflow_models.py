"""A version registered by ``synthts train`` is a real MLflow model: any MLflow user loads it
with ``mlflow.pyfunc.load_model`` (in a process that never imports synthts' training code) and
gets the series ``synthts sample`` gives for the same seed; MLflow's scoring server answers;
no artifact is a pickle; the run shows the dataset it learned, its source and its model.

One tiny search (1 trial x 1 epoch on 16 series) is trained once for the whole module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.domain import Dataset
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]

MODEL = "mlflow-native-gan"
SEED = 7
PER_LABEL = 2
# what the loading process must never import: the training service, Ray, the CLI
TRAINING_MODULES = ("synthts_core.services.training", "synthts_core.services.training_trial",
                    "synthts_core.services.training_ray", "ray", "synthts_core.cli")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, local_ray: str) -> Iterator[Runtime]:
    """A runtime whose registry holds MODEL@best, trained by ``synthts train``."""
    data_dir = tmp_path_factory.mktemp("mlflow-native")
    settings = Settings(data_dir=data_dir, device="cpu", ray_cpus_per_trial=1.0, _env_file=None)
    rt = Runtime(settings)
    t = np.arange(16) / 16
    labels = np.arange(16) % 2
    values = (np.sin(2 * np.pi * (labels[:, None, None] + 1) * t) + 3.0).astype(np.float32)
    rt.storage.create_dataset(Dataset.build("native", values, labels, ["slow", "fast"]))
    result = CliRunner().invoke(cli, [
        "train", "--dataset", "native", "--arch", "cgan", "--trials", "1", "--epochs", "1",
        "--model-name", MODEL, "--set", "latent_dim=4", "--set", "batch_size=8", "--quiet"],
        obj=rt, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield rt
    rt.close()


def _client(rt: Runtime) -> Any:
    from mlflow import MlflowClient

    uri = rt.settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


LOAD_SCRIPT = """
import json, sys
import mlflow
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = json.loads(sys.argv[2])
out = model.predict(pd.DataFrame(rows))
info = mlflow.models.get_model_info(sys.argv[1])
forbidden = [m for m in json.loads(sys.argv[3]) if m in sys.modules]
print(json.dumps({"labels": out["label"].tolist(), "values": out["values"].tolist(),
                  "model_id": info.model_id, "imported": forbidden}))
"""


def test_pyfunc_in_a_fresh_process_matches_synthts_sample(trained: Runtime,
                                                          tmp_path: Path) -> None:
    sample_file = tmp_path / "sample.npy"
    sampled = CliRunner().invoke(cli, ["sample", f"{MODEL}@best", "--n", str(PER_LABEL),
                                       "--seed", str(SEED), "-o", str(sample_file)], obj=trained)
    assert sampled.exit_code == 0, sampled.output
    expected = np.load(sample_file)

    rows = [{"label": name, "count": PER_LABEL, "seed": SEED} for name in ("slow", "fast")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHTS_", "MLFLOW_"))}
    env.update({"MLFLOW_TRACKING_URI": trained.settings.mlflow_tracking_uri,
                "SYNTHTS_DEVICE": "cpu", "SYNTHTS_DATA_DIR": str(tmp_path / "unused")})
    done = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, f"models:/{MODEL}@best", json.dumps(rows),
         json.dumps(TRAINING_MODULES)], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["imported"] == []
    assert got["labels"] == ["slow"] * PER_LABEL + ["fast"] * PER_LABEL
    values = np.asarray(got["values"], dtype=np.float32)
    assert values.shape == expected.shape == (2 * PER_LABEL, 1, 16)
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-6)
    version = _client(trained).get_model_version_by_alias(MODEL, "best")
    assert version.source == f"models:/{got['model_id']}"


def test_scoring_server_answers_and_refuses_bad_input(trained: Runtime) -> None:
    import mlflow.pyfunc
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server


    uri = _client(trained).get_model_version_download_uri(MODEL, "1")
    app = scoring_server.init(mlflow.pyfunc.load_model(uri))
    with TestClient(app) as http:
        assert http.get("/ping").status_code == 200
        body = {"dataframe_records": [{"label": "fast", "count": 3, "seed": SEED}]}
        answer = http.post("/invocations", json=body)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert [p["label"] for p in predictions] == ["fast"] * 3
        expected = trained.services.models.sample(f"{MODEL}@1", 3, labels=["fast"],
                                                  seed=SEED).values
        np.testing.assert_allclose(np.asarray([p["values"] for p in predictions]), expected,
                                   rtol=1e-5, atol=1e-5)
        bad = http.post("/invocations", json={"dataframe_records": [{"label": "nope"}]})
        assert bad.status_code == 400 and "nope" in bad.text
        # the learnt gaps of a model that learnt complete series: none (the signature takes
        # the column; an unknown mode is refused by name)
        gaps = http.post("/invocations", json={"dataframe_records": [
            {"label": "fast", "count": 3, "seed": SEED, "missing": "learned"}]})
        assert gaps.status_code == 200, gaps.text
        np.testing.assert_allclose(np.asarray([p["values"] for p in gaps.json()["predictions"]]),
                                   expected, rtol=1e-5, atol=1e-5)
        bad = http.post("/invocations", json={"dataframe_records": [
            {"label": "fast", "missing": "some"}]})
        assert bad.status_code == 400 and "missing" in bad.text


def test_no_artifact_of_the_version_is_a_pickle(trained: Runtime) -> None:
    from mlflow.artifacts import download_artifacts

    client = _client(trained)
    version = client.get_model_version_by_alias(MODEL, "best")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    uris = [logged.artifact_location]
    if client.list_artifacts(version.run_id):  # the trial's run keeps no copy of the model
        uris.append(client.get_run(version.run_id).info.artifact_uri)
    with tempfile.TemporaryDirectory() as tmp:
        for uri in uris:
            local = Path(download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(dir=tmp),
                                            tracking_uri=trained.settings.mlflow_tracking_uri))
            files = [p for p in local.rglob("*") if p.is_file()]
            assert files
            for path in files:
                head = path.read_bytes()[:2]
                assert path.suffix not in (".pkl", ".pickle", ".pt", ".pth", ".joblib"), path
                assert not (len(head) == 2 and head[0] == 0x80 and head[1] <= 5), path
        mlmodel = (Path(download_artifacts(artifact_uri=f"{logged.artifact_location}/MLmodel",
                                           dst_path=tempfile.mkdtemp(dir=tmp),
                                           tracking_uri=trained.settings.mlflow_tracking_uri))
                   .read_text())
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "model_code_path:" in mlmodel and ".pkl" not in mlmodel  # code, not a pickled object


def test_run_records_dataset_source_and_model(trained: Runtime) -> None:
    client = _client(trained)
    version = client.get_model_version_by_alias(MODEL, "best")
    run = client.get_run(version.run_id)
    job = trained.storage.list_jobs(limit=1).items[0]
    assert run.info.run_id == job.trials[0].run_id  # the trial's own run, not a new one
    assert run.data.tags["mlflow.source.name"].startswith("synthts")
    assert run.data.tags["mlflow.source.type"] == "JOB" and run.data.tags["mlflow.user"]
    [dataset_input] = run.inputs.dataset_inputs
    checksum = trained.storage.get_dataset_meta("native").checksum
    assert dataset_input.dataset.name == "native"
    assert dataset_input.dataset.digest == checksum.split(":", 1)[-1][:36]
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    assert [o.model_id for o in run.outputs.model_outputs] == [
        version.source.removeprefix("models:/")]
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
