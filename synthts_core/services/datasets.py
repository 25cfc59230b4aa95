"""Dataset service: what the CLI, API and TUI call to create, import, list, read, change and
export datasets.

Thin over the storage backend on purpose: the backend owns atomicity and checksums; this layer
adds argument checks that do not depend on the backend, which series a read selects, the
creation rules (spec or preset, a free name, the volume limit) and the export formats.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from synthts_core.domain import Dataset, DatasetMeta, DatasetQuery, DatasetSpec, Page, check_name
from synthts_core.errors import BadInputError, ConflictError, NotFoundError
from synthts_core.limits import check_volume
from synthts_core.normalisation import Units, check_units, in_units

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime
    from synthts_core.services.importing import ImportOptions, ImportResult

ExportFormat = Literal["csv", "parquet", "npy", "npz", "ts"]
ExportLayout = Literal["long", "wide"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
EXPORT_LAYOUTS: tuple[str, ...] = get_args(ExportLayout)
LABEL_CACHE_SIZE = 32
"""Datasets whose label arrays ``DatasetService.labels_of`` keeps (browsing by label then does
not read the values again)."""


@dataclass(frozen=True)
class Selection:
    """Which series and channels of a dataset a read returns, chosen before anything is read
    (so a front end can answer "not modified" from the meta alone)."""

    meta: DatasetMeta
    series: list[int]
    channels: list[int]


class DatasetService:
    """Datasets of one runtime: ``runtime.services.datasets``."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._labels: OrderedDict[tuple[str, str], np.ndarray | None] = OrderedDict()
        self._labels_lock = threading.Lock()

    # ------------------------------------------------------------------------ create

    def spec_for(self, name: str, *, spec: Mapping[str, Any] | None = None,
                 preset: str | None = None, overrides: Mapping[str, Any] | None = None,
                 tags: Iterable[str] = (), description: str = "") -> DatasetSpec:
        """The full spec of a dataset asked for by a spec (plain data) or a preset name with
        overrides of its options, validated (errors name the field) and size-checked against
        SYNTHTS_MAX_GENERATE_VALUES before any work."""
        import msgspec

        from synthts_core.domain import from_builtins
        from synthts_core.services import generation

        if (spec is None) == (preset is None):
            raise BadInputError("spec", "give exactly one of 'spec' and 'preset'",
                                allowed="a spec object, or a preset name with optional overrides")
        if preset is not None:
            try:
                resolved = generation.resolve_preset(self.rt.registries, preset,
                                                     **dict(overrides or {}))
            except TypeError as exc:  # a third-party preset without one of the options
                raise BadInputError("overrides", str(exc), allowed="count, length, seed, "
                                    "engine") from None
            resolved = msgspec.structs.replace(resolved, name=name, tags=list(tags),
                                               description=description or resolved.description)
        else:
            if overrides is not None:
                raise BadInputError("overrides", "apply to presets only", allowed="leave it out "
                                    "with a spec")
            raw = dict(spec or {})
            raw.update(name=name, tags=list(tags), description=description)
            resolved = from_builtins(raw, DatasetSpec)
        return self.validate(resolved)

    def spec_from_preset(self, preset: str, /, **overrides: Any) -> DatasetSpec:
        """A preset's spec with overrides (``name``, ``seed``, ``count``, ``length``,
        ``engine``; None is ignored), validated and size-checked."""
        from synthts_core.services import generation

        return self.validate(generation.resolve_preset(self.rt.registries, preset, **overrides))

    def spec_from_file(self, path: str | Path, **overrides: Any) -> DatasetSpec:
        """A spec file (TOML/JSON) with the same overrides as a preset, validated."""
        from synthts_core.services import generation

        spec = generation.with_overrides(generation.load_spec_file(path), **overrides)
        return self.validate(spec)

    def validate(self, spec: DatasetSpec) -> DatasetSpec:
        from synthts_core.services import generation

        return generation.validate_spec(self.rt.registries, spec,
                                        max_values=self.rt.settings.max_generate_values)

    def ensure_free(self, name: str) -> None:
        """A valid name no dataset has yet (else the conflict says what to do)."""
        check_name(name)
        try:
            self.get(name)
        except NotFoundError:
            return
        raise ConflictError(f"a dataset named {name!r} exists already; pick another name or "
                            "delete it first", field="name")

    def build(self, spec: DatasetSpec,
              progress: Callable[[int, int], None] | None = None) -> Dataset:
        """Generate (not store) the dataset of a spec, within SYNTHTS_MAX_GENERATE_VALUES;
        ``progress(done_series, total_series)`` after each chunk."""
        from synthts_core.services import generation

        return generation.build_dataset(self.rt.registries, spec, progress,
                                        max_values=self.rt.settings.max_generate_values)

    def create(self, spec: DatasetSpec) -> DatasetMeta:
        """Generate and store the dataset of a resolved spec; a taken name is refused before
        any work."""
        self.ensure_free(spec.name)
        return self.store(self.build(spec))

    def parse(self, source: str | Path | bytes | list[str | Path] | list[bytes],
              options: ImportOptions, *, limited: bool = False,
              holdout_sources: list[str | Path] | list[bytes] | None = None) -> ImportResult:
        """Real series read into a dataset and a report, nothing stored (``synthts import``,
        uploads). ``limited``: refuse more than SYNTHTS_MAX_GENERATE_VALUES values (what a
        server takes), counted before they are decoded. ``holdout_sources`` are appended and
        kept out of training (an archive's TEST file)."""
        from synthts_core.services.importing import import_data

        limit = self.rt.settings.max_generate_values if limited else None
        return import_data(source, options, max_values=limit, holdout_sources=holdout_sources)

    def store(self, dataset: Dataset) -> DatasetMeta:
        """Save a dataset atomically; a taken name raises ``ConflictError``."""
        return self.rt.storage.create_dataset(dataset)

    # ------------------------------------------------------------------------ read

    def list(self, query: DatasetQuery | None = None) -> Page:
        return self.rt.storage.list_datasets(query or DatasetQuery())

    def count(self) -> int:
        return self.list(DatasetQuery(limit=1)).total

    def get(self, name: str) -> DatasetMeta:
        return self.rt.storage.get_dataset_meta(name)

    def read(self, name: str, *, series: slice | list[int] | None = None,
             labels: list[int] | list[str] | None = None,
             channels: list[int] | None = None) -> Dataset:
        """Values checked against their checksum; ``labels`` may be indices or label names."""
        return self.rt.storage.read_dataset(name, series=series, labels=labels,
                                            channels=channels)

    def labels_of(self, name: str, meta: DatasetMeta) -> np.ndarray | None:
        """Label index of every series (None when unlabelled), cached by name and checksum."""
        if not meta.label_names:
            return None
        key = (name, meta.checksum)
        with self._labels_lock:
            if key in self._labels:
                self._labels.move_to_end(key)
                return self._labels[key]
        labels = self.read(name, labels=list(range(len(meta.label_names))), channels=[0]).labels
        with self._labels_lock:
            self._labels[key] = labels
            while len(self._labels) > LABEL_CACHE_SIZE:
                self._labels.popitem(last=False)
        return labels

    def select(self, name: str, *, offset: int = 0, limit: int | None = None,
               labels: list[str] | None = None, per_label: int | None = None,
               channels: list[int] | None = None) -> Selection:
        """Series ``offset`` to ``offset + limit`` after the label filter (label names) and the
        per-label cap (the first ``per_label`` of each label), and the channels asked for
        (all by default); errors name the ``label`` or ``channel`` at fault."""
        meta = self.get(name)
        label_idx = label_indices(meta.label_names, labels)
        picked_channels = channel_indices(meta.n_channels, channels)
        limit = meta.n_series if limit is None else limit
        if label_idx is None and per_label is None:
            stop = min(offset + limit, meta.n_series)
            return Selection(meta, list(range(min(offset, stop), stop)), picked_channels)
        all_labels = self.labels_of(name, meta)
        if all_labels is None:
            if label_idx is not None:
                raise BadInputError("label", "this dataset has no labels",
                                    allowed="no label filter")
            index = np.arange(meta.n_series)[:per_label]
        else:
            wanted = label_idx if label_idx is not None else range(len(meta.label_names))
            if per_label is None:
                index = np.flatnonzero(np.isin(all_labels, list(wanted)))
            else:
                chosen = [np.flatnonzero(all_labels == lab)[:per_label] for lab in wanted]
                index = np.sort(np.concatenate(chosen)) if chosen else np.arange(0)
        return Selection(meta, index[offset:offset + limit].tolist(), picked_channels)

    def read_selection(self, selection: Selection, units: Units = "real", *,
                       limited: bool = False) -> Dataset:
        """The selected series and channels, values in ``units`` (real: exactly as imported;
        normalised: through the normalisation recorded at import). ``limited``: a read whose
        every value becomes text (JSON) is held to SYNTHTS_MAX_GENERATE_VALUES before any
        value is read."""
        meta = selection.meta
        if limited:
            check_volume(len(selection.series), len(selection.channels), meta.length,
                         self.rt.settings.max_generate_values, what="JSON values requested")
        ds = self.read(meta.name, series=selection.series, channels=selection.channels)
        ds.values = in_units(ds.values, meta.normalisation, units, selection.channels,
                             meta.n_channels)
        return ds

    def figure(self, name: str, *, per_label: int = 3, labels: list[str] | None = None,
               channel: int = 0) -> tuple[DatasetMeta, Any]:
        """A plotly figure of the first ``per_label`` series of each label (or of ``labels``),
        one channel, in real units; with the meta it was drawn from."""
        from synthts_core import figures

        selection = self.select(name, labels=labels, per_label=per_label, channels=[channel])
        ds = self.read_selection(selection, "real")
        meta = selection.meta
        return meta, figures.dataset_figure(ds.values, ds.labels, meta.label_names,
                                            times=ds.time_grid(), per_label=per_label,
                                            lengths=ds.lengths)

    # ------------------------------------------------------------------------ change

    def rename(self, name: str, new_name: str) -> DatasetMeta:
        check_name(new_name, "new_name")
        return self.rt.storage.update_dataset(name, new_name=new_name)

    def tag(self, name: str, tags: list[str], *, description: str | None = None) -> DatasetMeta:
        """Replace the tags (and optionally the description) of a dataset."""
        for t in tags:
            check_name(t, "tags")
        return self.rt.storage.update_dataset(name, tags=list(tags), description=description)

    def delete(self, name: str) -> None:
        self.rt.storage.delete_dataset(name)

    def export(self, name: str, fmt: ExportFormat, *, layout: ExportLayout = "long",
               series: slice | list[int] | None = None,
               labels: list[int] | list[str] | None = None, units: Units = "real") -> bytes:
        """A stored dataset as a file, in real units unless ``units="normalised"``."""
        check_export(fmt, layout)
        check_units(units)
        return export_bytes(self.read(name, series=series, labels=labels), fmt, layout=layout,
                            units=units)


