"""Domain types shared by every plugin and front end.

Metadata are msgspec Structs (they go over the wire and into databases as JSON); array payloads
travel in plain dataclasses beside them as NumPy arrays and are stored as binary, never as JSON
lists of floats.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import msgspec
import numpy as np

from synthts_core.errors import BadInputError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$(?!\n)")
"""The ``(?!\n)`` stops ``$`` from matching before a trailing newline when a schema validator
searches with the pattern (Python's ``$`` does, JSON Schema's does not); ``check_name`` uses a
full match on top."""
NAME_ALLOWED = "1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_name(name: Any, field: str = "name") -> str:
    """Names double as file names, URL segments and database keys, so keep them plain."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadInputError(field, f"got {name!r}", allowed=NAME_ALLOWED)
    return name


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------- datasets


class ComponentSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A signal or noise generator by registered name, with its parameters."""

    generator: str
    params: dict[str, Any] = {}


class SamplingSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Time axis: ``length`` points from ``start`` with ``step``; irregular keeps a random
    ``keep`` fraction of a finer regular grid (TimeSynth's ``keep_percentage``) per series."""

    kind: Literal["regular", "irregular"] = "regular"
    start: float = 0.0
    step: float = 1.0
    keep: float = 1.0


class ClassSpec(msgspec.Struct, forbid_unknown_fields=True):
    """One class (label) of a dataset: ``count`` series from ``signal`` plus optional ``noise``.

    ``channels`` lists one spec per channel when channels differ; otherwise ``signal`` and
    ``noise`` are used for every channel, drawn independently.
    """

    label: str
    count: int
    signal: ComponentSpec | None = None
    noise: ComponentSpec | None = None
    channels: list[ChannelSpec] | None = None
    transform: Literal["none", "minmax01", "half_shift"] = "none"


class ChannelSpec(msgspec.Struct, forbid_unknown_fields=True):
    signal: ComponentSpec
    noise: ComponentSpec | None = None


