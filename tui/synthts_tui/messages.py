"""Messages that thread workers post back to their screens, one class per kind of result.

Workers never touch widgets: they fetch, then post one of these (``post_message`` is
thread-safe, see ``BaseScreen.deliver``) and the screen's ``@on(...)`` handler updates the UI on
the event loop. Data is the API's decoded JSON; the other fields are the request context the
handler needs (e.g. which model a list of versions belongs to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from textual.message import Message

Json = dict[str, Any]


# ---------------------------------------------------------------------- home
@dataclass
class ReadyLoaded(Message):
    """``/ready``'s per-component checks, and ``/info`` (what is not probed, auth)."""

    ready: Json
    info: Json


@dataclass
class SummaryLoaded(Message):
    """The newest datasets and jobs (pages) and every registered model."""

    datasets: Json
    jobs: Json
    models: list[Json]


# ---------------------------------------------------------------------- datasets
@dataclass
class DatasetPageLoaded(Message):
    page: Json


@dataclass
class DatasetLoaded(Message):
    """One dataset's metadata and a few of its series."""

    meta: Json
    values: Json


@dataclass
class DatasetExported(Message):
    path: str
    size: int


@dataclass
class DatasetDeleted(Message):
    name: str


@dataclass
class DatasetSaved(Message):
    """A dataset was stored (generated from a spec, or uploaded from a model's series)."""

    meta: Json


@dataclass
class FigureOpened(Message):
    """A plotly page was written to ``path`` and handed to the browser."""

    path: str


# ---------------------------------------------------------------------- generate
@dataclass
class CatalogueLoaded(Message):
    """Signals, noises and presets, each generator with its parameter schema."""

    catalogue: Json


@dataclass
class PreviewLoaded(Message):
    data: Json
    label: str
    body: Json


# ---------------------------------------------------------------------- train and models
@dataclass
class TrainingChoicesLoaded(Message):
    datasets: list[Json]
    architectures: list[Json]


@dataclass
class JobsLoaded(Message):
    """A page of jobs, and the watched one (``None`` when no job is watched)."""

    page: Json
    job: Json | None


@dataclass
class JobSubmitted(Message):
    job: Json


@dataclass
class JobChanged(Message):
    """``action`` (cancel, resume or fail) was applied to a job; ``job`` is its new state."""

    job: Json
    action: Literal["cancel", "resume", "fail"]


@dataclass
class ActiveJobsFound(Message):
    job_ids: list[str]


@dataclass
class JobEvent(Message):
    """One server-sent event of a job: ``progress`` while it runs, then ``end``."""

    job_id: str
    kind: str
    data: Json


@dataclass
class ModelsLoaded(Message):
    models: list[Json]


@dataclass
class VersionsLoaded(Message):
    model: str
    versions: list[Json]


@dataclass
class SeriesGenerated(Message):
    result: Json
    n: int
    labels: list[str]
    seed: int


@dataclass
class Interpolated(Message):
    result: Json
    start: str | None
    end: str | None


# ---------------------------------------------------------------------- evaluate
@dataclass
class EvaluationChoicesLoaded(Message):
    models: list[Json]
    datasets: list[Json]
    metrics: list[Json]


@dataclass
class LearnedDatasetFound(Message):
    """The dataset a model's newest version was trained on."""

    name: str


@dataclass
class ReportReady(Message):
    report: Json


@dataclass
class EmbeddingReady(Message):
    """2-D points of real and synthetic series; ``method`` names the projection."""

    method: str
    groups: dict[str, list[list[float]]]
