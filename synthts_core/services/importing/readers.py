"""File formats -> either a table of named columns or arrays of whole series.

Tables: CSV, Parquet, JSON records/columns. Arrays: ``.npy``, ``.npz`` (values + labels),
JSON ``{"values": ..., "labels": ...}`` and the sktime/aeon ``.ts`` format. Nothing is ever
unpickled, JSON is decoded by msgspec (strict types: a boolean is not a number) and JSON value
arrays are parsed straight into NumPy (see ``jsonvalues``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.importing.jsonvalues import parse_series_array
from synthts_core.services.importing.options import FORMATS

SUFFIXES = {"tsv": "csv", "pq": "parquet", "txt": "csv"}
LIMIT_SETTING = "SYNTHTS_MAX_GENERATE_VALUES"


@dataclass
class Table:
    """Columns in file order: numbers as float64, anything else as an object array."""

    columns: dict[str, np.ndarray]
    # each row's series length, from the ``length`` column of a wide table synthts exported
    # (written where trailing empty cells would not tell a missing last point from padding)
    lengths: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass
class Arrays:
    """Whole series: values (series, channels, length) float64, raw labels per series (or
    None), the declared label order (or None), shared times (length,) or None."""

    values: np.ndarray
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    labels_are_indices: bool = False
    times: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    dropped: list[tuple[str, int]] = field(default_factory=list)  # (why, rows)
    description: str = ""
    windowed: bool = False  # the long layout cuts its own windows (never across recordings)
    # points of each series when they differ (values padded with NaN past them), else None
    lengths: np.ndarray | None = None


def detect_format(source: str | Path | bytes, fmt: str | None) -> str:
    if fmt is None:
        if isinstance(source, bytes):
            raise BadInputError("format", "is required when the data is given as bytes",
                                allowed=", ".join(FORMATS))
        fmt = Path(source).suffix.lower().lstrip(".")
        fmt = SUFFIXES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise BadInputError("format", f"got {fmt!r}", allowed=", ".join(FORMATS))
    return fmt


def read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise BadInputError("source", f"cannot read {source}: {exc.strerror or exc}") from None


def read(raw: bytes, fmt: str, *, max_values: int | None = None) -> Table | Arrays:
    if fmt in ("csv", "parquet"):
        return _arrow_table(raw, fmt)
    if fmt == "json":
        return _json(raw, max_values)
    if fmt in ("npy", "npz"):
        return _numpy(raw, fmt, max_values)
    from synthts_core.services.importing.tsformat import parse_ts

    return parse_ts(raw, max_values)


NEGATIVE_ZERO = re.compile(rb"(?:^|,)-0(?=,|\r?$)", re.MULTILINE)
"""A ``-0`` cell: float32 negative zero as a CSV writer prints it (pyarrow's among them). A
column of whole numbers is read as integers, where -0 is 0, so such a file is read again with
its integer columns as float64 and every value keeps its sign bit."""


def _arrow_table(raw: bytes, fmt: str) -> Table:
    import pyarrow as pa  # only importers need it

    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(pa.BufferReader(raw))
            ints = [name for name, kind in zip(table.column_names, table.schema.types,
                                               strict=True) if pa.types.is_integer(kind)]
            if ints and NEGATIVE_ZERO.search(raw):  # read as an integer it would lose its sign
                table = pacsv.read_csv(pa.BufferReader(raw), convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(ints, pa.float64())))
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInputError("source", f"is not a readable {fmt} table: {exc}") from None
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            out[name] = col.to_numpy(zero_copy_only=False).astype(np.float64)
        elif pa.types.is_null(col.type):
            out[name] = np.full(len(col), np.nan)
        else:  # text, booleans, dates: never silently numbers
            out[name] = np.asarray(col.to_pylist(), dtype=object)
    return Table(out)


DOC_KEYS = {"values", "labels", "label_names", "description", "lengths"}
Cell = float | str | None


def _decode(raw: bytes | msgspec.Raw, type: Any, where: str = "body") -> Any:
    try:
        return msgspec.json.decode(raw, type=type)
    except RecursionError:
        raise BadInputError(where, "is nested too deeply",
                            allowed="values nested at most 3 levels") from None
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = text.rsplit("`$", 1)[-1].rstrip("`") if "`$" in text else ""
        field = (path.lstrip(".") or where) if where == "body" else where + path
        raise BadInputError(field, text.split(" - at ")[0],
                            allowed='{"values": [[[...]]], "labels": [...], '
                                    '"label_names": [...]} or a table') from None
    except msgspec.DecodeError as exc:
        raise BadInputError(where, f"is not valid JSON ({exc})") from None


def _json(raw: bytes, max_values: int | None) -> Table | Arrays:
    """``{"values": ..., "labels": ...}`` is whole series; a list of records or an object of
    columns is a table. Types are strict: a boolean is neither a number nor a label."""
    if raw.lstrip()[:1] == b"{":
        top = _decode(raw, dict[str, msgspec.Raw])
        if "values" in top and set(top) <= DOC_KEYS:
            values, ragged = parse_series_array(top["values"], "values", max_values=max_values,
                                                setting=LIMIT_SETTING, ragged=True)
            labels = _decode(top["labels"], list[int | str] | None, "labels") \
                if "labels" in top else None
            names = _decode(top["label_names"], list[str] | None, "label_names") \
                if "label_names" in top else None
            description = _decode(top["description"], str, "description") \
                if "description" in top else ""
            arrays = Arrays(values, description=description, lengths=ragged)
            if "lengths" in top:
                given = _decode(top["lengths"], list[int] | None, "lengths")
                if given is not None:
                    arrays.lengths = _given_lengths(np.asarray(given, np.int64), values, ragged)
            _set_labels(arrays, labels, names)
            return arrays
        data = {k: _decode(v, list[Cell], k) for k, v in top.items()}
    else:
        records = _decode(raw, list[dict[str, Cell]])
        keys = list(dict.fromkeys(k for r in records for k in r))
        data = {k: [r.get(k) for r in records] for k in keys}
    if not data:
        raise BadInputError("source", "the JSON table has no columns",
                            allowed="a list of records or an object of columns")
    if len({len(v) for v in data.values()}) != 1:
        raise BadInputError("source", "JSON columns differ in length", allowed="equal lengths")
    return Table({str(k): _column(v) for k, v in data.items()})


def _given_lengths(given: np.ndarray, values: np.ndarray, ragged: np.ndarray | None
                   ) -> np.ndarray:
    """``lengths`` a document states: those of its ragged lists, or, for padded (rectangular)
    values, how many points of each series are its own (what follows must be null: checked
    when the dataset is built)."""
    n = values.shape[0] if values.ndim >= 2 else 1
    if given.shape != (n,):
        raise BadInputError("lengths", f"has {given.size} entries for {n} series",
                            allowed="one length per series")
    if ragged is not None and not np.array_equal(given, ragged):
        i = int(np.flatnonzero(given != ragged)[0])
        raise BadInputError("lengths", f"series {i} has {int(ragged[i])} values, lengths "
                            f"says {int(given[i])}", allowed="each series' number of values")
    return given


def _column(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, int | float) or v is None for v in values):
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(values, dtype=object)


def _set_labels(arrays: Arrays, labels: Any, names: list[str] | None) -> None:
    if labels is None:
        if names:
            raise BadInputError("label_names", "given without labels", allowed="also 'labels'")
        return
    labels = np.asarray(labels)
    if labels.dtype == object:
        raise BadInputError("labels", "mixes names and indices",
                            allowed="all names or all integer indices")
    if labels.dtype.kind == "b":
        raise BadInputError("labels", "are booleans", allowed="names or integer indices")
    if labels.ndim != 1:
        raise BadInputError("labels", f"has shape {labels.shape}", allowed="one label per series")
    if names is not None:
        names = [str(n) for n in names]
        if len(set(names)) != len(names):
            raise BadInputError("label_names", "repeats a name", allowed="unique names")
    arrays.labels = labels
    arrays.label_names = names
    arrays.labels_are_indices = names is not None and labels.dtype.kind in "iu"


def _numpy(raw: bytes, fmt: str, max_values: int | None) -> Arrays:
    if fmt == "npy":
        return Arrays(_npy_values(raw, "source", max_values))
    import zipfile

    try:
        archive = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise BadInputError("source", f"is not a readable .npz archive ({exc})") from None
    with archive:
        keys = list(archive.files)
        key = next((k for k in ("values", "X", "x", "data") if k in keys), None)
        if key is None:
            raise BadInputError("source", f"the .npz archive holds {', '.join(keys) or 'nothing'}",
                                allowed="a 'values' (or 'X') array, optional 'labels' (or 'y') "
                                "and 'label_names'")
        try:
            values = _checked(archive[key], key, max_values)
            label_key = next((k for k in ("labels", "y") if k in keys), None)
            labels = archive[label_key] if label_key else None
            names = archive["label_names"].tolist() if "label_names" in keys else None
            times = _checked(archive["times"], "times", None) if "times" in keys else None
            lengths = archive["lengths"] if "lengths" in keys else None
        except ValueError as exc:  # an object array inside needs pickle: refused
            raise BadInputError("source", f"cannot read the .npz arrays ({exc})",
                                allowed="numeric and text arrays, no pickled objects") from None
    arrays = Arrays(values)
    if lengths is not None:
        if lengths.dtype.kind not in "iu" or lengths.shape != values.shape[:1]:
            raise BadInputError("lengths", f"has shape {lengths.shape} ({lengths.dtype})",
                                allowed=f"one integer per series ({values.shape[0]},)")
        arrays.lengths = lengths.astype(np.int64)
    if times is not None:
        length = values.shape[-1]
        if times.shape not in ((length,), (values.shape[0], length)):
            raise BadInputError("times", f"has shape {times.shape}",
                                allowed=f"({length},) or (series, {length})")
        finite = np.isfinite(times)
        if arrays.lengths is not None and times.ndim == 2:  # padding past a length is NaN
            finite |= np.arange(length)[None, :] >= arrays.lengths[:, None]
        if not finite.all():
            raise BadInputError("times", "holds a non-finite time", allowed="finite numbers")
        arrays.times = times
    if labels is not None and labels.dtype.kind == "U":
        labels = labels.astype(str)
    _set_labels(arrays, labels, names)
    return arrays


def _npy_values(raw: bytes, field: str, max_values: int | None) -> np.ndarray:
    try:
        buf = io.BytesIO(raw)
        version = np.lib.format.read_magic(buf)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(buf)  # the header alone: limits before the data
    except (ValueError, OSError) as exc:
        raise BadInputError(field, f"is not a readable .npy file ({exc})",
                            allowed="a NumPy .npy array of numbers, no pickled objects") from None
    if max_values is not None and int(np.prod(shape)) > max_values:
        raise LimitExceededError("values in the upload", int(np.prod(shape)), max_values,
                                 LIMIT_SETTING)
    if dtype.kind not in "fiu":
        raise BadInputError(field, f"holds {dtype} values",
                            allowed="a numeric .npy array (float or integer; no booleans, "
                            "no pickled objects)")
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BadInputError(field, f"is not a readable .npy file ({exc})") from None
    with np.errstate(invalid="ignore"):  # a signalling NaN is a missing point like any NaN
        return array.astype(np.float64, copy=False)


def _checked(array: np.ndarray, name: str, max_values: int | None) -> np.ndarray:
    if max_values is not None and array.size > max_values:
        raise LimitExceededError("values in the upload", int(array.size), max_values,
                                 LIMIT_SETTING)
    if array.dtype.kind not in "fiu":
        raise BadInputError(name, f"holds {array.dtype} values",
                            allowed="numbers (float or integer; no booleans)")
    with np.errstate(invalid="ignore"):  # a signalling NaN is a missing point like any NaN
        return array.astype(np.float64, copy=False)