# A generator engine: "vectorised" (the core's own) or one a signal plugin attaches to its
# generators; which exist depends on the plugins installed, so generation checks it.
Engine = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class DatasetSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Everything needed to regenerate a dataset bit for bit."""

    name: str
    length: int
    classes: list[ClassSpec]
    n_channels: int = 1
    sampling: SamplingSpec = msgspec.field(default_factory=SamplingSpec)
    seed: int = 0
    engine: Engine = "vectorised"
    tags: list[str] = []
    description: str = ""


class TimeAxis(msgspec.Struct):
    """Regular: ``start + step * arange(length)``. Irregular: per-series times stored with
    the values (``Dataset.times``)."""

    kind: Literal["regular", "irregular"] = "regular"
    start: float = 0.0
    step: float = 1.0


class Normalisation(msgspec.Struct):
    """The per-channel normalisation fitted at import: ``real = normalised * scale + offset``.

    Derived data: the stored values are the ones imported (real units), so that every read
    gives back exactly what went in; this only says what ``units="normalised"`` reads return,
    ``(value - offset) / scale``. Training fits its own scaling to the stored values."""

    method: Literal["none", "zscore", "minmax"] = "none"
    offset: list[float] = []
    scale: list[float] = []


class HoldoutSplit(msgspec.Struct, kw_only=True):
    """Series kept out of training: real series a model never saw, which evaluations score
    against (TSTR's test set, the memorisation guard's reference). Metadata only: every read
    still returns every series. ``series`` are sorted indices into the dataset; ``how`` is
    "file" (given as separate files at import: ``source`` names them) or "fraction" (a
    stratified random ``fraction`` of each class, drawn with ``seed``)."""

    series: list[int] = []
    how: Literal["file", "fraction"] = "fraction"
    fraction: float | None = None
    seed: int | None = None
    source: str = ""

    def describe(self) -> str:
        """How the held-out series were chosen, e.g. ``from GunPoint_TEST.ts``."""
        if self.how == "file":
            return f"from {self.source or 'separate files'}"
        return f"a stratified random {self.fraction:g} of each class, seed {self.seed}"


class ValuesMigration(msgspec.Struct, kw_only=True):
    """A dataset written by a synthts that stored normalised values (``(imported - offset) /
    scale`` as float32): a later one converted them once to real units, ``value * scale +
    offset`` rounded to float32, which is what every read of it returned before. Models that
    learned it before name ``previous_checksum``, so they still answer in its units."""

    previous_checksum: str
    migrated_at: datetime = msgspec.field(default_factory=utcnow)


class DatasetMeta(msgspec.Struct, kw_only=True):
    name: str
    n_series: int
    n_channels: int
    length: int
    label_names: list[str] = []
    label_counts: list[int] = []
    time_axis: TimeAxis = msgspec.field(default_factory=TimeAxis)
    source: Literal["generated", "imported", "synthetic"] = "generated"
    spec: dict[str, Any] | None = None
    generators: list[str] = []
    normalisation: Normalisation = msgspec.field(default_factory=Normalisation)
    checksum: str = ""
    tags: list[str] = []
    description: str = ""
    created_at: datetime = msgspec.field(default_factory=utcnow)
    # series kept out of training (None: no split; records written before splits read as None)
    holdout: HoldoutSplit | None = None
    # set when the values were stored normalised by an earlier synthts and converted on open
    migrated: ValuesMigration | None = None
    # values that are NaN: missing points, kept as they were imported (never filled in);
    # derived from the values like the checksum (records written before read as 0)
    n_missing: int = 0
    # the shortest series when series differ in length (``length`` is the longest; the
    # lengths themselves are stored beside the labels); None when every series has ``length``
    # points (records written before read as None)
    min_length: int | None = None
    # the series' own points (the sum of their lengths) when they differ, else None; what a
    # share of missing points is of (padding is neither observed nor missing)
    n_points: int | None = None

    @property
    def n_holdout(self) -> int:
        return len(self.holdout.series) if self.holdout is not None else 0

    @property
    def n_values(self) -> int:
        return self.n_series * self.n_channels * self.length

    @property
    def nbytes(self) -> int:
        return self.n_values * 4

    @property
    def n_own_values(self) -> int:
        """Values within each series' length: ``n_values`` less the padding of shorter
        series."""
        if self.n_points is None:
            return self.n_values
        return self.n_points * self.n_channels

    @property
    def missing_share(self) -> float:
        """The fraction of the series' own values that are missing (0 for a complete
        dataset; padding past a shorter series' length is not counted either way)."""
        return self.n_missing / self.n_own_values if self.n_own_values else 0.0


def missing_text(n_missing: int, n_values: int) -> str:
    """``"12.5 % of points (800 values)"``: how the CLI and the TUI state missing points (a
    share that rounds to 0 or 100 % still says there are some, or some observed)."""
    share = 100.0 * n_missing / n_values if n_values else 0.0
    text = f"{share:.1f}"
    if n_missing and text == "0.0":
        text = "< 0.1"
    elif n_missing < n_values and text == "100.0":
        text = "> 99.9"
    return f"{text} % of points ({n_missing:,} value{'' if n_missing == 1 else 's'})"


def lengths_text(shortest: int, longest: int, median: float | None = None) -> str:
    """``"lengths 7-29 points, median 21"``: how the CLI and the TUI state series of different
    lengths (the median when the lengths were read)."""
    text = f"lengths {shortest}–{longest} points"
    return text if median is None else f"{text}, median {median:g}"


