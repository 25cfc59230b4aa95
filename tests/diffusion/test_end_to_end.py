"""The diffusion family everywhere a GAN goes: a search on a real local Ray registers it in
MLflow under DATASET-diffusion, its quality curve is drawn as often as its sample cost allows,
MLflow's pyfunc loads it in a fresh process and gives what ``synthts sample`` gives, and the API
walks its initial noise and its class conditioning. One tiny search is trained for the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from synthts_core.api.app import create_app
from synthts_core.cli import cli
from synthts_core.domain import Dataset
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from tests.tracking.test_mlflow_models import LOAD_SCRIPT, TRAINING_MODULES

pytestmark = [pytest.mark.ray, pytest.mark.slow]

EPOCHS = 4
STEPS = 8  # sample cost 8: the quality curve every 2nd epoch (and on scored epochs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, local_ray: str) -> Iterator[Runtime]:
    data_dir = tmp_path_factory.mktemp("diffusion-e2e")
    settings = Settings(data_dir=data_dir, device="cpu", ray_cpus_per_trial=1.0, _env_file=None)
    rt = Runtime(settings)
    t = np.arange(16) / 16
    labels = np.arange(24) % 2
    values = (np.sin(2 * np.pi * (labels[:, None, None] + 1) * t) + 3.0).astype(np.float32)
    rt.storage.create_dataset(Dataset.build("native", values, labels, ["slow", "fast"]))
    result = CliRunner().invoke(cli, [
        "train", "--dataset", "native", "--arch", "diffusion", "--trials", "1", "--epochs",
        str(EPOCHS), "--set", "d_model=16", "--set", "layers=1", "--set", "heads=2",
        "--set", f"sampling_steps={STEPS}", "--set", "batch_size=8", "--quiet"],
        obj=rt, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield rt
    rt.close()


def test_the_search_registers_a_diffusion_model(trained: Runtime) -> None:
    job = trained.services.jobs.list().items[0]
    assert job.status == "succeeded", job.errors
    assert job.model is not None and job.model.name == "native-diffusion"
    assert job.model.architecture == "diffusion"
    history = job.trials[0].history
    curve = {int(h["epoch"]) for h in history if "mmd" in h}
    scored = {int(h["epoch"]) for h in history if "detector" in h}
    assert curve == {2, 4} | scored, history  # every ceil(8 / 4) = 2 epochs, and when scored


def test_pyfunc_in_a_fresh_process_matches_synthts_sample(trained: Runtime,
                                                          tmp_path: Path) -> None:
    """Longer than the 16-point window (painted window by window), through the CLI and
    MLflow's pyfunc alike."""
    out = tmp_path / "sample.npy"
    sampled = CliRunner().invoke(cli, ["sample", "native-diffusion@best", "--n", "2", "--seed",
                                       "5", "--length", "40", "-o", str(out)], obj=trained)
    assert sampled.exit_code == 0, sampled.output
    assert np.load(out).shape == (4, 1, 40)
    rows = [{"label": name, "count": 2, "seed": 5, "length": 40} for name in ("slow", "fast")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHTS_", "MLFLOW_"))}
    env.update({"MLFLOW_TRACKING_URI": trained.settings.mlflow_tracking_uri,
                "SYNTHTS_DEVICE": "cpu", "SYNTHTS_DATA_DIR": str(tmp_path / "unused")})
    done = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, "models:/native-diffusion@best", json.dumps(rows),
         json.dumps(TRAINING_MODULES)], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["imported"] == []
    np.testing.assert_allclose(np.asarray(got["values"], np.float32), np.load(out),
                               rtol=1e-5, atol=1e-5)


def test_painted_series_are_the_same_batched_or_alone(trained: Runtime) -> None:
    """The API's batcher runs requests for one version and length in one pass, each from its
    own seed: a request's painted series match what the model gives it alone."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from synthts_core.services.batching import GenerationBatcher

    model = trained.services.models.load("native-diffusion", "best")
    alone = [model.generate(None, labels=["fast"], seed=s, length=37)[0] for s in (1, 2)]

    async def together() -> list[np.ndarray]:
        batcher = GenerationBatcher(ThreadPoolExecutor(1), max_batch_values=10_000)
        plans = [model.plan_request(1, ["fast"], None, None, 37) for _ in (1, 2)]
        runs = [batcher.generate(model, idx, total, seed, 37)
                for (idx, total), seed in zip(plans, (1, 2), strict=True)]
        out = await asyncio.gather(*runs)
        assert batcher.passes == 1  # both requests in one pass
        return [values for values, _ in out]

    for got, want in zip(asyncio.run(together()), alone, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_api_walks_the_initial_noise_and_the_classes(trained: Runtime) -> None:
    base = "/api/v1/models/native-diffusion/versions/best"
    with TestClient(create_app(trained.settings)) as c:
        arch = {a["name"]: a for a in c.get("/api/v1/architectures").json()["items"]}
        assert arch["diffusion"]["family"] == "diffusion" and arch["cgan"]["family"] == "gan"
        one = c.post(f"{base}/generate", json={"n": 3, "labels": ["fast"], "seed": 2}).json()
        assert one["shape"] == [3, 1, 16]
        assert c.post(f"{base}/generate", json={"n": 3, "labels": ["fast"],
                                               "seed": 2}).json()["values"] == one["values"]
        # longer than the window: painted, reproducible by seed, batched or not
        body = {"n": 2, "labels": ["slow"], "seed": 4, "length": 50}
        long = c.post(f"{base}/generate", json=body).json()
        assert long["shape"] == [2, 1, 50]
        assert c.post(f"{base}/generate", json=body).json()["values"] == long["values"]
        other = c.post(f"{base}/generate", json={**body, "seed": 5}).json()["values"]
        assert not np.allclose(np.asarray(other), np.asarray(long["values"]))
        short = c.post(f"{base}/generate", json={**body, "length": 8})
        assert short.status_code == 422 and "length" in short.text and "16" in short.text
        too_long = c.post(f"{base}/generate", json={**body, "length": 16 * 64 + 1})
        assert too_long.status_code == 422 and "1024" in too_long.text
        walk = c.post(f"{base}/interpolate", json={"steps": 5, "seed": 1,
                                                   "start_label": "slow"})
        assert walk.status_code == 200, walk.text
        latent = np.asarray(walk.json()["values"])
        assert latent.shape == (5, 1, 16) and not np.allclose(latent[0], latent[-1])
        labels = c.post(f"{base}/interpolate", json={"start_label": "slow", "end_label": "fast",
                                                     "steps": 3}).json()
        assert labels["label_weights"][1] == [0.5, 0.5]