# ------------------------------------------------------------------------------ selection


def label_indices(label_names: list[str], labels: Iterable[str] | None,
                  field: str = "label") -> list[int] | None:
    """Label names -> their indices in ``label_names`` (None: no filter); an unknown name is
    bad input in ``field`` listing the labels there are."""
    if not labels:
        return None
    out = []
    for lab in labels:
        if lab not in label_names:
            raise BadInputError(field, f"{lab!r} is not a label of this dataset",
                                allowed=", ".join(label_names) or "none (unlabelled)")
        out.append(label_names.index(lab))
    return out


def channel_indices(n_channels: int, channels: Iterable[int] | None,
                    field: str = "channel") -> list[int]:
    """The channels asked for, each once, in the order asked (all when none are)."""
    if not channels:
        return list(range(n_channels))
    channels = list(channels)
    for c in channels:
        if not 0 <= c < n_channels:
            raise BadInputError(field, f"got {c}", allowed=f"0..{n_channels - 1}")
    return list(dict.fromkeys(channels))


# ------------------------------------------------------------------------------ export


def check_export(fmt: str, layout: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise BadInputError("format", f"got {fmt!r}", allowed=", ".join(EXPORT_FORMATS))
    if layout not in EXPORT_LAYOUTS:
        raise BadInputError("layout", f"got {layout!r}", allowed=", ".join(EXPORT_LAYOUTS))


def export_bytes(ds: Dataset, fmt: ExportFormat, *, layout: ExportLayout = "long",
                 units: Units = "real") -> bytes:
    """CSV or Parquet (``long``: one row per value with series, label, channel, time;
    ``wide``: one row per series and channel, a column per time), ``.npy`` of the values,
    ``.npz`` with values, labels, label names and times, or sktime ``.ts``. Every one of them
    imports back (``synthts import`` recognises the tables it writes) to the same dataset. A
    missing point is an empty cell (a null) in a table, ``?`` in ``.ts``, NaN in ``.npy`` and
    ``.npz``. Series of different lengths: ``.npy`` holds them padded with NaN, ``.npz`` adds
    ``lengths``, ``.ts`` says ``@equalLength false``, a long table has rows only up to each
    series' length and a wide one ends a shorter series' row in empty cells."""
    check_export(fmt, layout)
    values = _values_in(ds, units)
    if fmt in ("npy", "npz"):
        buf = io.BytesIO()
        if fmt == "npy":
            np.save(buf, values.astype(np.float32), allow_pickle=False)
        else:
            arrays: dict[str, np.ndarray] = {"values": values.astype(np.float32)}
            if ds.labels is not None:
                arrays["labels"] = ds.labels
                arrays["label_names"] = np.asarray(ds.meta.label_names, dtype=str)
            arrays["times"] = ds.time_grid()
            if ds.lengths is not None:
                arrays["lengths"] = ds.lengths
            np.savez_compressed(buf, allow_pickle=False, **arrays)
        return buf.getvalue()
    if fmt == "ts":
        from synthts_core.services.importing.tsformat import write_ts

        names = list(ds.meta.label_names)
        texts = None if ds.labels is None else [names[i] for i in ds.labels.tolist()]
        return write_ts(values, texts, names, ds.meta.name, ds.lengths)
    table = to_table(ds, layout, values)
    buf = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, buf)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _values_in(ds: Dataset, units: Units) -> np.ndarray:
    """The float32 values in ``units``, widened to float64 for the writers: every float32 is
    a float64 exactly, so text formats write digits that read back to the same float32."""
    return in_units(ds.values, ds.meta.normalisation, units).astype(np.float64)


