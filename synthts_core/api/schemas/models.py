"""Training jobs, the model registry, generation and evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from synthts_core.api.schemas.common import Finite, Label, Name, PageInfo, Seed

# ----------------------------------------------------------------------------- jobs


class JobCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A hyper-parameter search on one dataset (or some of its labels)."""

    dataset: Name
    labels: Annotated[list[Label], Meta(min_length=1, max_length=1000)] | None = None
    architectures: Annotated[list[Annotated[str, Meta(min_length=1, max_length=128)]],
                             Meta(min_length=1, max_length=16)] = msgspec.field(
        default_factory=lambda: ["cgan", "wgan_gp"])
    search_space: dict[str, Any] = {}
    num_trials: Annotated[int, Meta(ge=1, le=1000)] = 4
    epochs: Annotated[int, Meta(ge=1, le=100_000)] = 10
    select_metric: Annotated[str, Meta(min_length=1, max_length=64)] = "mmd"
    model_name: Name | None = None
    seed: Seed = 0
    max_concurrent: Annotated[int, Meta(ge=1, le=1024)] | None = None


class TrialRead(Struct, kw_only=True):
    trial_id: str
    architecture: str
    config: dict[str, Any]
    status: Literal["pending", "running", "succeeded", "failed", "cancelled"]
    epoch: int
    epochs: int
    progress: float
    metrics: dict[str, float]
    history: list[dict[str, float]]
    error: str | None
    run_id: str | None


class ModelVersionRead(Struct, kw_only=True):
    name: str
    version: str
    architecture: str
    aliases: list[str]
    run_id: str | None
    metrics: dict[str, float]
    config: dict[str, Any]
    created_at: datetime | None
    source: str | None

    @classmethod
    def from_domain(cls, ref: Any) -> ModelVersionRead:
        return msgspec.convert(msgspec.to_builtins(ref), cls)


class JobRead(Struct, kw_only=True):
    id: str
    spec: dict[str, Any]
    status: Literal["queued", "running", "succeeded", "failed", "cancelling", "cancelled"]
    terminal: bool
    progress: float
    trials: list[TrialRead]
    errors: list[str]
    best_trial: str | None
    model: ModelVersionRead | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, job: Any) -> JobRead:
        from synthts_core.domain import TERMINAL_STATUSES

        data = msgspec.to_builtins(job)
        for trial in data["trials"]:
            trial.pop("checkpoint", None)
            epochs = trial.get("epochs") or 0
            trial["progress"] = min(1.0, trial.get("epoch", 0) / epochs) if epochs else 0.0
        data.pop("experiment_path", None)
        data["terminal"] = job.status in TERMINAL_STATUSES
        return msgspec.convert(data, cls)


class JobPage(Struct):
    items: list[JobRead]
    page: PageInfo


class JobEvent(Struct, kw_only=True):
    """One server-sent event of a job's progress (``event: progress`` or ``event: end``)."""

    id: str
    status: str
    progress: float
    terminal: bool
    trials: list[TrialRead]
    errors: list[str]


# ----------------------------------------------------------------------------- models


class ModelRead(Struct, kw_only=True):
    name: str
    description: str
    latest_version: str | None
    aliases: dict[str, str]
    n_versions: int

    @classmethod
    def from_domain(cls, model: Any) -> ModelRead:
        return msgspec.convert(msgspec.to_builtins(model), cls)


class ModelList(Struct):
    items: list[ModelRead]


class VersionList(Struct):
    items: list[ModelVersionRead]


class GenerateCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """How many series to generate: ``n`` for each of ``labels`` (all labels when omitted), or
    ``counts`` per label name. An unconditional model takes ``n`` alone."""

    n: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    labels: Annotated[list[Label], Meta(min_length=1, max_length=10_000)] | None = None
    counts: dict[Label, Annotated[int, Meta(ge=0, le=1_000_000)]] | None = None
    seed: Seed | None = None


class GenerateRead(Struct, kw_only=True):
    model: str
    version: str
    shape: list[int]
    label_names: list[str]
    labels: list[int] | None
    values: list[list[list[float]]]


class InterpolateCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A walk through latent space in ``steps`` series (spherical interpolation).

    With ``start_label`` and ``end_label`` the class conditioning moves from one label to the
    other at one latent point (``start``, or drawn from ``seed``). Otherwise the latent point
    moves from ``start`` to ``end`` (each a vector of the model's latent size, or drawn from
    ``seed`` and ``seed + 1``) with the class ``start_label`` held (conditional models)."""

    start_label: Label | None = None
    end_label: Label | None = None
    start: Annotated[list[Finite], Meta(min_length=1, max_length=4096)] | None = None
    end: Annotated[list[Finite], Meta(min_length=1, max_length=4096)] | None = None
    steps: Annotated[int, Meta(ge=2, le=512)] = 16
    seed: Annotated[int, Meta(ge=0, le=2**32 - 2)] = 0


class InterpolationRead(Struct, kw_only=True):
    model: str
    version: str
    steps: int
    description: str
    fractions: list[float]
    label_weights: list[list[float]] | None
    values: list[list[list[float]]]


# ----------------------------------------------------------------------------- evaluations


class EvaluationCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Evaluate ``model`` at ``version`` (number or alias) against ``dataset``."""

    model: Name
    dataset: Name
    version: Annotated[str, Meta(min_length=1, max_length=128)] = "latest"
    metrics: Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]],
                       Meta(min_length=1, max_length=32)] | None = None
    n_per_label: Annotated[int, Meta(ge=1, le=100_000)] = 100
    seed: Seed = 0


class MetricRead(Struct, kw_only=True):
    name: str
    value: float | None
    std: float | None
    per_class: dict[str, float | None]
    higher_is_better: bool
    details: dict[str, Any]


class EvaluationRead(Struct, kw_only=True):
    model: ModelVersionRead | None
    dataset: str
    dataset_checksum: str
    n_synthetic: int
    metrics: list[MetricRead]
    created_at: datetime

    @classmethod
    def from_domain(cls, report: Any) -> EvaluationRead:
        return msgspec.convert(msgspec.to_builtins(report), cls)
