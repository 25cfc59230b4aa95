"""Real data in: one code path for ``synthts import`` and ``POST /datasets/upload``.

Layouts: ``long`` (one row per time point; optional series-id, time and channel columns),
``wide`` (one row per series, UCR/UEA style; a channel column or one file per channel for
several channels) and ``array`` (``.npy``/``.npz``, JSON ``{"values", "labels"}``, ``.ts``).
Every layout ends in the same steps: optional windows (never across two recordings or labels),
labels in one order (the declared order when the file declares one, else natural: numbers
numerically, text alphabetically), the values stored as given (float32, so every read returns
them bit for bit) with one normalisation per channel fitted to them (default ``zscore``,
checked finite) and recorded for reads in normalised units, and a report of what was stored
or dropped and why (``dry_run`` stops there).

Series of different lengths (a ``.ts`` with ``@equalLength false``, runs of different lengths
in a long table, ragged JSON lists, wide rows ending in empty cells, an ``.npz`` with
``lengths``) are stored as they are: padded with NaN to the longest, with their lengths; a
window is cut only from a series' own points.

Missing points (an empty cell, ``NaN``/``NA``, JSON ``null``, ``?`` in a ``.ts`` file, NaN in
an array file) are kept as NaN, never filled in; the normalisation is fitted to the observed
values. An infinity, a series with no observed point, and a missing label or time are
refused, naming where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from synthts_core.domain import Dataset, HoldoutSplit, TimeAxis, lengths_text, missing_text
from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.holdout import stratified_holdout
from synthts_core.services.importing.layouts import (
    label_text,
    long_layout,
    natural_order,
    value_columns,
    wide_layout,
)
from synthts_core.services.importing.normalising import fit_normalisation, imported_values
from synthts_core.services.importing.readers import (
    FORMATS,
    LIMIT_SETTING,
    Arrays,
    Table,
    detect_format,
    read,
    read_bytes,
)
from synthts_core.storage_support import check_holdout

__all__ = [
    "DEFAULT_NORMALISATION",
    "FORMATS",
    "LAYOUTS",
    "NORMALISATIONS",
    "ImportOptions",
    "ImportReport",
    "ImportResult",
    "import_data",
    "import_table",
]

Layout = Literal["auto", "long", "wide"]
LAYOUTS: tuple[str, ...] = ("auto", "long", "wide")
NORMALISATIONS: tuple[str, ...] = ("zscore", "minmax", "none")
DEFAULT_NORMALISATION = "zscore"
EXPORT_LONG = ["series", "label", "channel", "time", "value"]


class ImportOptions(msgspec.Struct, kw_only=True):
    """How to read the data; the CLI flags and the upload's query parameters map 1:1."""

    name: str
    format: str | None = None
    layout: Layout = "auto"
    columns: list[str] | None = None
    label_column: str | None = None
    series_column: str | None = None
    time_column: str | None = None
    channel_column: str | None = None
    window: int | None = None
    stride: int | None = None
    normalise: Literal["zscore", "minmax", "none"] = DEFAULT_NORMALISATION
    tags: list[str] = msgspec.field(default_factory=lambda: ["imported"])
    description: str = ""
    # series kept out of training: a stratified random fraction of each class, drawn with
    # holdout_seed, or every series from index holdout_from on (a TRAIN and a TEST set sent
    # as one upload); held-out files are the third way: ``import_data(holdout_sources=...)``
    holdout: float | None = None
    holdout_from: int | None = None
    holdout_seed: int = 0


class Dropped(msgspec.Struct):
    why: str
    rows: int


