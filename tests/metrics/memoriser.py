"""A model made to memorise, for the privacy audit's tests and benchmark: its ``train_epoch``
keeps the training series and its ``generate`` hands them back with a little noise.

It is a real architecture plugin (``register_model_architectures``), so it trains, registers in
the MLflow registry, loads and generates through the same services and API as the GAN: the
audit is tested on the path a user's model takes, with a model whose leak is known. Also the
two-class harmonics the array-level tests use.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core import hookimpl
from synthts_core.domain import Dataset, ModelBundle
from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, float_param

LENGTH = 64
NAMES = ["2Hz", "5Hz"]


def harmonics(per_class: int, seed: int, noise: float = 0.2, length: int = LENGTH) -> Dataset:
    """Two classes of fixed-phase sines plus white noise (the harmonics preset, small)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, length)
    parts = [2.0 * np.sin(2 * np.pi * f * t)[None, None, :]
             + noise * rng.standard_normal((per_class, 1, length)) for f in (2, 5)]
    labels = np.repeat(np.arange(2), per_class)
    return Dataset.build("harmonics", np.concatenate(parts).astype(np.float32), labels, NAMES)


def jittered_copies(values: np.ndarray, scale: float = 0.05, seed: int = 9) -> np.ndarray:
    """What a model that memorised ``values`` returns: the same series, lightly jittered (a
    quarter of the harmonics' own noise)."""
    rng = np.random.default_rng(seed)
    return (values + scale * rng.standard_normal(values.shape)).astype(np.float32)


class MemoriserModel:
    """``GenerativeModel`` that stores its training series and returns them jittered."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.length, self.n_channels = int(config["length"]), int(config["n_channels"])
        self.n_classes = int(config.get("n_classes") or 0)
        self.jitter = float(config.get("jitter", 0.02))
        self.values = np.zeros((0, self.n_channels, self.length), np.float32)
        self.labels = np.zeros(0, np.int64)

    @property
    def conditional(self) -> bool:
        return self.n_classes > 0

    @property
    def latent_dim(self) -> int:
        return 1

    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None
                    ) -> dict[str, float]:
        self.values = np.asarray(values, np.float32).copy()
        self.labels = (np.zeros(len(values), np.int64) if labels is None
                       else np.asarray(labels, np.int64).copy())
        return {"stored": float(len(values))}

    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None,
                 noise: np.ndarray | None = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        wanted = np.zeros(n, np.int64) if labels is None else np.asarray(labels, np.int64)
        out = np.empty((n, self.n_channels, self.length), np.float32)
        for label in np.unique(wanted):
            pool = np.flatnonzero(self.labels == label)
            if not len(pool):
                raise BadInputError("labels", f"class {int(label)} was never trained",
                                    allowed="a trained class")
            rows = np.flatnonzero(wanted == label)
            # every stored series once before any twice: as many copies as possible
            picks = np.concatenate([rng.permutation(pool)
                                    for _ in range(-(-len(rows) // len(pool)))])[:len(rows)]
            out[rows] = self.values[picks]
        return out + self.jitter * rng.standard_normal(out.shape).astype(np.float32)

    def weights(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, values=self.values, labels=self.labels)
        return buf.getvalue()

    def load_weights(self, data: bytes) -> None:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            self.values, self.labels = saved["values"], saved["labels"]

    checkpoint = weights
    load_checkpoint = load_weights


class MemoriserArchitecture:
    name = "memoriser"
    description = "Test model: returns its training series with a little noise."
    family = "test"
    conditional = True
    scaling = "minmax"
    space = ParamSchema((float_param("jitter", 0.02, 0.0, 1.0,
                                     help="std of the noise added to a stored series"),))

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> MemoriserModel:
        return MemoriserModel(config)


class MemoriserPlugin:
    @hookimpl
    def register_model_architectures(self, registry) -> None:
        registry.add(MemoriserArchitecture())


def register_memoriser(runtime: Any, model: str, dataset_name: str, jitter: float = 0.02
                       ) -> Any:
    """Train a memoriser on the stored dataset's training part (its held-out series stay
    unseen) and register it through the real tracker; the version's ref."""
    from synthts_core.services.holdout import training_part

    stored = runtime.storage.read_dataset(dataset_name)
    train = training_part(stored)
    config = {"architecture": "memoriser", "jitter": jitter, "length": stored.meta.length,
              "n_channels": stored.meta.n_channels,
              "n_classes": len(stored.meta.label_names), "seed": 0,
              "label_names": list(stored.meta.label_names),
              "normalisation": {"method": "none"},
              "dataset": {"name": dataset_name, "checksum": stored.meta.checksum}}
    trainer = MemoriserArchitecture().build(config)
    trainer.train_epoch(train.values, train.labels)
    return runtime.tracker.register_model(model, ModelBundle(config, trainer.weights(), {}))