def to_table(ds: Dataset, layout: ExportLayout = "long",
             values: np.ndarray | None = None):  # -> pyarrow.Table
    """The tabular form used by the CSV and Parquet exports (``values``: in the units to
    write; default as stored)."""
    import pyarrow as pa

    values = ds.values if values is None else values
    n, c, length = values.shape
    names = np.asarray(ds.meta.label_names or [""], dtype=object)
    label = names[ds.labels] if ds.labels is not None else np.full(n, None, dtype=object)
    times = ds.time_grid()
    if layout == "long":
        shape = (n, c, length)
        series_ix = np.broadcast_to(np.arange(n)[:, None, None], shape).ravel()
        time_col = (np.broadcast_to(times[:, None, :], shape) if times.ndim == 2
                    else np.broadcast_to(times, shape)).ravel()
        channel = np.broadcast_to(np.arange(c)[None, :, None], shape).ravel()
        flat = values.ravel()
        if ds.lengths is not None:  # rows only up to each series' length
            own = np.broadcast_to(ds.within()[:, None, :], shape).ravel()
            series_ix, time_col, channel, flat = (series_ix[own], time_col[own], channel[own],
                                                  flat[own])
        return pa.table({
            "series": series_ix,
            "label": pa.array(label[series_ix], type=pa.string()),
            "channel": channel,
            "time": time_col,
            "value": _column(flat),
        })
    rows = np.repeat(np.arange(n), c)
    columns: dict[str, object] = {
        "series": rows,
        "label": pa.array(label[rows], type=pa.string()),
        "channel": np.tile(np.arange(c), n),
    }
    if _ends_ambiguous(values, ds.series_lengths()):
        columns["length"] = np.repeat(ds.series_lengths(), c)
    flat = values.reshape(n * c, length)
    if times.ndim == 2:
        per_row = np.repeat(times, c, axis=0)
        columns.update({f"v{j}": _column(flat[:, j]) for j in range(length)})
        columns.update({f"t{j}": per_row[:, j] for j in range(length)})
    else:
        columns.update({repr(float(t)): _column(flat[:, j]) for j, t in enumerate(times)})
    return pa.table(columns)


def _ends_ambiguous(values: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether a wide table's trailing empty cells would misstate a length: a series whose
    last own point is missing in every channel reads as a shorter one (the UCR convention),
    so such a table says each row's ``length`` in a column of its own."""
    last = values[np.arange(len(values)), :, lengths - 1]  # (series, channels)
    return bool(np.isnan(last).all(axis=1).any())


def _column(values: np.ndarray):  # -> pyarrow.Array
    """A value column: a missing point (NaN) as null, which CSV writes as an empty cell and
    every table reader (synthts import included) reads as missing."""
    import pyarrow as pa

    if not np.isnan(values).any():
        return pa.array(values)
    return pa.array(values, mask=np.isnan(values))