class ImportReport(msgspec.Struct, kw_only=True):
    """What would be (or was) stored: the dry run prints this."""

    name: str
    format: str
    layout: str
    n_series: int
    n_channels: int
    length: int
    label_names: list[str]
    label_counts: list[int]
    value_columns: list[str] = []
    roles: dict[str, str] = {}
    window: int | None = None
    stride: int | None = None
    normalisation: str = DEFAULT_NORMALISATION
    time_axis: str = "regular"
    dropped: list[Dropped] = []
    notes: list[str] = []
    n_holdout: int = 0
    holdout: str = ""
    n_missing: int = 0  # missing points (NaN) kept as they are
    # series of different lengths: shortest, median and total points (None: all equal)
    min_length: int | None = None
    median_length: float | None = None
    n_points: int | None = None

    def lines(self) -> list[str]:
        out = [f"{self.name}: {self.n_series} series x {self.n_channels} channels x "
               f"{self.length} points ({self.format}, {self.layout} layout, "
               f"{self.normalisation} normalisation, {self.time_axis} time axis)"]
        if self.value_columns:
            shown = self.value_columns if len(self.value_columns) <= 8 else \
                [*self.value_columns[:3], "...", *self.value_columns[-2:]]
            out.append(f"  value columns ({len(self.value_columns)}): {', '.join(shown)}")
        for role, col in self.roles.items():
            out.append(f"  {role.replace('_', ' ')}: {col}")
        if self.window is not None:
            out.append(f"  window {self.window}, stride {self.stride}")
        if self.label_names:
            out.append("  labels: " + ", ".join(f"{n} ({c})" for n, c in
                                               zip(self.label_names, self.label_counts,
                                                   strict=True)))
        else:
            out.append("  labels: none")
        if self.min_length is not None:
            out.append("  " + lengths_text(self.min_length, self.length, self.median_length))
        if self.n_missing:
            points = self.n_points if self.n_points is not None else \
                self.n_series * self.length
            out.append("  missing: " + missing_text(self.n_missing, points * self.n_channels)
                       + ", kept as missing (never filled in)")
        if self.n_holdout:
            out.append(f"  held out of training: {self.holdout}")
        for d in self.dropped:
            out.append(f"  dropped {d.rows} rows: {d.why}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


@dataclass
class ImportResult:
    dataset: Dataset
    report: ImportReport


def import_data(sources: str | Path | bytes | list[str | Path] | list[bytes],
                options: ImportOptions, *, max_values: int | None = None,
                holdout_sources: list[str | Path] | list[bytes] | None = None) -> ImportResult:
    """Read ``sources`` into a dataset and a report: one file; several wide tables, one per
    channel; or several array or ``.ts`` files, whose series are appended (a UCR/UEA archive's
    TRAIN and TEST files make one dataset).

    ``holdout_sources`` (read the same way, e.g. the archive's TEST file) are appended after
    them and marked held out: no model trains on them, evaluations score against them.
    ``options.holdout`` holds out a stratified random fraction instead.

    ``max_values`` caps the values read and the series x channels x window stored, before
    anything large is materialised (uploads pass SYNTHTS_MAX_GENERATE_VALUES)."""
    many = sources if isinstance(sources, list) else [sources]
    if not many:
        raise BadInputError("source", "no file given", allowed="one file, or one per channel")
    _check_options(options)
    if sum([bool(holdout_sources), options.holdout is not None,
            options.holdout_from is not None]) > 1:
        raise BadInputError("holdout", "is given more than one way",
                            allowed="held-out files, a fraction or holdout_from, one of them")
    fmt = detect_format(many[0], options.format)
    arrays, layout, roles, cols = _read_group(many, options, fmt, max_values)
    n_train = len(arrays.values)
    if holdout_sources:
        held = _read_group(list(holdout_sources), options, fmt, max_values)[0]
        arrays = _stack_series([arrays, held])
    labels, names = _encode_labels(arrays)
    values = imported_values(arrays.values, "window" if options.window else "series")
    norm = fit_normalisation(values, options.normalise)
    times, axis = _times(arrays.times, values.shape, arrays.lengths)
    origin = f"<{len(many[0])} bytes>" if isinstance(many[0], bytes) else \
        ", ".join(str(s) for s in many)
    description = options.description or arrays.description or (
        f"imported from {origin} ({fmt}, {layout} layout)"
        + (f", window {options.window}" if options.window else "")
        + f", {options.normalise} normalisation")
    dropped_rows = sum(r for _, r in arrays.dropped)
    if dropped_rows:
        description += f"; {dropped_rows} rows dropped"
    split = None
    if holdout_sources:
        split = HoldoutSplit(series=list(range(n_train, len(values))), how="file",
                             source=", ".join(_origin(h) for h in holdout_sources))
    elif options.holdout_from is not None:
        if not 1 <= options.holdout_from < len(values):
            raise BadInputError("holdout_from", f"got {options.holdout_from!r}",
                                allowed=f"1..{len(values) - 1} (the data has {len(values)} "
                                "series)")
        split = HoldoutSplit(series=list(range(options.holdout_from, len(values))), how="file",
                             source=f"series {options.holdout_from}.. of {origin}")
    elif options.holdout is not None:
        split = HoldoutSplit(series=stratified_holdout(labels, len(values), options.holdout,
                                                       options.holdout_seed),
                             how="fraction", fraction=float(options.holdout),
                             seed=int(options.holdout_seed))
        if not split.series:
            raise BadInputError("holdout", f"{options.holdout:g} of each class is no series "
                                "here", allowed="a larger fraction (classes keep at least "
                                "one training series)")
    dataset = Dataset.build(options.name, values, labels, names, times=times,
                            lengths=arrays.lengths, time_axis=axis, source="imported",
                            generators=[],
                            normalisation=norm, tags=list(dict.fromkeys(["imported", *options.tags])),
                            description=description, holdout=split)
    meta = dataset.meta
    if split is not None:
        check_holdout(meta, meta.n_series)
    window = arrays.values.shape[2] if options.window is not None else None
    report = ImportReport(
        name=options.name, format=fmt, layout=layout, n_series=meta.n_series,
        n_channels=meta.n_channels, length=meta.length, label_names=list(meta.label_names),
        label_counts=list(meta.label_counts), value_columns=cols,
        roles={k: v for k, v in roles.items() if v}, window=window,
        stride=(options.stride or window) if window else None, normalisation=norm.method,
        time_axis=meta.time_axis.kind,
        dropped=[Dropped(why, rows) for why, rows in arrays.dropped],
        notes=list(arrays.notes) + ([_files_note(many, layout)] if len(many) > 1 else []),
        n_holdout=meta.n_holdout, n_missing=meta.n_missing, min_length=meta.min_length,
        median_length=None if dataset.lengths is None else float(np.median(dataset.lengths)),
        n_points=None if dataset.lengths is None else int(dataset.lengths.sum()),
        holdout=f"{meta.n_holdout} series ({split.describe()})" if split is not None else "")
    return ImportResult(dataset, report)


def _origin(source: str | Path | bytes) -> str:
    return f"<{len(source)} bytes>" if isinstance(source, bytes) else Path(source).name


def _read_group(many: list, options: ImportOptions, fmt: str, max_values: int | None
                ) -> tuple[Arrays, str, dict[str, str | None], list[str]]:
    """Files that make one set of series (several tables: one per channel; several array
    files: more series), windowed when asked: (series, layout, roles, value columns)."""
    parts = [_shape(read(read_bytes(s), fmt, max_values=max_values), options, fmt, max_values)
             for s in many]
    layout, roles, cols = parts[0][1:]
    if len(parts) == 1:
        arrays = parts[0][0]
    elif layout == "array":
        arrays = _stack_series([p[0] for p in parts])
    else:
        arrays = _stack_channels([p[0] for p in parts], layout)
    if not arrays.windowed and options.window is not None:
        arrays = _windows(arrays, options.window, options.stride, max_values)
    return arrays, layout, roles, cols


def import_table(source: str | Path | bytes, fmt: str | None = None, *, name: str,
                 columns: list[str] | None = None, label_column: str | None = None,
                 window: int | None = None, stride: int | None = None,
                 normalise: str = DEFAULT_NORMALISATION, max_values: int | None = None,
                 **roles: str | None) -> Dataset:
    """The dataset alone (the report is in ``import_data``)."""
    options = ImportOptions(name=name, format=fmt, columns=columns, label_column=label_column,
                            window=window, stride=stride, normalise=normalise,  # type: ignore[arg-type]
                            **roles)  # type: ignore[arg-type]
    return import_data(source, options, max_values=max_values).dataset


# --------------------------------------------------------------------------------- steps


def _check_options(o: ImportOptions) -> None:
    if o.layout not in LAYOUTS:
        raise BadInputError("layout", f"got {o.layout!r}", allowed=", ".join(LAYOUTS))
    if o.normalise not in NORMALISATIONS:
        raise BadInputError("normalise", f"got {o.normalise!r}",
                            allowed=", ".join(NORMALISATIONS))
    if o.window is not None and (isinstance(o.window, bool) or not isinstance(o.window, int)
                                 or o.window < 2):
        raise BadInputError("window", f"got {o.window!r}", allowed="an integer >= 2")
    if o.stride is not None:
        if isinstance(o.stride, bool) or not isinstance(o.stride, int) or o.stride < 1:
            raise BadInputError("stride", f"got {o.stride!r}", allowed="an integer >= 1")
        if o.window is None:
            raise BadInputError("stride", "needs a window", allowed="also --window")
    if o.holdout is not None:
        stratified_holdout(None, 2, o.holdout, 0)  # checks the fraction


def _roles(o: ImportOptions) -> dict[str, str | None]:
    return {"label_column": o.label_column, "series_column": o.series_column,
            "time_column": o.time_column, "channel_column": o.channel_column}


def _shape(data: Table | Arrays, o: ImportOptions, fmt: str, max_values: int | None
           ) -> tuple[Arrays, str, dict[str, str | None], list[str]]:
    """(series, layout used, column roles, value columns)."""
    roles = _roles(o)
    if isinstance(data, Arrays):
        if o.layout == "long" and fmt == "npy" and data.values.ndim == 2:  # (time, channels)
            data = Table({f"c{i}": data.values[:, i] for i in range(data.values.shape[1])})
        else:
            for option, value in {**roles, "columns": o.columns}.items():
                if value is not None:
                    raise BadInputError(option, f"applies to tables, not {fmt} series",
                                        allowed="leave it out")
            return _as_series(data), "array", {}, []
    layout = o.layout
    if layout == "auto" and o.columns is None and not any(roles.values()):
        layout, roles = _recognise_export(data, roles)
    if layout == "auto":
        layout = "long" if (o.window is not None or o.time_column) else "wide"
    cols, ignored = value_columns(data, roles, o.columns)
    if layout == "long":
        arrays = long_layout(data, roles, cols, o.window, o.stride, max_values)
    else:
        if o.time_column:
            raise BadInputError("time_column", "applies to the long layout",
                                allowed="leave it out with --layout wide (the value column "
                                "names are the times)")
        arrays = wide_layout(data, roles, cols)
    if ignored:
        arrays.notes.append(f"text columns not used: {', '.join(ignored)}")
    return arrays, layout, roles, cols


def _recognise_export(table: Table, roles: dict[str, str | None]
                      ) -> tuple[str, dict[str, str | None]]:
    """Tables written by ``synthts datasets export`` come back without naming their columns."""
    names = list(table.columns)
    if names == EXPORT_LONG:
        found = "long", {"label_column": "label", "series_column": "series",
                         "time_column": "time", "channel_column": "channel"}
    elif names[:3] == EXPORT_LONG[:3] and len(names) > 4:
        first = 4 if names[3] == "length" else 3
        try:
            [float(c) for c in names[first:]]
        except ValueError:
            return "auto", roles
        if first == 4:  # each row's length, where trailing empty cells would not say it
            lengths = table.columns.pop("length")
            if lengths.dtype == object or not np.isfinite(lengths).all():
                raise BadInputError("lengths", "the length column is not a number in every "
                                    "row", allowed="a whole number of points per row")
            table.lengths = lengths.astype(np.int64)
        found = "wide", {"label_column": "label", "series_column": "series",
                         "channel_column": "channel", "time_column": None}
    else:
        return "auto", roles
    labels = table.columns["label"]
    if all(v is None or (isinstance(v, float) and np.isnan(v)) for v in labels):
        del table.columns["label"]  # an unlabelled dataset
        found[1]["label_column"] = None
    return found


def _as_series(data: Arrays) -> Arrays:
    v = data.values
    if v.ndim == 1:
        v = v[None, None, :]
    elif v.ndim == 2:
        v = v[:, None, :]
    if v.ndim != 3 or min(v.shape) < 1:
        raise BadInputError("values", f"has shape {data.values.shape}",
                            allowed="(series, length) or (series, channels, length), non-empty")
    if data.labels is not None and data.labels.shape != (v.shape[0],):
        raise BadInputError("labels", f"has {len(data.labels)} entries for {v.shape[0]} series",
                            allowed="one label per series")
    data.values = v
    return data


def _stack_channels(parts: list[Arrays], layout: str) -> Arrays:
    if layout != "wide":
        raise BadInputError("source", "several files are read as one file per channel",
                            allowed="wide tables (one row per series) with the same rows")
    first = parts[0]
    for i, p in enumerate(parts[1:], start=2):
        if p.values.shape[0] != first.values.shape[0] or p.values.shape[2] != \
                first.values.shape[2]:
            raise BadInputError("source", f"file {i} has {p.values.shape[0]} series of "
                                f"{p.values.shape[2]} points, file 1 {first.values.shape[0]} of "
                                f"{first.values.shape[2]}", allowed="the same series in every file")
        if (p.labels is None) != (first.labels is None) or (
                p.labels is not None and (p.labels != first.labels).any()):
            raise BadInputError("label_column", f"file {i} labels its rows differently",
                                allowed="the same label on the same row of every file")
    first.values = np.concatenate([p.values for p in parts], axis=1)
    if any(p.lengths is not None for p in parts):  # a series is as long as its longest channel
        first.lengths = np.max([p.lengths if p.lengths is not None else
                                np.full(len(p.values), p.values.shape[2]) for p in parts], axis=0)
    return first


def _stack_series(parts: list[Arrays]) -> Arrays:
    """Array and ``.ts`` files carry whole series: several files are more series of the same
    channels and length, with their labels (label order: the first file's, then new ones)."""
    first = parts[0]
    ragged = any(p.lengths is not None for p in parts) or \
        len({p.values.shape[2] for p in parts}) > 1
    for i, p in enumerate(parts[1:], start=2):
        if p.values.shape[1] != first.values.shape[1] or (
                not ragged and p.values.shape[2] != first.values.shape[2]):
            raise BadInputError("source", f"file {i} has series of {p.values.shape[1]} "
                                f"channel(s) x {p.values.shape[2]} points, file 1 of "
                                f"{first.values.shape[1]} x {first.values.shape[2]}",
                                allowed="the same channels in every file")
        if ragged and (p.times is not None or first.times is not None):
            raise BadInputError("source", f"file {i} has series of other lengths and its own "
                                "time points", allowed="the same length in every file when "
                                "they carry times")
        if (p.labels is None) != (first.labels is None) or \
                p.labels_are_indices != first.labels_are_indices:
            raise BadInputError("source", f"file {i} is labelled differently from file 1",
                                allowed="labels of the same kind in every file, or none")
        if (first.times is None) != (p.times is None) or (
                p.times is not None and not np.array_equal(p.times, first.times)):
            raise BadInputError("source", f"file {i} has other time points than file 1",
                                allowed="the same time points in every file")
    names = None
    if first.label_names is not None or any(p.label_names for p in parts):
        names = list(dict.fromkeys(n for p in parts for n in (p.label_names or [])))
        if first.labels_are_indices and any(p.label_names != first.label_names for p in parts):
            raise BadInputError("source", "the files number their labels differently",
                                allowed="the same label names in every file")
    if ragged:  # series of different lengths: padded with NaN to the longest of all files
        longest = max(p.values.shape[2] for p in parts)
        lengths = np.concatenate([p.lengths if p.lengths is not None else
                                  np.full(len(p.values), p.values.shape[2]) for p in parts])
        for p in parts:
            p.values = np.pad(p.values, ((0, 0), (0, 0), (0, longest - p.values.shape[2])),
                              constant_values=np.nan)
    out = Arrays(np.concatenate([p.values for p in parts]),
                 None if first.labels is None else np.concatenate([p.labels for p in parts]),
                 names, first.labels_are_indices, first.times,
                 notes=[n for p in parts for n in p.notes],
                 dropped=[d for p in parts for d in p.dropped],
                 description=first.description)
    out.lengths = lengths.astype(np.int64) if ragged else None
    return out


def _files_note(many: list, layout: str) -> str:
    what = "series appended" if layout == "array" else "one per channel"
    return f"{len(many)} files, {what}"


def _windows(a: Arrays, window: int, stride: int | None, max_values: int | None) -> Arrays:
    n, c, length = a.values.shape
    stride = window if stride is None else stride
    if a.lengths is not None:
        return _ragged_windows(a, window, stride, max_values)
    if window > length:
        raise BadInputError("window", f"{window} is longer than the series ({length} points)",
                            allowed=f"at most {length}")
    starts = np.arange(0, length - window + 1, stride)
    if max_values is not None and n * len(starts) * c * window > max_values:
        raise LimitExceededError("windows x channels x window", n * len(starts) * c * window,
                                 max_values, LIMIT_SETTING)
    idx = starts[:, None] + np.arange(window)
    a.values = np.ascontiguousarray(a.values[:, :, idx].transpose(0, 2, 1, 3)
                                    ).reshape(-1, c, window)
    if a.labels is not None:
        a.labels = np.repeat(a.labels, len(starts))
    if a.times is not None:
        t = a.times[..., idx]  # (w, window) or (n, w, window)
        a.times = t.reshape(-1, window) if t.ndim == 3 else np.repeat(t, n, axis=0)
    tail = length - (starts[-1] + window)
    if tail:
        a.dropped.append((f"points after the last full window of each series (stride {stride})",
                          int(tail * n)))
    return a


def _ragged_windows(a: Arrays, window: int, stride: int, max_values: int | None) -> Arrays:
    """Windows of series of different lengths, each cut from its own points only (never
    from padding); a series shorter than the window gives none (dropped and counted)."""
    assert a.lengths is not None
    n, c, _ = a.values.shape
    lengths = a.lengths
    if lengths.max() < window:
        longest = int(lengths.max())
        raise BadInputError("window", f"{window} is longer than every series (at most "
                            f"{longest} points)", allowed=f"at most {longest}")
    per = np.where(lengths >= window, (lengths - window) // stride + 1, 0)
    total = int(per.sum())
    if max_values is not None and total * c * window > max_values:
        raise LimitExceededError("windows x channels x window", total * c * window,
                                 max_values, LIMIT_SETTING)
    series = np.repeat(np.arange(n), per)
    starts = stride * (np.arange(total) - np.repeat(np.cumsum(per) - per, per))
    idx = starts[:, None] + np.arange(window)
    a.values = np.ascontiguousarray(a.values[series[:, None], :, idx].transpose(0, 2, 1))
    if a.labels is not None:
        a.labels = a.labels[series]
    if a.times is not None:
        a.times = a.times[idx] if a.times.ndim == 1 else a.times[series[:, None], idx]
        if a.times.ndim == 2 and (a.times == a.times[:1]).all():
            a.times = a.times[0]
    short = lengths < window
    if short.any():
        a.dropped.append((f"{int(short.sum())} series shorter than the window ({window})",
                          int(lengths[short].sum())))
    covered = np.where(per > 0, (per - 1) * stride + window, 0)
    tail = int((lengths - covered)[~short].sum())
    if tail:
        a.dropped.append((f"points after the last full window of each series (stride {stride})",
                          tail))
    a.lengths = None
    return a


def _encode_labels(a: Arrays) -> tuple[np.ndarray | None, list[str] | None]:
    """Label index per series and the names: declared order if declared, else natural."""
    if a.labels is None:
        return None, None
    if a.labels_are_indices:
        names = list(a.label_names or [])
        idx = a.labels.astype(np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(names)):
            raise BadInputError("labels", "hold an index without a label name",
                                allowed=f"0..{len(names) - 1}")
        return idx, names
    texts = [label_text(x) for x in a.labels.tolist()]
    names = list(a.label_names) if a.label_names else natural_order(texts)
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(texts) - set(lookup))
    if unknown:
        raise BadInputError("labels", f"{unknown[0]!r} is not in label_names",
                            allowed=", ".join(names))
    return np.fromiter((lookup[t] for t in texts), np.int64, len(texts)), names


def _times(times: np.ndarray | None, shape: tuple[int, ...], lengths: np.ndarray | None = None
           ) -> tuple[np.ndarray | None, TimeAxis]:
    """A regular axis when the times are equally spaced and shared, else per-series times
    (NaN past a series' length)."""
    if times is None:
        return None, TimeAxis(kind="regular")
    pad = None if lengths is None else np.arange(shape[2])[None, :] >= lengths[:, None]
    if times.ndim == 2 and pad is not None:
        ref = times[int(np.argmax(lengths))]
        if ((times == ref) | pad).all():
            times = ref
    if times.ndim == 2 and (times == times[:1]).all():
        times = times[0]
    if times.ndim == 1:
        steps = np.diff(times)
        if len(steps) and np.allclose(steps, steps[0], rtol=1e-9, atol=0) and steps[0] > 0:
            return None, TimeAxis(kind="regular", start=float(times[0]), step=float(steps[0]))
        times = np.broadcast_to(times, (shape[0], shape[2]))
    if pad is not None:
        times = np.where(pad, np.nan, times)
    return np.ascontiguousarray(times), TimeAxis(kind="irregular")