def human_bytes(nbytes: int) -> str:
    """``1536`` -> ``"1.5 KiB"`` (CLI and TUI show dataset and file sizes the same way)."""
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@dataclass
class Dataset:
    """Values (series, channels, length) float32; labels (series,) int64 or None; times
    (series, length) float64 for irregular sampling, else None. A NaN value is a missing
    point (``observed`` is the mask); never an infinity.

    Series of different lengths are stored padded to the longest: ``lengths`` (series,) int64
    gives each one's points, and every value (and time) past a series' length is NaN, padding
    rather than a missing point. None when every series has the full length."""

    meta: DatasetMeta
    values: np.ndarray
    labels: np.ndarray | None = None
    times: np.ndarray | None = None
    lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.ascontiguousarray(self.values, dtype=np.float32)
        if self.values.ndim != 3:
            raise BadInputError(
                "values", f"has shape {self.values.shape}", allowed="3 dimensions (series, channels, length)"
            )
        if self.labels is not None:
            self.labels = np.ascontiguousarray(self.labels, dtype=np.int64)
            if self.labels.shape != (self.values.shape[0],):
                raise BadInputError("labels", f"has shape {self.labels.shape}",
                                    allowed=f"one label per series ({self.values.shape[0]},)")
        if self.times is not None:
            self.times = np.ascontiguousarray(self.times, dtype=np.float64)
            if self.times.shape != (self.values.shape[0], self.values.shape[2]):
                raise BadInputError("times", f"has shape {self.times.shape}",
                                    allowed=f"(series, length) = {(self.values.shape[0], self.values.shape[2])}")
        if self.lengths is not None:
            self.lengths = check_lengths(self.values, self.lengths, self.times)

    @classmethod
    def build(cls, name: str, values: np.ndarray, labels: np.ndarray | None = None,
              label_names: list[str] | None = None, times: np.ndarray | None = None,
              lengths: np.ndarray | None = None, **meta: Any) -> Dataset:
        """Construct with derived metadata (shape, label counts, checksum, missing points,
        shortest length) filled in. ``lengths`` equal to the full length everywhere are
        dropped (None: the equal-length dataset, stored and hashed as before); padding past
        the longest series is cut off."""
        check_name(name)
        ds = cls(DatasetMeta(name=name, n_series=0, n_channels=0, length=0), values, labels, times,
                 lengths)
        if ds.lengths is not None:
            longest = int(ds.lengths.max(initial=0))
            if longest < ds.values.shape[2]:
                ds.values = np.ascontiguousarray(ds.values[:, :, :longest])
                if ds.times is not None:
                    ds.times = np.ascontiguousarray(ds.times[:, :longest])
            if (ds.lengths == ds.values.shape[2]).all():
                ds.lengths = None
        n, c, length = ds.values.shape
        names = list(label_names or [])
        counts: list[int] = []
        if ds.labels is not None:
            if not names:
                names = [str(i) for i in range(int(ds.labels.max(initial=-1)) + 1)]
            if len(ds.labels) and (ds.labels.min() < 0 or ds.labels.max() >= len(names)):
                raise BadInputError("labels", "contain an index without a label name",
                                    allowed=f"0..{len(names) - 1}")
            counts = np.bincount(ds.labels, minlength=len(names)).tolist()
        if times is not None and "time_axis" not in meta:
            meta["time_axis"] = TimeAxis(kind="irregular")
        meta.pop("n_missing", None)  # derived from the values, never taken as given
        meta.pop("min_length", None)
        meta.pop("n_points", None)
        ds.meta = DatasetMeta(
            name=name, n_series=n, n_channels=c, length=length, label_names=names,
            label_counts=counts, checksum=checksum(ds.values, ds.labels, ds.times, ds.lengths),
            n_missing=count_missing(ds.values, ds.lengths),
            min_length=min_length(ds.lengths), n_points=n_points(ds.lengths), **meta,
        )
        return ds

    def series_lengths(self) -> np.ndarray:
        """Points of each series (series,) int64: ``lengths``, or the full length for all."""
        if self.lengths is not None:
            return self.lengths
        return np.full(self.values.shape[0], self.values.shape[2], dtype=np.int64)

    def within(self) -> np.ndarray:
        """(series, length) bool: True at a series' own points, False at padding."""
        return within_lengths(self.series_lengths(), self.values.shape[2])

    def observed(self) -> np.ndarray:
        """True where a value is observed, False where it is missing (NaN) or padding past a
        series' length; same shape as ``values``."""
        return ~np.isnan(self.values)

    def time_grid(self) -> np.ndarray:
        """Times of each point: (length,) when regular, (series, length) when irregular."""
        if self.times is not None:
            return self.times
        ax = self.meta.time_axis
        return ax.start + ax.step * np.arange(self.meta.length, dtype=np.float64)

    def verify(self) -> None:
        actual = checksum(self.values, self.labels, self.times, self.lengths)
        if self.meta.checksum and actual != self.meta.checksum:
            from synthts_core.errors import SynthtsError

            raise SynthtsError(
                f"dataset {self.meta.name!r} is corrupt: checksum {actual} does not match "
                f"the stored {self.meta.checksum}"
            )


