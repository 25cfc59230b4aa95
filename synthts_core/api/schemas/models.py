"""Training jobs, the model registry, generation and evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from synthts_core import job_form
from synthts_core.api.schemas.common import Finite, Label, Name, PageInfo, Seed, check_free_form
from synthts_core.privacy import PrivacyRecord

# ----------------------------------------------------------------------------- jobs


class JobCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A hyper-parameter search on one dataset (or some of its labels)."""

    dataset: Name
    labels: Annotated[list[Label], Meta(min_length=1, max_length=1000)] | None = None
    architectures: Annotated[list[Annotated[str, Meta(min_length=1, max_length=128)]],
                             Meta(min_length=1, max_length=16, description=(
                                 "Architectures to search over; null or left out: every "
                                 "installed architecture that is a default (the job as "
                                 "created lists them)"))] | None = None
    search_space: Annotated[dict[str, Any], Meta(max_length=256)] = {}
    # the numeric fields' bounds and defaults: job_form (the CLI and TUI use them too)
    num_trials: Annotated[int, job_form.meta("num_trials")] = job_form.FIELDS[
        "num_trials"].default
    epochs: Annotated[int, job_form.meta("epochs"), Meta(description=(
        "Epochs per trial; null or left out: sized for the data (about 2000 updates a trial, "
        "the job as created says how many)"))] | None = None
    architecture_epochs: Annotated[
        dict[Annotated[str, Meta(min_length=1, max_length=128)],
             Annotated[int, job_form.meta("epochs")]],
        Meta(max_length=16, description=(
            "Per architecture of the job, epochs its trials train instead of `epochs` (e.g. "
            "fewer for a family whose epochs cost more, as the main job does)"))] = {}
    select_metric: Annotated[str, Meta(min_length=1, max_length=64, description=(
        "Metric that picks the best trial; null or left out: the installed metric that gives "
        "the evaluation's verdict (the job as created names it)"))] | None = None
    model_name: Name | None = None
    seed: Annotated[int, job_form.meta("seed")] = job_form.FIELDS["seed"].default
    max_concurrent: Annotated[int, job_form.meta("max_concurrent")] | None = None
    time_limit_s: Annotated[int, job_form.meta("time_limit_s"), Meta(description=(
        "Wall-clock seconds one run (or resume) of the job may take; a job cut short by it "
        "fails, and its best checkpoint so far is registered"))] | None = None

    def __post_init__(self) -> None:
        check_free_form(self.search_space, "search_space")


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
    # the trial's best checkpoint scored again on fresh samples when the job ended (the number
    # that picked the registered trial); null until then
    selection_score: float | None = None


class PrivacyRead(PrivacyRecord, kw_only=True):
    """How a version was trained with differential privacy: the record the version's config
    holds (``synthts_core.privacy.PrivacyRecord``, whose fields this inherits so the two
    cannot drift apart), under the API's own schema name."""


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
    # differential privacy: what the version spent and how (null: trained without it), and
    # the one line ``synthts models show`` prints
    privacy: PrivacyRead | None = None
    privacy_summary: str = ""

    @classmethod
    def from_domain(cls, ref: Any, show_paths: bool = True) -> ModelVersionRead:
        """``show_paths=False`` drops ``source`` (where the artifacts are stored)."""
        from synthts_core.services.models import version_privacy

        read = msgspec.convert(msgspec.to_builtins(ref), cls)
        record, read.privacy_summary = version_privacy(read.config)
        if record is not None:
            try:
                read.privacy = msgspec.convert(record, PrivacyRead)
            except msgspec.ValidationError:  # a record of another shape: the summary says so
                read.privacy = None
        if not show_paths:
            read.source = None
        return read


class ClusterRead(Struct, kw_only=True):
    """The Ray cluster a job (last) ran on: its address ("local ..." for a Ray started per
    job), Ray version, live nodes and total resources when the job started."""

    address: str
    ray_version: str
    nodes: int
    resources: dict[str, float]


class JobOwnerRead(Struct, kw_only=True):
    """The process that runs (or last ran) a job."""

    host: str
    pid: int


