"""What a plugin of each kind provides. Plugins hand instances of these to the registries.

Protocols, not base classes: a plugin needs nothing from synthts but ``hookimpl`` and these
shapes. Heavy libraries (torch, mlflow, ...) stay inside the plugins; the core passes arrays and
plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from synthts_core.schema import ParamSchema

if TYPE_CHECKING:
    from synthts_core.domain import (
        Dataset,
        DatasetMeta,
        DatasetQuery,
        DatasetSpec,
        ModelBundle,
        ModelVersionRef,
        Page,
        RegisteredModel,
        TrainingJob,
    )
    from synthts_core.settings import Settings


@runtime_checkable
class SignalGenerator(Protocol):
    """A signal or noise process. ``generate`` is batched: one call makes ``n`` series.

    ``times`` is the time grid, shape (length,) shared by all series or (n, length) per series
    (irregular sampling). Returns float64 or float32 of shape (n, length). ``params`` has been
    validated against ``schema`` (and ``check``) already. Randomness comes only from ``rng``.
    """

    name: str
    kind: Literal["signal", "noise"]
    description: str
    schema: ParamSchema

    def check(self, params: Mapping[str, Any]) -> None:
        """Cross-field checks beyond ``schema`` (e.g. AR stationarity); raise BadInputError."""

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray: ...


@runtime_checkable
class DatasetPreset(Protocol):
    """A named, documented dataset spec (e.g. the seed's ten harmonics)."""

    name: str
    description: str

    def spec(self, **overrides: Any) -> DatasetSpec: ...


@runtime_checkable
class GanArchitecture(Protocol):
    """A GAN family. ``space`` is its hyper-parameter space; a ``config`` is a dict holding one
    value per parameter plus ``length``, ``n_channels``, ``n_classes`` and ``seed``.

    ``build`` returns a trainer object owned by the plugin with at least:
    ``train_epoch(values, labels) -> dict[str, float]`` (values float32 (n, c, length) already
    normalised, labels int64 or None), ``generate(n, labels=None, z=None, seed=None) -> ndarray``
    (n, c, length), ``latent_dim: int``, ``weights() -> bytes`` (safetensors) and
    ``load_weights(bytes)``. Nothing is ever pickled.
    """

    name: str
    description: str
    conditional: bool
    space: ParamSchema

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> Any: ...


@runtime_checkable
class StorageBackend(Protocol):
    """Datasets and training jobs. Writes are atomic; values are binary float32 with a checksum
    verified on read. Names are unique: a second create raises ``ConflictError``."""

    uri: str

    def open(self) -> None: ...
    def close(self) -> None: ...
    def ping(self) -> None:
        """Raise ``BackendUnavailableError`` (quickly, never hang) if the store is unreachable."""

    def create_dataset(self, dataset: Dataset) -> DatasetMeta: ...
    def get_dataset_meta(self, name: str) -> DatasetMeta: ...
    def read_dataset(self, name: str, *, series: slice | list[int] | None = None,
                     labels: list[int] | list[str] | None = None,
                     channels: list[int] | None = None) -> Dataset:
        """Whole (checksum verified) or sliced (chunk digests verified); a sliced read's meta
        has the subset's counts and checksum. ``labels`` are indices or label names."""
    def list_datasets(self, query: DatasetQuery) -> Page: ...
    def update_dataset(self, name: str, *, new_name: str | None = None,
                       tags: list[str] | None = None, description: str | None = None) -> DatasetMeta: ...
    def delete_dataset(self, name: str) -> None: ...

    def create_job(self, job: TrainingJob) -> TrainingJob: ...
    def update_job(self, job_id: str, **changes: Any) -> TrainingJob:
        """Atomic read-modify-write of status, progress, trials, errors, best_trial, model,
        experiment_path; ``trial=TrialState`` upserts one trial, ``error=str`` appends one
        (see ``synthts_core.storage_support.apply_job_changes``)."""
    def get_job(self, job_id: str) -> TrainingJob: ...
    def list_jobs(self, *, offset: int = 0, limit: int = 50,
                  status: str | None = None) -> Page: ...


StorageFactory = Callable[[str, "Settings"], StorageBackend]
"""Builds a backend from its URI (scheme picked the factory) and the settings."""


@runtime_checkable
class Tracker(Protocol):
    """Experiment tracking and model registry. Must work from Ray worker processes, so the
    training service rebuilds it there from the settings through the same factory."""

    uri: str

    def ping(self) -> None: ...
    def close(self) -> None: ...

    # runs
    def start_run(self, experiment: str, run_name: str, params: Mapping[str, Any],
                  tags: Mapping[str, str] | None = None) -> str: ...
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None: ...
    def log_artifact(self, run_id: str, name: str, data: bytes) -> None: ...
    def end_run(self, run_id: str, status: Literal["FINISHED", "FAILED", "KILLED"]) -> None: ...
    def run_history(self, run_id: str) -> dict[str, list[tuple[int, float]]]: ...

    # registry
    def register_model(self, name: str, bundle: ModelBundle, *, run_id: str | None = None,
                       aliases: list[str] | None = None) -> ModelVersionRef: ...
    def list_models(self) -> list[RegisteredModel]: ...
    def list_versions(self, name: str) -> list[ModelVersionRef]: ...
    def get_version(self, name: str, version_or_alias: str) -> ModelVersionRef: ...
    def load_bundle(self, name: str, version: str) -> ModelBundle: ...
    def set_alias(self, name: str, alias: str, version: str) -> None: ...
    def log_evaluation(self, name: str, version: str, report: Mapping[str, Any]) -> None: ...


TrackerFactory = Callable[["Settings"], Tracker]


@runtime_checkable
class Metric(Protocol):
    """Compares a real and a synthetic set, each float32 (n, channels, length).

    Returns a float (or (value, std) for repeated estimates). The evaluation service calls it
    per class where labels exist and on the pooled sets. ``higher_is_better`` orders trials.
    """

    name: str
    description: str
    higher_is_better: bool
    min_channels: int

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float | tuple[float, float]: ...


def iter_protocol_methods(proto: type) -> Iterator[str]:
    """Public callables a protocol declares (used by conformance checks)."""
    for name, value in vars(proto).items():
        if not name.startswith("_") and callable(value):
            yield name
