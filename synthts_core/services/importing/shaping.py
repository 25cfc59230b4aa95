"""A file read (a ``Table`` or ``Arrays``) shaped into series: the layout picked (``long``,
``wide`` or the array's own), the column roles applied, and tables written by
``synthts datasets export`` recognised without naming their columns."""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.services.importing.layouts import long_layout, value_columns, wide_layout
from synthts_core.services.importing.options import ImportOptions
from synthts_core.services.importing.readers import Arrays, Table

EXPORT_LONG = ["series", "label", "channel", "time", "value"]


def roles_of(o: ImportOptions) -> dict[str, str | None]:
    return {"label_column": o.label_column, "series_column": o.series_column,
            "time_column": o.time_column, "channel_column": o.channel_column}


def shape_source(data: Table | Arrays, o: ImportOptions, fmt: str,
                 max_values: int | None) -> tuple[Arrays, str, dict[str, str | None], list[str]]:
    """(series, layout used, column roles, value columns)."""
    roles = roles_of(o)
    if isinstance(data, Arrays):
        if o.layout == "long" and fmt == "npy" and data.values.ndim == 2:  # (time, channels)
            data = Table({f"c{i}": data.values[:, i] for i in range(data.values.shape[1])})
        else:
            for option, value in {**roles, "columns": o.columns}.items():
                if value is not None:
                    raise BadInputError(option, f"applies to tables, not {fmt} series",
                                        allowed="leave it out")
            return as_series(data), "array", {}, []
    layout = o.layout
    if layout == "auto" and o.columns is None and not any(roles.values()):
        layout, roles = recognise_export(data, roles)
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


def recognise_export(table: Table,
                     roles: dict[str, str | None]) -> tuple[str, dict[str, str | None]]:
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


def as_series(data: Arrays) -> Arrays:
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