class JobRead(Struct, kw_only=True):
    id: str
    spec: dict[str, Any]
    status: Literal["queued", "running", "succeeded", "failed", "cancelling", "cancelled"]
    terminal: bool
    # running or cancelling, but its owner is gone (no heartbeat for SYNTHTS_JOB_STALE_AFTER_S,
    # or its process ended): resume it (POST /jobs/{id}/resume) or mark it failed
    stale: bool = False
    stale_reason: str | None = None
    progress: float
    trials: list[TrialRead]
    # the current error (null unless the job failed or was cancelled with a reason); ``errors``
    # is the history, earlier runs included
    error: str | None = None
    errors: list[str]
    best_trial: str | None
    model: ModelVersionRead | None
    owner: JobOwnerRead | None = None
    heartbeat_at: datetime | None = None
    cluster: ClusterRead | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, job: Any, show_paths: bool = True,
                    stale_after_s: float = 60.0) -> JobRead:
        """``show_paths=False`` hides file system paths in errors, the model's source and the
        job's owner process. ``stale_after_s``: the heartbeat age that makes a job stale."""
        from synthts_core.api.security import hide_paths
        from synthts_core.domain import TERMINAL_STATUSES
        from synthts_core.services.leases import stale_reason

        data = msgspec.to_builtins(job)
        data["stale_reason"] = stale_reason(job, stale_after_s)
        data["stale"] = data["stale_reason"] is not None
        if not show_paths:
            data["owner"] = None
            data["error"] = hide_paths(data.get("error"))
            if data.get("cluster"):
                data["cluster"]["address"] = "<hidden>"
        for trial in data["trials"]:
            trial.pop("checkpoint", None)
            epochs = trial.get("epochs") or 0
            trial["progress"] = min(1.0, trial.get("epoch", 0) / epochs) if epochs else 0.0
            if not show_paths:
                trial["error"] = hide_paths(trial.get("error"))
        data.pop("experiment_path", None)
        data["terminal"] = job.status in TERMINAL_STATUSES
        if not show_paths:
            data["errors"] = [hide_paths(e) for e in data["errors"]]
            if data.get("model"):
                data["model"]["source"] = None
        return msgspec.convert(data, cls)


class JobFail(Struct, forbid_unknown_fields=True, kw_only=True):
    """Why a stale job is marked failed."""

    reason: Annotated[str, Meta(min_length=1, max_length=500)]


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
    stale: bool = False
    error: str | None = None


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
    ``counts`` per label name. An unconditional model takes ``n`` alone. ``length``: points
    per series (default the trained length); longer only from a family that paints longer
    series window by window (diffusion), up to 64 windows. ``missing``: ``none`` (complete
    series) or ``learned`` (NaN, written null, where the pattern of missing points the model
    learnt draws a gap; from ``seed`` when given)."""

    n: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    labels: Annotated[list[Label], Meta(min_length=1, max_length=10_000)] | None = None
    counts: Annotated[dict[Label, Annotated[int, Meta(ge=0, le=1_000_000)]],
                      Meta(min_length=1, max_length=10_000)] | None = None
    seed: Seed | None = None
    length: Annotated[int, Meta(ge=1, le=10_000_000)] | None = None
    missing: Literal["none", "learned"] = "none"


class GenerateRead(Struct, kw_only=True):
    model: str
    version: str
    shape: list[int]
    label_names: list[str]
    labels: list[int] | None
    # each series' length, when the model learnt unequal lengths (``values`` then holds each
    # series as long as it is); None: every series is ``shape[2]`` points
    lengths: list[int] | None = None
    values: list[list[list[float | None]]]


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


class ClassVerdictRead(Struct, kw_only=True):
    label: str
    value: float | None
    ci: list[float] | None
    passed: bool | None  # null = inconclusive (see reason)
    reason: str | None


class GuardRead(Struct, kw_only=True):
    """A check beside the verdict's metric that fails a class too (the memorisation guard)."""

    metric: str
    threshold: float
    higher_is_better: bool
    passed: bool | None  # null: the privacy audit (or a column of it) failed nothing but
    # could not vouch for some class (see PrivacyAuditRead)
    summary: str
    worst: str | None
    classes: list[ClassVerdictRead]
    pooled: ClassVerdictRead | None


class PrivacyAuditRead(GuardRead, kw_only=True):
    """The privacy audit per class, worst first: a membership-inference attack's AUC (the
    ``metric``), and beside it the nearest-neighbour adversarial accuracy's privacy loss and
    the memorisation guard's distance to the closest record (``guards``). ``passed`` is false
    when a class fails, null when none fails but the audit cannot vouch for one (no or too
    few unseen real series: each class's ``reason`` says which; its ``passed`` is null too),
    true when every class passes. An evaluation of privacy metrics alone returns the audit as
    its verdict, with the same ``passed``."""

    guards: list[GuardRead] = []


class VerdictRead(GuardRead, kw_only=True):
    """The strong real-vs-synthetic test per class against its threshold, worst class first,
    and the guards beside it (a class a guard fails fails the verdict), and the privacy audit
    (a class it fails fails the verdict; null when no privacy metric was evaluated)."""

    notes: list[str]
    guards: list[GuardRead] = []
    privacy: PrivacyAuditRead | None = None


class EvaluationRead(Struct, kw_only=True):
    verdict: VerdictRead | None
    model: ModelVersionRead | None
    dataset: str
    dataset_checksum: str
    n_synthetic: int
    metrics: list[MetricRead]
    created_at: datetime
    unseen: str = ""
    """The real series the generator never saw that tstr and the memorisation guard scored
    against; empty when there were none (tstr then scored on the training series)."""

    @classmethod
    def from_domain(cls, report: Any) -> EvaluationRead:
        return msgspec.convert(msgspec.to_builtins(report), cls)