def count_missing(values: np.ndarray, lengths: np.ndarray | None = None) -> int:
    """How many values are NaN (missing points) within each series' length (padding past
    it is not a missing point; it is all NaN, see ``check_lengths``)."""
    total = int(np.count_nonzero(np.isnan(values)))
    if lengths is None:
        return total
    _, c, length = values.shape
    return total - c * int((length - np.asarray(lengths, np.int64)).sum())


def min_length(lengths: np.ndarray | None) -> int | None:
    """The shortest series of a ragged dataset (``DatasetMeta.min_length``), None if equal."""
    return None if lengths is None or not len(lengths) else int(np.min(lengths))


def n_points(lengths: np.ndarray | None) -> int | None:
    """The sum of a ragged dataset's lengths (``DatasetMeta.n_points``), None if equal."""
    return None if lengths is None else int(np.sum(lengths))


def within_lengths(lengths: np.ndarray, length: int) -> np.ndarray:
    """(series, length) bool: True at index < the series' length."""
    return np.arange(length)[None, :] < np.asarray(lengths)[:, None]


def check_lengths(values: np.ndarray, lengths: Any, times: np.ndarray | None = None
                  ) -> np.ndarray:
    """``lengths`` as int64 (series,), each 1..L, with every value (and time) past a series'
    length NaN; refused otherwise, naming ``lengths`` (or ``times``) and the series."""
    n, _, length = values.shape
    arr = np.asarray(lengths)
    if arr.shape != (n,) or (arr.size and arr.dtype.kind not in "iu"):
        raise BadInputError("lengths", f"has shape {arr.shape} ({arr.dtype})",
                            allowed=f"one integer per series ({n},)")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    bad = (arr < 1) | (arr > length)
    if bad.any():
        i = int(np.argmax(bad))
        raise BadInputError("lengths", f"series {i} has length {int(arr[i])}",
                            allowed=f"1..{length} (the stored series' points)")
    pad = ~within_lengths(arr, length)
    if pad.any():
        stray = (~np.isnan(values) & pad[:, None, :]).any(axis=(1, 2))
        if stray.any():
            i = int(np.argmax(stray))
            raise BadInputError("lengths", f"series {i} has a value past its length "
                                f"{int(arr[i])}", allowed="NaN at every point past a series' "
                                "length (padding)")
        if times is not None:
            stray = (~np.isnan(times) & pad).any(axis=1)
            if stray.any():
                i = int(np.argmax(stray))
                raise BadInputError("times", f"series {i} has a time past its length "
                                    f"{int(arr[i])}", allowed="NaN at every point past a "
                                    "series' length (padding)")
    return arr


def checksum(values: np.ndarray, labels: np.ndarray | None = None,
             times: np.ndarray | None = None, lengths: np.ndarray | None = None) -> str:
    """sha256 over the little-endian bytes of values, labels, times and lengths (when series
    differ in length), and the shape. The values are the float32 values as imported (never a
    normalised form), so the checksum names what the user gave (a missing point is the NaN
    stored there, hashed as it is)."""
    h = hashlib.sha256()
    h.update(repr(tuple(values.shape)).encode())
    h.update(np.ascontiguousarray(values, dtype="<f4").data)
    if labels is not None:
        h.update(b"labels")
        h.update(np.ascontiguousarray(labels, dtype="<i8").data)
    if times is not None:
        h.update(b"times")
        h.update(np.ascontiguousarray(times, dtype="<f8").data)
    if lengths is not None:
        h.update(b"lengths")
        h.update(np.ascontiguousarray(lengths, dtype="<i8").data)
    return "sha256:" + h.hexdigest()


DatasetSort = Literal["name", "-name", "created_at", "-created_at", "n_series", "-n_series"]
"""How a dataset list may be sorted ('-' for descending): declared here once. The API's ``sort``
parameter and the CLI's ``--sort`` use it; each storage backend maps every key to its own
ordering (``tests/storage/test_sort_keys.py`` checks that each one sorts on every backend)."""
DATASET_SORTS: tuple[str, ...] = get_args(DatasetSort)


