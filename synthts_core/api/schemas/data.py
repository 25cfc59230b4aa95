"""Health, catalogue (signals, presets, architectures, metrics) and datasets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from synthts_core.api.schemas.common import (
    Finite,
    Label,
    Name,
    PageInfo,
    Seed,
    Tag,
    check_free_form,
)
from synthts_core.interfaces import DEFAULT_FAMILY

# ----------------------------------------------------------------------------- health


class HealthRead(Struct):
    status: Literal["ok"]
    version: str


class CheckRead(Struct, omit_defaults=True):
    ok: bool
    target: str = ""
    detail: str | None = None


class ReadyRead(Struct):
    status: Literal["ready", "unavailable"]
    checks: dict[str, CheckRead]


class InfoRead(Struct, kw_only=True):
    """What this server is connected to and how much it holds (a dashboard's first call)."""

    version: str
    storage: str
    tracker: str
    ray: str
    auth_required_for_writes: bool
    max_request_bytes: int
    max_generate_values: int
    datasets: int | None
    jobs: int | None
    models: int | None


class PluginRead(Struct, kw_only=True):
    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: list[str]
    registered: dict[str, list[str]]
    error: str | None = None


# ----------------------------------------------------------------------------- signals


class ParamRead(Struct, kw_only=True, omit_defaults=True):
    """One parameter of a generator, enough for a client to build a form field."""

    name: str
    kind: Literal["float", "int", "bool", "str", "choice", "float_list"]
    default: Any = None
    help: str = ""
    allowed: str = ""
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    high_exclusive: bool = False
    nullable: bool = False
    choices: list[Any] | None = None
    log: bool = False
    min_items: int | None = None
    max_items: int | None = None


class SignalRead(Struct, kw_only=True):
    name: str
    kind: Literal["signal", "noise"]
    description: str
    plugin: str
    params: list[ParamRead]


class PresetRead(Struct, kw_only=True):
    name: str
    description: str
    plugin: str
    spec: dict[str, Any]


class SignalList(Struct):
    items: list[SignalRead]


class PresetList(Struct):
    items: list[PresetRead]


class ArchitectureRead(Struct, kw_only=True):
    """A model architecture, its family (gan, diffusion, ...) and its hyper-parameter space
    (the same data drives Ray Tune and forms)."""

    name: str
    description: str
    family: str = DEFAULT_FAMILY
    conditional: bool
    plugin: str
    space: list[ParamRead]


class ArchitectureList(Struct):
    items: list[ArchitectureRead]


class MetricInfoRead(Struct, kw_only=True):
    name: str
    description: str
    higher_is_better: bool
    plugin: str


class MetricInfoList(Struct):
    items: list[MetricInfoRead]


class ComponentIn(Struct, forbid_unknown_fields=True):
    """A registered signal or noise generator by name, with its parameters."""

    generator: Annotated[str, Meta(min_length=1, max_length=128)]
    params: Annotated[dict[str, Any], Meta(max_length=256)] = {}

    def __post_init__(self) -> None:
        check_free_form(self.params, "params")


class SamplingIn(Struct, forbid_unknown_fields=True):
    kind: Literal["regular", "irregular"] = "regular"
    start: Finite = 0.0
    step: Annotated[float, Meta(gt=0, le=1e9)] = 1.0
    keep: Annotated[float, Meta(gt=0, le=1)] = 1.0


class PreviewCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A few series from one signal (+ optional noise), computed and returned, never stored."""

    signal: ComponentIn
    noise: ComponentIn | None = None
    n: Annotated[int, Meta(ge=1, le=64)] = 3
    length: Annotated[int, Meta(ge=2, le=100_000)] = 256
    sampling: SamplingIn = msgspec.field(default_factory=SamplingIn)
    seed: Seed = 0


class PreviewRead(Struct, kw_only=True):
    """``times`` is the shared time grid; irregular sampling gives ``series_times`` instead."""

    times: list[float] | None
    series_times: list[list[float]] | None = None
    values: list[list[float]]


# ----------------------------------------------------------------------------- datasets


class ChannelIn(Struct, forbid_unknown_fields=True):
    signal: ComponentIn
    noise: ComponentIn | None = None


class ClassIn(Struct, forbid_unknown_fields=True, kw_only=True):
    label: Label
    count: Annotated[int, Meta(ge=1, le=10_000_000)]
    signal: ComponentIn | None = None
    noise: ComponentIn | None = None
    channels: Annotated[list[ChannelIn], Meta(max_length=1024)] | None = None
    transform: Literal["none", "minmax01", "half_shift"] = "none"


Engine = Annotated[str, Meta(
    min_length=1, max_length=64,
    description="Generator engine: 'vectorised' (the core's own) or one a signal plugin "
    "adds; GET /api/v1/signals lists the engines each generator runs on")]


class SpecIn(Struct, forbid_unknown_fields=True, kw_only=True):
    """A dataset spec (the domain's ``DatasetSpec`` without its name)."""

    length: Annotated[int, Meta(ge=2, le=10_000_000)]
    classes: Annotated[list[ClassIn], Meta(min_length=1, max_length=1000)]
    n_channels: Annotated[int, Meta(ge=1, le=1024)] = 1
    sampling: SamplingIn = msgspec.field(default_factory=SamplingIn)
    seed: Seed = 0
    engine: Engine = "vectorised"


class PresetOverrides(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Options of a preset; what is left out keeps the preset's value."""

    count: Annotated[int, Meta(ge=1, le=10_000_000, description="Series per class")] | None = None
    length: Annotated[int, Meta(ge=2, le=1_000_000)] | None = None
    seed: Seed | None = None
    engine: Engine | None = None


class DatasetCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Generate a dataset server-side from either a full ``spec`` or a named ``preset``
    (with ``overrides`` of the preset's options, e.g. ``{"count": 50, "length": 256}``)."""

    name: Name
    spec: SpecIn | None = None
    preset: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    overrides: PresetOverrides | None = None
    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    description: Annotated[str, Meta(max_length=4096)] = ""


class TimeAxisRead(Struct):
    kind: Literal["regular", "irregular"]
    start: float
    step: float


class NormalisationRead(Struct):
    method: Literal["none", "zscore", "minmax"]
    offset: list[float]
    scale: list[float]


class HoldoutRead(Struct, kw_only=True):
    """Series kept out of training (evaluations score against them)."""

    series: list[int]
    how: Literal["file", "fraction"]
    fraction: float | None
    seed: int | None
    source: str


class MigrationRead(Struct, kw_only=True):
    """Values an earlier synthts stored normalised, converted once to real units."""

    previous_checksum: str
    migrated_at: datetime


class DatasetRead(Struct, kw_only=True):
    name: str
    n_series: int
    n_channels: int
    length: int
    n_values: int
    label_names: list[str]
    label_counts: list[int]
    time_axis: TimeAxisRead
    source: Literal["generated", "imported", "synthetic"]
    spec: dict[str, Any] | None
    generators: list[str]
    normalisation: NormalisationRead
    checksum: str
    tags: list[str]
    description: str
    created_at: datetime
    error: str | None = msgspec.field(default=None)
    """Set (and the other fields mostly empty) when the stored record cannot be read: a
    listing reports the one bad dataset instead of failing."""
    n_holdout: int = 0
    """Series kept out of training (``holdout`` says which and how they were chosen)."""
    holdout: HoldoutRead | None = None
    migrated: MigrationRead | None = None
    """Set when the values were stored normalised by an earlier synthts and converted to
    real units (the checksum changed then: ``previous_checksum`` is the old one)."""
    n_missing: int = 0
    """Values that are missing (NaN in ``.npy``, ``null`` in JSON), kept as imported."""
    missing_share: float = 0.0
    """The share of missing points among the series' own values (``n_missing / n_values``,
    or ``/ (n_points * n_channels)`` when series differ in length); 0 for a complete one."""
    min_length: int | None = None
    """The shortest series when series differ in length (``length`` is the longest; the
    values read give each series' ``lengths``); null when all have ``length`` points."""
    n_points: int | None = None
    """The sum of the series' lengths when they differ (null when all are equal)."""

    @classmethod
    def from_domain(cls, meta: Any) -> DatasetRead:
        data = msgspec.to_builtins(meta)
        data["n_values"] = meta.n_series * meta.n_channels * meta.length
        data["n_holdout"] = meta.n_holdout
        data["missing_share"] = meta.missing_share
        return msgspec.convert(data, cls)




class DatasetPage(Struct):
    items: list[DatasetRead]
    page: PageInfo


class ValuesRead(Struct, kw_only=True):
    """A slice of a dataset: ``values[series][channel][t]`` (``null`` at a missing point),
    one label index per series; ``times`` is the shared time grid, or ``series_times`` one row
    per series (irregular). Series of different lengths: each series (and its
    ``series_times``) is as long as it is, never padded, and ``lengths`` gives them (null when
    every series has ``shape[2]`` points)."""

    name: str
    offset: int
    shape: list[int]
    channels: list[int]
    label_names: list[str]
    labels: list[int] | None
    times: list[float] | None
    series_times: list[list[float]] | None = None
    values: list[list[list[float | None]]]
    lengths: list[int] | None = None
