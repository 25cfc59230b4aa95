"""Fixtures for training-service tests: a runtime on a temp data folder (real SQLite storage,
embedded MLflow tracker), a tiny labelled two-channel dataset, a shared local Ray."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from synthts_core.domain import Dataset, JobSpec
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings

TINY_SPACE = {"latent_dim": 8, "batch_size": 16, "n_critic": 2, "embed_dim": 4,
              "conv_width": 8, "conv_layers": 2}


@pytest.fixture
def rt(synthts_settings: Settings, local_ray: str) -> Iterator[Runtime]:
    settings = synthts_settings.model_copy(update={"device": "cpu", "ray_cpus_per_trial": 1.0})
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def rt_server(synthts_settings: Settings, local_ray: str, mlflow_server_uri: str
              ) -> Iterator[Runtime]:
    """Like ``rt`` but tracking to a real ``mlflow server`` on loopback (workers log over HTTP)."""
    settings = synthts_settings.model_copy(update={"device": "cpu", "mlflow_uri": mlflow_server_uri})
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def tiny_dataset(name: str = "tiny", n: int = 48, length: int = 32) -> Dataset:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    t = np.arange(length) / length
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    values = 3.0 * np.sin(2 * np.pi * (labels[:, None, None] + 1) * t + phase) + 5.0
    return Dataset.build(name, values.astype(np.float32), labels, ["slow", "fast"])


@pytest.fixture
def dataset(rt: Runtime) -> Dataset:
    ds = tiny_dataset()
    rt.storage.create_dataset(ds)
    return ds


@pytest.fixture
def server_dataset(rt_server: Runtime) -> Dataset:
    ds = tiny_dataset()
    rt_server.storage.create_dataset(ds)
    return ds


def _tiny_spec(**changes) -> JobSpec:
    fields = {"dataset": "tiny", "architectures": ["cgan", "wgan_gp"], "num_trials": 4,
              "epochs": 2, "search_space": dict(TINY_SPACE), "max_concurrent": 2}
    fields.update(changes)
    return JobSpec(**fields)


@pytest.fixture
def tiny_spec():
    """``tiny_spec(**changes)``: a 4-trial search over both architectures on ``tiny``."""
    return _tiny_spec