class DatasetQuery(msgspec.Struct, kw_only=True):
    """Paging, sorting and filters for listing datasets. Filters are values, never query text."""

    offset: int = 0
    limit: int = 50
    sort: DatasetSort = "-created_at"
    name_contains: str | None = None
    tags: list[str] = []
    generator: str | None = None
    label: str | None = None
    source: str | None = None


class Page(msgspec.Struct):
    items: list[Any]
    total: int
    offset: int
    limit: int


# ----------------------------------------------------------------------------- training jobs

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelling", "cancelled"]
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


class JobSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What to train: a search over one or more architectures on one dataset."""

    dataset: str
    labels: list[str] | None = None
    # None: the defaults the installed plugins declare for this dataset, filled in when the job
    # is submitted (every architecture whose ``default_space`` fits the data; the metric that
    # gives the verdict)
    architectures: list[str] | None = None
    search_space: dict[str, Any] = {}
    # per architecture, entries laid under ``search_space`` (which wins): what the plugins
    # declared for this data (a job naming no architectures) or for the main job
    architecture_spaces: dict[str, dict[str, Any]] = {}
    num_trials: int = 4
    # None: sized for the data when the job is submitted (``training.default_epochs``)
    epochs: int | None = None
    # per architecture, epochs its trials train instead of ``epochs`` (the main job gives each
    # family the epochs it declares, so a costly family's trials take no longer than another's)
    architecture_epochs: dict[str, int] = {}
    select_metric: str | None = None
    model_name: str | None = None
    seed: int = 0
    max_concurrent: int | None = None
    # wall-clock seconds one run (or resume) of the job may take; None: no limit
    time_limit_s: int | None = None


class DataShape(msgspec.Struct, frozen=True, kw_only=True):
    """What an architecture sizes its defaults by: the training set's series, channels,
    points per series and classes (0 for an unlabelled set); and whether the job asks for
    differential privacy (``private``: a ``dp_epsilon`` is set), so a default space leaves out
    what reads the real data outside the private updates. (A field with a default, not a second
    argument: a ``default_space(shape)`` written before it keeps working.)"""

    n_series: int
    n_channels: int
    length: int
    n_classes: int = 0
    private: bool = False
    # series of unequal lengths (stored NaN-padded past each end, ``Dataset.lengths``)
    ragged: bool = False


class JobOwner(msgspec.Struct, kw_only=True):
    """The process that runs a job: it refreshes ``TrainingJob.heartbeat_at`` while it does.
    ``token`` is drawn per run, so a resumed job has a new owner even on the same pid."""

    host: str
    pid: int
    token: str
    started_at: float | None = None  # the process's start time (epoch seconds), tells pid reuse


class TrialState(msgspec.Struct, kw_only=True):
    trial_id: str
    architecture: str
    config: dict[str, Any] = {}
    status: Literal["pending", "running", "succeeded", "failed", "cancelled"] = "pending"
    epoch: int = 0
    epochs: int = 0
    metrics: dict[str, float] = {}
    history: list[dict[str, float]] = []
    error: str | None = None
    run_id: str | None = None
    checkpoint: str | None = None
    # the trial's best checkpoint scored again on fresh samples when the job finished: the
    # number that picked the winner
    selection_score: float | None = None


class ClusterInfo(msgspec.Struct, kw_only=True):
    """The Ray cluster a job ran on, as the driver saw it when the job started."""

    address: str  # host:port of the GCS, or "local" (a Ray started in-process per job)
    ray_version: str
    nodes: int = 1
    resources: dict[str, float] = {}  # cluster totals: CPU, GPU, memory, custom resources


class TrainingJob(msgspec.Struct, kw_only=True):
    id: str
    spec: JobSpec
    status: JobStatus = "queued"
    progress: float = 0.0
    trials: list[TrialState] = []
    errors: list[str] = []
    best_trial: str | None = None
    model: ModelVersionRef | None = None
    created_at: datetime = msgspec.field(default_factory=utcnow)
    updated_at: datetime = msgspec.field(default_factory=utcnow)
    experiment_path: str | None = None
    # the lease: who runs the job and when it last said so (see services/leases.py)
    owner: JobOwner | None = None
    heartbeat_at: datetime | None = None
    # the current error: the last one while the job is failed or cancelled, else None
    # (``errors`` keeps the history, earlier runs included)
    error: str | None = None
    cluster: ClusterInfo | None = None  # where the job (last) ran; None until it starts


# ----------------------------------------------------------------------------- models


class ModelVersionRef(msgspec.Struct, kw_only=True):
    """A registered model version as the registry describes it."""

    name: str
    version: str
    architecture: str = ""
    aliases: list[str] = []
    run_id: str | None = None
    metrics: dict[str, float] = {}
    config: dict[str, Any] = {}
    created_at: datetime | None = None
    source: str | None = None


class RegisteredModel(msgspec.Struct, kw_only=True):
    name: str
    description: str = ""
    latest_version: str | None = None
    aliases: dict[str, str] = {}
    n_versions: int = 0


@dataclass
class ModelBundle:
    """What a model version is made of: a JSON config naming the architecture plugin and its
    hyper-parameters, the dataset it learned, and the weights as safetensors bytes."""

    config: dict[str, Any]
    weights: bytes
    metrics: dict[str, float]


# ----------------------------------------------------------------------------- metrics


class MetricResult(msgspec.Struct, kw_only=True):
    """A metric value, its spread over repeats, and per-class values where labels exist."""

    name: str
    value: float
    std: float | None = None
    per_class: dict[str, float] = {}
    higher_is_better: bool = False
    details: dict[str, Any] = {}


class ClassVerdict(msgspec.Struct, kw_only=True):
    """One class (or the pooled set) judged by the verdict metric: ``passed`` is None when the
    metric could not vouch for its number (``reason`` says why)."""

    label: str
    value: float | None
    ci: list[float] | None = None
    passed: bool | None = None
    reason: str | None = None


class Verdict(msgspec.Struct, kw_only=True):
    """What an evaluation concludes: every class checked by a metric that can fail, against a
    stated threshold, worst class first."""

    metric: str
    threshold: float
    higher_is_better: bool = False
    # every class passed (none failed, none inconclusive); None only for the privacy audit
    # when it failed no class but could not vouch for some (an audit-only verdict included)
    passed: bool | None = False
    summary: str = ""
    worst: str | None = None
    classes: list[ClassVerdict] = []
    pooled: ClassVerdict | None = None
    notes: list[str] = []
    # checks beside the main metric that fail a class too (the memorisation guard), judged the
    # same way; an inconclusive guard is shown with its reason but fails nothing
    guards: list[Verdict] = []
    # the privacy audit (membership inference, adversarial accuracy, distance to the closest
    # record), per class worst first, its own verdict; a class it fails fails this one too
    privacy: Verdict | None = None

    @property
    def word(self) -> str:
        """PASS, FAIL, or INCONCLUSIVE (``passed`` None), as every front end writes it."""
        return {True: "PASS", None: "INCONCLUSIVE"}.get(self.passed, "FAIL")


class EvaluationReport(msgspec.Struct, kw_only=True):
    model: ModelVersionRef | None = None
    dataset: str
    dataset_checksum: str = ""
    n_synthetic: int = 0
    metrics: list[MetricResult] = []
    created_at: datetime = msgspec.field(default_factory=utcnow)
    verdict: Verdict | None = None
    # the real series the generator never saw that the evaluation scored against (held-out
    # series or a fresh draw of a generated dataset's spec); "" when there were none
    unseen: str = ""


def to_builtins(obj: Any) -> Any:
    """Structs to JSON-ready builtins (datetimes as ISO strings)."""
    return msgspec.to_builtins(obj)


def from_builtins(data: Any, type_: type) -> Any:
    """Builtins to a Struct, raising ``BadInputError`` that names the offending field."""
    try:
        return msgspec.convert(data, type_, str_keys=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = text.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in text else type_.__name__
        raise BadInputError(path.removeprefix("$."), text.split(" - at `")[0]) from None
