"""Dataset service: what the CLI, API and TUI call to list, read, change and export datasets.

Thin over the storage backend on purpose: the backend owns atomicity and checksums; this layer
adds argument checks that do not depend on the backend and the export formats.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

import numpy as np

from synthts_core.domain import Dataset, DatasetMeta, DatasetQuery, Page, check_name
from synthts_core.errors import BadInputError
from synthts_core.services.units import Units, affine, check_units

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

ExportFormat = Literal["csv", "parquet", "npy", "npz", "ts"]
ExportLayout = Literal["long", "wide"]
EXPORT_FORMATS = ("csv", "parquet", "npy", "npz", "ts")
EXPORT_LAYOUTS = ("long", "wide")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet",
               "npy": "application/octet-stream", "npz": "application/x-npz",
               "ts": "text/x-ts"}


def store(rt: Runtime, dataset: Dataset) -> DatasetMeta:
    """Save a dataset atomically; a taken name raises ``ConflictError``."""
    return rt.storage.create_dataset(dataset)


def list_datasets(rt: Runtime, query: DatasetQuery | None = None) -> Page:
    return rt.storage.list_datasets(query or DatasetQuery())


def get_meta(rt: Runtime, name: str) -> DatasetMeta:
    return rt.storage.get_dataset_meta(name)


def read(rt: Runtime, name: str, *, series: slice | list[int] | None = None,
         labels: list[int] | list[str] | None = None,
         channels: list[int] | None = None) -> Dataset:
    """Values checked against their checksum; ``labels`` may be indices or label names."""
    return rt.storage.read_dataset(name, series=series, labels=labels, channels=channels)


def rename(rt: Runtime, name: str, new_name: str) -> DatasetMeta:
    check_name(new_name, "new_name")
    return rt.storage.update_dataset(name, new_name=new_name)


def tag(rt: Runtime, name: str, tags: list[str], *, description: str | None = None) -> DatasetMeta:
    """Replace the tags (and optionally the description) of a dataset."""
    for t in tags:
        check_name(t, "tags")
    return rt.storage.update_dataset(name, tags=list(tags), description=description)


def delete(rt: Runtime, name: str) -> None:
    rt.storage.delete_dataset(name)


def export(rt: Runtime, name: str, fmt: ExportFormat, *, layout: ExportLayout = "long",
           series: slice | list[int] | None = None,
           labels: list[int] | list[str] | None = None, units: Units = "real") -> bytes:
    """A stored dataset as a file, in real units unless ``units="normalised"``."""
    check_export(fmt, layout)
    check_units(units)
    return export_bytes(read(rt, name, series=series, labels=labels), fmt, layout=layout,
                        units=units)


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
    imports back (``synthts import`` recognises the tables it writes) to the same dataset."""
    check_export(fmt, layout)
    values = _values_in(ds, units)
    if fmt in ("npy", "npz"):
        buf = io.BytesIO()
        if fmt == "npy":
            np.save(buf, values.astype(np.float32), allow_pickle=False)
        else:
            arrays: dict[str, np.ndarray] = {"values": values}
            if ds.labels is not None:
                arrays["labels"] = ds.labels
                arrays["label_names"] = np.asarray(ds.meta.label_names, dtype=str)
            arrays["times"] = ds.time_grid()
            np.savez_compressed(buf, allow_pickle=False, **arrays)
        return buf.getvalue()
    if fmt == "ts":
        from synthts_core.services.importing.tsformat import write_ts

        names = list(ds.meta.label_names)
        texts = None if ds.labels is None else [names[i] for i in ds.labels.tolist()]
        return write_ts(values, texts, names, ds.meta.name)
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
    """float64 values in ``units`` (real units are not rounded to float32 on the way out)."""
    if check_units(units) == "normalised":
        return ds.values.astype(np.float64)
    ab = affine(ds.meta.normalisation, ds.values.shape[1])
    if ab is None:
        return ds.values.astype(np.float64)
    offset, scale = ab
    return ds.values.astype(np.float64) * scale + offset


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
        return pa.table({
            "series": series_ix,
            "label": pa.array(label[series_ix], type=pa.string()),
            "channel": np.broadcast_to(np.arange(c)[None, :, None], shape).ravel(),
            "time": time_col,
            "value": values.ravel(),
        })
    rows = np.repeat(np.arange(n), c)
    columns: dict[str, object] = {
        "series": rows,
        "label": pa.array(label[rows], type=pa.string()),
        "channel": np.tile(np.arange(c), n),
    }
    flat = values.reshape(n * c, length)
    if times.ndim == 2:
        per_row = np.repeat(times, c, axis=0)
        columns.update({f"v{j}": flat[:, j] for j in range(length)})
        columns.update({f"t{j}": per_row[:, j] for j in range(length)})
    else:
        columns.update({repr(float(t)): flat[:, j] for j, t in enumerate(times)})
    return pa.table(columns)
