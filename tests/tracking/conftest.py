"""Fixtures for the tracker, registry and model-loading tests.

``TinyArchitecture`` is a real (small) GAN-architecture plugin: a torch linear generator with a
seeded ``generate`` and safetensors weights, so these tests do not wait on the GAN plugin.
``store`` runs a test against the embedded SQLite store and against a real ``mlflow server``.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthts_core import hookimpl
from synthts_core.domain import ModelBundle
from synthts_core.runtime import Runtime
from synthts_core.schema import ParamSchema
from synthts_core.settings import Settings


class TinyTrainer:
    """tanh(Linear([z, one_hot(label)])) reshaped to (c, L)."""

    def __init__(self, config: Mapping[str, Any], device: str = "cpu") -> None:
        import torch

        self.config = dict(config)
        self.n_classes = int(config.get("n_classes", 0))
        self.n_channels = int(config["n_channels"])
        self.length = int(config["length"])
        self.latent_dim = int(config.get("latent_dim", 4))
        self.device = device
        rng = torch.Generator().manual_seed(int(config.get("seed", 0)))
        self.gen = torch.nn.Linear(self.latent_dim + self.n_classes, self.n_channels * self.length)
        with torch.no_grad():
            self.gen.weight.copy_(0.3 * torch.randn(self.gen.weight.shape, generator=rng))
            self.gen.bias.zero_()

    @property
    def conditional(self) -> bool:
        return self.n_classes > 0

    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None) -> np.ndarray:
        import torch

        rng = torch.Generator().manual_seed(
            seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63))
        zt = (torch.randn(n, self.latent_dim, generator=rng) if z is None
              else torch.as_tensor(np.asarray(z, np.float32)))
        cond = torch.zeros(n, self.n_classes)
        if label_weights is not None:
            cond = torch.as_tensor(np.asarray(label_weights, np.float32))
        elif labels is not None:
            cond = torch.nn.functional.one_hot(torch.as_tensor(labels), self.n_classes).float()
        with torch.no_grad():
            out = torch.tanh(self.gen(torch.cat([zt, cond], dim=1)))
        return out.reshape(n, self.n_channels, self.length).numpy()

    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        import torch

        fake = torch.tanh(self.gen(torch.randn(len(values), self.latent_dim + self.n_classes)))
        loss = (fake.mean(0) - torch.as_tensor(values).reshape(len(values), -1).mean(0)).pow(2).mean()
        loss.backward()
        with torch.no_grad():
            for p in self.gen.parameters():
                p -= 0.1 * p.grad
                p.grad = None
        return {"loss": float(loss)}

    def weights(self) -> bytes:
        from safetensors.torch import save

        return save({k: v.contiguous() for k, v in self.gen.state_dict().items()})

    def load_weights(self, data: bytes) -> None:
        from safetensors.torch import load

        self.gen.load_state_dict(load(data))


class TinyArchitecture:
    name = "tiny"
    description = "Test-only linear generator."
    conditional = True
    space = ParamSchema(())

    def __init__(self) -> None:
        self.builds = 0
        self.build_delay_s = 0.0
        self._lock = threading.Lock()

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> TinyTrainer:
        with self._lock:
            self.builds += 1
        time.sleep(self.build_delay_s)  # lets concurrent loaders overlap in the cache test
        return TinyTrainer(config, device)


class TinyPlugin:
    def __init__(self) -> None:
        self.architecture = TinyArchitecture()

    @hookimpl
    def register_gan_architectures(self, registry: Any) -> None:
        registry.add(self.architecture)


def tiny_config(label_names: list[str] | None = None, n_channels: int = 2, length: int = 16,
                offset: list[float] | None = None, scale: list[float] | None = None,
                seed: int = 0) -> dict[str, Any]:
    names = ["sine", "square", "saw"] if label_names is None else label_names
    return {
        "architecture": "tiny", "latent_dim": 4, "n_classes": len(names), "label_names": names,
        "n_channels": n_channels, "length": length, "seed": seed,
        "normalisation": {"method": "minmax", "offset": offset or [0.0] * n_channels,
                          "scale": scale or [1.0] * n_channels},
        "dataset": {"name": "harmonics", "checksum": "sha256:" + "ab" * 32},
    }


def tiny_bundle(config: dict[str, Any] | None = None, mmd: float = 0.1) -> ModelBundle:
    config = config or tiny_config()
    return ModelBundle(config=config, weights=TinyTrainer(config).weights(), metrics={"mmd": mmd})


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow SQLite store, made once: creating one runs MLflow's
    migrations (several seconds), so each test starts from a copy instead."""
    from synthts_mlflow.plugin import make_tracker

    data_dir = tmp_path_factory.mktemp("mlflow-template")
    settings = Settings(data_dir=data_dir, _env_file=None)
    make_tracker(settings).ping()
    return data_dir / "mlflow.db"


def fresh_data_dir(tmp_path: Path, template: Path) -> Path:
    data_dir = tmp_path / "synthts-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, data_dir / "mlflow.db")
    return data_dir


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.mlflow)])
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tracker_settings(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Embedded: SQLite + artifact folder under tmp. Server: the session's real mlflow server,
    with a per-test experiment prefix so tests sharing it do not see each other's runs."""
    uri = request.getfixturevalue("mlflow_server_uri") if store == "server" else None
    template = request.getfixturevalue("migrated_mlflow_db")
    return Settings(data_dir=fresh_data_dir(tmp_path, template), mlflow_uri=uri, device="cpu",
                    mlflow_experiment=f"test-{uuid.uuid4().hex[:8]}", _env_file=None)


@pytest.fixture
def embedded_settings(tmp_path: Path, migrated_mlflow_db: Path) -> Settings:
    return Settings(data_dir=fresh_data_dir(tmp_path, migrated_mlflow_db), device="cpu", _env_file=None)


@pytest.fixture
def model_name() -> str:
    return f"tiny-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tiny_plugin(register_plugin: Any) -> TinyPlugin:
    import synthts_mlflow.plugin

    register_plugin(synthts_mlflow.plugin, name="mlflow")
    plugin = TinyPlugin()
    register_plugin(plugin, name="tiny")
    return plugin


@pytest.fixture
def runtime(tracker_settings: Settings, synthts_pm: Any, tiny_plugin: TinyPlugin) -> Runtime:
    rt = Runtime(tracker_settings, synthts_pm)
    yield rt
    rt.close()


@pytest.fixture
def embedded_runtime(embedded_settings: Settings, synthts_pm: Any,
                     tiny_plugin: TinyPlugin) -> Runtime:
    rt = Runtime(embedded_settings, synthts_pm)
    yield rt
    rt.close()
