"""Real data in: a table (CSV, Parquet, JSON) or a NumPy array becomes a dataset of windows.

One column per channel, an optional label column, windows of ``window`` points every
``stride`` points. A window never spans two labels (label runs are windowed separately), so
every window has one label. Values are normalised per channel over the whole table and the
normalisation is recorded (``real = value * scale + offset``) so generated series map back to
real units.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synthts_core.domain import Dataset, Normalisation, TimeAxis
from synthts_core.errors import BadInputError

Format = Literal["csv", "parquet", "npy", "json"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "npy", "json")
NORMALISATIONS = ("none", "zscore", "minmax")


def _format(source: str | Path | bytes, fmt: str | None) -> str:
    if fmt is None:
        if isinstance(source, bytes):
            raise BadInputError("format", "is required when the data is given as bytes",
                                allowed=", ".join(FORMATS))
        fmt = Path(source).suffix.lower().lstrip(".")
        fmt = {"pq": "parquet", "tsv": "csv"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise BadInputError("format", f"got {fmt!r}", allowed=", ".join(FORMATS))
    return fmt


def _raw(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise BadInputError("source", f"cannot read {source}: {exc.strerror or exc}") from None


def _read_columns(raw: bytes, fmt: str) -> dict[str, np.ndarray]:
    """Every column of the table as a 1-D array (numbers as float64, other types as objects)."""
    if fmt == "npy":
        try:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BadInputError("source", f"is not a .npy array: {exc}") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise BadInputError("source", f"array has shape {arr.shape}",
                                allowed="1-D (one channel) or 2-D (time, channels)")
        return {f"c{i}": arr[:, i] for i in range(arr.shape[1])}
    if fmt == "json":
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError("source", f"is not valid JSON: {exc}") from None
        if isinstance(data, list):  # records
            if not all(isinstance(r, dict) for r in data):
                raise BadInputError("source", "JSON list holds non-objects",
                                    allowed="a list of records or an object of columns")
            keys = list(dict.fromkeys(k for r in data for k in r))
            data = {k: [r.get(k) for r in data] for k in keys}
        if not isinstance(data, dict):
            raise BadInputError("source", "JSON is neither records nor columns",
                                allowed="a list of records or an object of columns")
        return {str(k): _as_array(v) for k, v in data.items()}
    import pyarrow as pa  # only importers need it

    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(pa.BufferReader(raw))
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInputError("source", f"is not a readable {fmt} table: {exc}") from None
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            out[name] = col.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            out[name] = np.asarray(col.to_pylist(), dtype=object)
    return out


def _as_array(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        return arr


def _windows(n_rows: int, window: int, stride: int) -> np.ndarray:
    if n_rows < window:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, n_rows - window + 1, stride)


def import_table(source: str | Path | bytes, fmt: Format | None = None, *, name: str,
                 columns: list[str] | None = None, label_column: str | None = None,
                 window: int, stride: int | None = None,
                 normalise: Literal["none", "zscore", "minmax"] = "zscore",
                 max_values: int | None = None) -> Dataset:
    """Cut a table into windows (series, channels, window) with labels from ``label_column``.

    ``max_values`` caps series x channels x window before anything is materialised (overlapping
    windows multiply a small table: a 64 MiB CSV with stride 1 could ask for tens of GB)."""
    fmt_name = _format(source, fmt)
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise BadInputError("window", f"got {window!r}", allowed="an integer >= 2")
    stride = window if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise BadInputError("stride", f"got {stride!r}", allowed="an integer >= 1")
    if normalise not in NORMALISATIONS:
        raise BadInputError("normalise", f"got {normalise!r}", allowed=", ".join(NORMALISATIONS))
    table = _read_columns(_raw(source), fmt_name)
    if label_column is not None and label_column not in table:
        raise BadInputError("label_column", f"{label_column!r} is not a column",
                            allowed=", ".join(table) or "no columns")
    if columns is None:
        columns = [c for c, v in table.items() if c != label_column and v.dtype != object]
        if not columns:
            raise BadInputError("columns", "the table has no numeric column",
                                allowed="a table with at least one numeric column")
    elif not columns:
        raise BadInputError("columns", "is empty", allowed="at least one column")
    for col in columns:
        if col not in table:
            raise BadInputError("columns", f"{col!r} is not a column", allowed=", ".join(table))
        if col == label_column:
            raise BadInputError("columns", f"{col!r} is the label column",
                                allowed="value columns only")
        if table[col].dtype == object:
            raise BadInputError("columns", f"{col!r} is not numeric", allowed="numeric columns")
    data = np.stack([table[c] for c in columns])  # (channels, rows)
    bad = ~np.isfinite(data)
    if bad.any():
        ch, row = np.argwhere(bad)[0]
        raise BadInputError("columns", f"{columns[ch]!r} has a missing or non-finite value at "
                            f"row {row}", allowed="finite numbers in every row")
    n_rows = data.shape[1]
    if n_rows < window:
        raise BadInputError("window", f"{window} is longer than the {n_rows} rows",
                            allowed=f"at most {n_rows}")
    offset, scale = _normalisation(data, normalise)
    data = (data - offset[:, None]) / scale[:, None]

    starts: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    label_names: list[str] = []
    if label_column is None:
        starts.append(_windows(n_rows, window, stride))
    else:
        raw_labels = np.asarray([_label_text(v) for v in table[label_column]], dtype=object)
        label_names = sorted(set(raw_labels.tolist()))
        index = {v: i for i, v in enumerate(label_names)}
        change = np.flatnonzero(raw_labels[1:] != raw_labels[:-1]) + 1
        bounds = np.concatenate(([0], change, [n_rows]))
        for lo, hi in itertools.pairwise(bounds.tolist()):
            s = _windows(int(hi - lo), window, stride) + lo
            starts.append(s)
            labels.append(np.full(len(s), index[raw_labels[lo]], dtype=np.int64))
    all_starts = np.concatenate(starts)
    if not len(all_starts):
        raise BadInputError("window", f"no run of one label is {window} rows long",
                            allowed="a window no longer than the label runs")
    if max_values is not None and len(all_starts) * data.shape[0] * window > max_values:
        from synthts_core.errors import LimitExceededError

        raise LimitExceededError("windows x channels x window", len(all_starts) * data.shape[0]
                                 * window, max_values, "SYNTHTS_MAX_GENERATE_VALUES")
    idx = all_starts[:, None] + np.arange(window)  # (series, window)
    values = np.ascontiguousarray(data[:, idx].transpose(1, 0, 2))
    label_arr = np.concatenate(labels) if label_column is not None else None
    if label_arr is not None:  # keep only names that got a window, in order
        used = sorted(set(label_arr.tolist()))
        remap = np.full(len(label_names), -1)
        remap[used] = np.arange(len(used))
        label_arr = remap[label_arr]
        label_names = [label_names[i] for i in used]
    origin = source if not isinstance(source, bytes) else f"<{len(source)} bytes>"
    return Dataset.build(
        name, values, label_arr, label_names, time_axis=TimeAxis(kind="regular"),
        source="imported", generators=[],
        normalisation=Normalisation(method=normalise, offset=offset.tolist(),
                                    scale=scale.tolist()),
        tags=["imported"],
        description=(f"imported from {origin} ({fmt_name}): columns {', '.join(columns)}"
                     + (f", labels from {label_column}" if label_column else "")
                     + f", window {window}, stride {stride}, {normalise} normalisation"),
    )


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _normalisation(data: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel offset and scale with ``real = value * scale + offset``."""
    channels = data.shape[0]
    if method == "zscore":
        offset, scale = data.mean(axis=1), data.std(axis=1)
    elif method == "minmax":
        offset = data.min(axis=1)
        scale = data.max(axis=1) - offset
    else:
        offset, scale = np.zeros(channels), np.ones(channels)
    scale = np.where(scale > 0, scale, 1.0)  # a constant channel maps to 0
    return offset.astype(np.float64), scale.astype(np.float64)
