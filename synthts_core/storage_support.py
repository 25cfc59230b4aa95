"""What every storage backend shares: the chunk layout of dataset arrays, read selections,
listing-query checks and the job update rules.

Kept in the core so that SQLite, Mongo and third-party backends store datasets the same way
(float32 values, int64 labels, float64 times and, for series of different lengths, int64
lengths, as little-endian bytes cut into chunks) and agree on what a sliced read, a bad query
or a job change means. Nothing here touches a database: the backends hand in a ``fetch``
callable that returns chunk bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from synthts_core.domain import (
    Dataset,
    DatasetMeta,
    DatasetQuery,
    TrainingJob,
    TrialState,
    ValuesMigration,
    check_name,
    checksum,
    count_missing,
    from_builtins,
    min_length,
    n_points,
    to_builtins,
    utcnow,
)
from synthts_core.errors import BadInputError, CorruptDataError, SynthtsError
from synthts_core.normalisation import affine, check_recorded, denormalise, is_identity

DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
"""Target chunk size: small enough for one Mongo document (16 MiB) and cheap partial reads."""

MAX_LIST_LIMIT = 1000
FETCH_BATCH_BYTES = 64 * 1024 * 1024
"""How much chunk data a read holds at once beside the output array."""


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Stream:
    """One array of a dataset (values, labels, times or lengths), stored as fixed-size byte chunks.

    ``chunk_bytes`` is a whole number of series whenever one series fits the target, so the
    common sliced reads touch only the chunks holding the requested series.
    """

    name: str
    dtype: str
    series_bytes: int
    chunk_bytes: int
    n_chunks: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "series_bytes": self.series_bytes,
                "chunk_bytes": self.chunk_bytes, "n_chunks": self.n_chunks}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stream:
        return cls(str(data["name"]), str(data["dtype"]), int(data["series_bytes"]),
                   int(data["chunk_bytes"]), int(data["n_chunks"]))


def _stream(name: str, array: np.ndarray, target: int) -> Stream:
    n = array.shape[0]
    series_bytes = array.nbytes // n
    chunk = (target // series_bytes) * series_bytes if series_bytes <= target else target
    return Stream(name, array.dtype.str, series_bytes, chunk, -(-array.nbytes // chunk))


def dataset_arrays(dataset: Dataset) -> dict[str, np.ndarray]:
    """The arrays of a dataset in their stored dtype (little-endian, C order)."""
    arrays = {"values": np.ascontiguousarray(dataset.values, dtype="<f4")}
    if dataset.labels is not None:
        arrays["labels"] = np.ascontiguousarray(dataset.labels, dtype="<i8")
    if dataset.times is not None:
        arrays["times"] = np.ascontiguousarray(dataset.times, dtype="<f8")
    if dataset.lengths is not None:  # its own stream beside the labels, never in the meta
        arrays["lengths"] = np.ascontiguousarray(dataset.lengths, dtype="<i8")
    return arrays


def check_storable(dataset: Dataset) -> DatasetMeta:
    """Refuse what cannot be stored faithfully; returns the metadata with a fresh checksum."""
    n, c, length = dataset.values.shape
    if n < 1 or c < 1 or length < 1:
        raise BadInputError("values", f"has shape {dataset.values.shape}",
                            allowed="at least one series, one channel and one time step")
    if np.isinf(dataset.values).any():
        s, c, t = np.argwhere(np.isinf(dataset.values))[0]
        raise BadInputError("values", f"series {s}, channel {c}, point {t} is infinite",
                            allowed="finite floats, or NaN for a missing point")
    meta = dataset.meta
    check_recorded(meta.normalisation)
    check_holdout(meta, n)
    if (meta.n_series, meta.n_channels, meta.length) != (n, c, length):
        meta = msgspec.structs.replace(meta, n_series=n, n_channels=c, length=length)
    actual = checksum(dataset.values, dataset.labels, dataset.times, dataset.lengths)
    if meta.checksum and meta.checksum != actual:
        raise BadInputError("checksum", "does not match the values, labels, times and lengths",
                            allowed=f"{actual} or empty")
    return msgspec.structs.replace(meta, checksum=actual,
                                   n_missing=count_missing(dataset.values, dataset.lengths),
                                   min_length=min_length(dataset.lengths),
                                   n_points=n_points(dataset.lengths))


VALUES_LAYOUT = 2
"""What a backend's stored dataset values are, recorded per dataset so a database written by
an earlier synthts is recognised: 1 (before exact round trips) is the normalised form,
``(imported - offset) / scale`` per channel as float32, which every read mapped back, so what
was read differed from what was imported in its last bits; 2 is the float32 values as
imported. A backend converts layout 1 with ``as_imported_values``."""

MIGRATE_SERIES = 4096
"""Series converted per step of a migration (bounds the float64 temporary of a large set)."""


def as_imported_values(old: Dataset) -> Dataset | None:
    """A dataset read as stored in layout 1 (normalised values and their normalisation), in
    layout 2: real values, ``value * scale + offset`` computed once and rounded to float32 (the
    same arithmetic as the reads that returned it before, so they are the values users saw),
    a fresh checksum and ``meta.migrated`` naming the old one (models that learned the
    dataset record it). None when the normalisation is the identity: the stored values are
    the real ones already and nothing changes."""
    meta = old.meta
    n, c, _ = old.values.shape
    norm = meta.normalisation
    if is_identity(norm):
        return None
    try:
        offset_scale = affine(norm.offset, norm.scale, c)
    except BadInputError as exc:  # it could never be read in real units: the record is corrupt
        raise CorruptDataError(f"dataset {meta.name!r}: its {exc.field} does not fit its {c} "
                               "channels; delete it and store it again") from exc
    real = np.empty(old.values.shape, np.float32)
    for start in range(0, n, MIGRATE_SERIES):  # float64, then float32: as the reads did
        real[start:start + MIGRATE_SERIES] = denormalise(old.values[start:start + MIGRATE_SERIES],
                                                         offset_scale)
    limit = np.finfo(np.float32).max  # a value at the edge of float32 may round past it
    np.clip(real, -limit, limit, out=real)
    migrated = ValuesMigration(previous_checksum=meta.checksum)
    new = Dataset(meta, real, old.labels, old.times, old.lengths)
    new.meta = msgspec.structs.replace(meta, checksum=checksum(real, old.labels, old.times,
                                                               old.lengths),
                                       migrated=migrated)
    return new


def check_holdout(meta: DatasetMeta, n_series: int) -> None:
    """Held-out series are sorted, distinct indices of stored series, and never all of them
    (a model must have something to train on)."""
    if meta.holdout is None:
        return
    series = meta.holdout.series
    if any(isinstance(i, bool) or not isinstance(i, int) for i in series) or \
            any(not 0 <= i < n_series for i in series) or series != sorted(set(series)):
        raise BadInputError("holdout.series", f"got {len(series)} indices",
                            allowed=f"sorted, distinct integers 0..{n_series - 1}")
    if len(series) >= n_series:
        raise BadInputError("holdout.series", f"holds out all {n_series} series",
                            allowed="fewer than every series (some must train)")


def layout(dataset: Dataset, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> dict[str, Stream]:
    return {name: _stream(name, arr, chunk_bytes) for name, arr in dataset_arrays(dataset).items()}


def iter_chunks(array: np.ndarray, stream: Stream) -> Iterator[tuple[int, memoryview]]:
    """Zero-copy views of the chunks of one array, in order."""
    raw = memoryview(array).cast("B")
    for k in range(stream.n_chunks):
        yield k, raw[k * stream.chunk_bytes:(k + 1) * stream.chunk_bytes]


def digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- reading

Fetch = Callable[[str, list[int]], Mapping[int, tuple[bytes, str]]]
"""``fetch(stream_name, chunk_indices) -> {index: (data, digest)}``."""


def read_stream(stream: Stream, n_series: int, series: np.ndarray | None, fetch: Fetch,
                *, verify_chunks: bool) -> np.ndarray:
    """Assemble the rows ``series`` (sorted, unique; None = all) of one stream from chunks.

    Chunks are fetched in batches of about ``FETCH_BATCH_BYTES`` so a 400 MB dataset never sits
    in memory twice. Per-chunk digests are checked when ``verify_chunks`` (sliced reads, where
    the whole-dataset checksum cannot be).
    """
    if series is None:
        series = np.arange(n_series, dtype=np.int64)
    size, chunk = stream.series_bytes, stream.chunk_bytes
    out = np.empty(len(series) * size, dtype=np.uint8)
    if len(series) == 0:
        return out.view(stream.dtype)
    cut = np.flatnonzero(np.diff(series) != 1) + 1
    firsts = series[np.r_[0, cut]]
    lasts = series[np.r_[cut - 1, len(series) - 1]]
    needed: list[int] = []
    for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True):
        lo, hi = first * size // chunk, ((last + 1) * size - 1) // chunk
        start = lo if not needed or needed[-1] < lo else needed[-1] + 1
        needed.extend(range(start, hi + 1))
    position = {k: i for i, k in enumerate(needed)}
    per_batch = max(1, FETCH_BATCH_BYTES // chunk)
    cache: dict[int, np.ndarray] = {}

    def get(k: int) -> np.ndarray:
        if k not in cache:
            cache.clear()
            i = position[k]
            wanted = needed[i:i + per_batch]
            got = fetch(stream.name, wanted)
            for j in wanted:
                if j not in got:
                    raise CorruptDataError(f"chunk {j} of {stream.name} is missing")
                data, stored = got[j]
                if verify_chunks and digest(data) != stored:
                    raise CorruptDataError(
                        f"chunk {j} of {stream.name} is corrupt: its checksum does not match")
                cache[j] = np.frombuffer(data, dtype=np.uint8)
        return cache[k]

    pos = 0
    for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True):
        a, b = first * size, (last + 1) * size
        while a < b:
            k = a // chunk
            data = get(k)
            off = a - k * chunk
            n = min(b - a, len(data) - off)
            if n <= 0:
                raise CorruptDataError(f"chunk {k} of {stream.name} is truncated")
            out[pos:pos + n] = data[off:off + n]
            pos += n
            a += n
    return out.view(stream.dtype)


def _indices(values: Iterable[Any], field: str, upper: int, names: list[str] | None = None) -> list[int]:
    out = []
    for v in values:
        if names is not None and isinstance(v, str):
            if v not in names:
                raise BadInputError(field, f"unknown label {v!r}", allowed=", ".join(names))
            v = names.index(v)
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= v < upper:
            raise BadInputError(field, f"contains {v!r}", allowed=f"integers 0..{upper - 1}")
        out.append(int(v))
    return out


def select_series(meta: DatasetMeta, series: slice | list[int] | None) -> np.ndarray | None:
    """Series indices a read asks for, in the order asked (None = all)."""
    if series is None:
        return None
    if isinstance(series, slice):
        return np.arange(meta.n_series, dtype=np.int64)[series]
    if isinstance(series, str | bytes) or not isinstance(series, Iterable):
        raise BadInputError("series", f"got {series!r}", allowed="a slice or a list of indices")
    return np.asarray(_indices(series, "series", meta.n_series), dtype=np.int64)


def label_indices(meta: DatasetMeta, labels: list[int] | list[str] | None) -> list[int] | None:
    if labels is None:
        return None
    if not meta.label_names:
        raise BadInputError("labels", f"dataset {meta.name!r} has no labels",
                            allowed="no label filter")
    if isinstance(labels, str | bytes) or not isinstance(labels, Iterable):
        raise BadInputError("labels", f"got {labels!r}", allowed="a list of label indices or names")
    return _indices(labels, "labels", len(meta.label_names), meta.label_names)


def channel_indices(meta: DatasetMeta, channels: list[int] | None) -> list[int] | None:
    if channels is None:
        return None
    if isinstance(channels, str | bytes) or not isinstance(channels, Iterable):
        raise BadInputError("channels", f"got {channels!r}", allowed="a list of channel indices")
    return _indices(channels, "channels", meta.n_channels)


def read_selected(meta: DatasetMeta, streams: Mapping[str, Stream], fetch: Fetch, *,
                  series: slice | list[int] | None = None, labels: list[int] | None = None,
                  channels: list[int] | None = None) -> Dataset:
    """A whole or sliced read, verified: the dataset checksum when whole, chunk digests else."""
    picked = select_series(meta, series)
    wanted_labels = label_indices(meta, labels)
    wanted_channels = channel_indices(meta, channels)
    whole = picked is None and wanted_labels is None
    label_values = None
    if "labels" in streams and (wanted_labels is not None or whole):
        label_values = read_stream(streams["labels"], meta.n_series, None, fetch,
                                   verify_chunks=not whole)
    if wanted_labels is not None:
        assert label_values is not None
        base = picked if picked is not None else np.arange(meta.n_series, dtype=np.int64)
        picked = base[np.isin(label_values[base], wanted_labels)]
    order = None
    unique = picked
    if picked is not None:
        unique, order = np.unique(picked, return_inverse=True)
        if len(unique) == len(picked) and np.array_equal(unique, picked):
            order = None

    def part(name: str) -> np.ndarray | None:
        if name not in streams:
            return None
        if name == "labels" and label_values is not None:
            rows = label_values if unique is None else label_values[unique]
        else:
            rows = read_stream(streams[name], meta.n_series, unique, fetch, verify_chunks=not whole)
        return rows if order is None else rows.reshape(len(unique), -1)[order].reshape(-1)

    n = meta.n_series if picked is None else len(picked)
    values = part("values")
    assert values is not None
    values = values.reshape(n, meta.n_channels, meta.length)
    lab = part("labels")
    times = part("times")
    lengths = part("lengths")  # None: equal lengths, or a record written before lengths
    ds = Dataset(meta, values, lab, None if times is None else times.reshape(n, meta.length),
                 lengths)
    if whole:
        try:
            ds.verify()
        except SynthtsError as exc:
            raise CorruptDataError(exc.message) from None
    else:
        counts = (np.bincount(ds.labels, minlength=len(meta.label_names)).tolist()
                  if ds.labels is not None else [])
        holdout = meta.holdout
        if holdout is not None:  # the held-out series' positions in this selection
            rows = picked if picked is not None else np.arange(meta.n_series)
            holdout = msgspec.structs.replace(holdout, series=np.flatnonzero(
                np.isin(rows, holdout.series)).tolist())
        ds.meta = msgspec.structs.replace(meta, n_series=n, label_counts=counts,
                                          checksum=checksum(ds.values, ds.labels, ds.times,
                                                            ds.lengths),
                                          holdout=holdout,
                                          n_missing=count_missing(ds.values, ds.lengths),
                                          min_length=min_length(ds.lengths),
                                          n_points=n_points(ds.lengths))
    if wanted_channels is not None:
        ds.values = np.ascontiguousarray(ds.values[:, wanted_channels])
        ds.meta = msgspec.structs.replace(ds.meta, n_channels=len(wanted_channels),
                                          checksum=checksum(ds.values, ds.labels, ds.times,
                                                            ds.lengths),
                                          n_missing=count_missing(ds.values, ds.lengths))
    return ds


# ----------------------------------------------------------------------------- listing


def check_query(query: DatasetQuery) -> DatasetQuery:
    if not isinstance(query.offset, int) or query.offset < 0:
        raise BadInputError("offset", f"got {query.offset!r}", allowed="an integer >= 0")
    if not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_LIST_LIMIT:
        raise BadInputError("limit", f"got {query.limit!r}", allowed=f"1..{MAX_LIST_LIMIT}")
    return query


def check_paging(offset: int, limit: int) -> None:
    check_query(DatasetQuery(offset=offset, limit=limit))


def dataset_changes(new_name: str | None, tags: list[str] | None,
                    description: str | None) -> dict[str, Any]:
    """The checked metadata changes of ``update_dataset`` (None: unchanged); tags sorted,
    each once."""
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = check_name(new_name, "new_name")
    if tags is not None:
        changes["tags"] = sorted({check_name(t, "tags") for t in tags})
    if description is not None:
        changes["description"] = str(description)
    return changes


# ----------------------------------------------------------------------------- jobs

JOB_FIELDS = ("status", "progress", "trials", "errors", "best_trial", "model", "experiment_path",
              "owner", "heartbeat_at", "cluster")
"""Fields ``update_job`` may set. Plus atomic helpers: ``trial`` (insert or replace one trial by
``trial_id``) and ``error`` (append one message to ``errors`` and make it the current
``error``), so that concurrent reporters of different trials never overwrite each other; and
``if_owner`` (the owner token the caller expects, None for no owner: anything else raises
``ConflictError`` and changes nothing), so that two processes never both take a job's lease.
A job whose status is neither failed nor cancelled has no current error."""


def apply_job_changes(job: TrainingJob, changes: Mapping[str, Any]) -> TrainingJob:
    """The job after ``changes``, validated (bad fields raise ``BadInputError``)."""
    data = to_builtins(job)
    if "if_owner" in changes:
        token = (data.get("owner") or {}).get("token")
        if token != changes["if_owner"]:
            from synthts_core.errors import ConflictError

            raise ConflictError(f"training job {job.id!r} is owned by another process "
                                f"({owner_text(job)})", name=job.id)
    for key, value in changes.items():
        if key == "if_owner":
            continue
        if key == "trial":
            trial = value if isinstance(value, TrialState) else from_builtins(value, TrialState)
            trials = [t for t in data["trials"] if t["trial_id"] != trial.trial_id]
            index = next((i for i, t in enumerate(data["trials"]) if t["trial_id"] == trial.trial_id),
                         len(trials))
            trials.insert(index, to_builtins(trial))
            data["trials"] = trials
        elif key == "error":
            data["errors"] = [*data["errors"], str(value)]
            data["error"] = str(value)
        elif key in JOB_FIELDS:
            data[key] = to_builtins(value)
        else:
            raise BadInputError(key, "cannot be changed on a training job",
                                allowed=", ".join((*JOB_FIELDS, "trial", "error", "if_owner")))
    if data.get("status") not in ("failed", "cancelled"):
        data["error"] = None
    progress = data.get("progress")
    if isinstance(progress, int | float) and not 0.0 <= progress <= 1.0:
        raise BadInputError("progress", f"got {progress!r}", allowed="0.0..1.0")
    data["updated_at"] = to_builtins(utcnow())
    return from_builtins(data, TrainingJob)


def owner_text(job: TrainingJob) -> str:
    """Who holds a job's lease, for messages: ``pid 123 on host``, or ``no owner``."""
    owner = job.owner
    if owner is None:
        return "no owner"
    beat = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
    return f"pid {owner.pid} on {owner.host}, last heartbeat {beat}"
