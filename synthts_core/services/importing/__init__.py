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

from pathlib import Path

import numpy as np

from synthts_core.domain import Dataset, HoldoutSplit
from synthts_core.errors import BadInputError
from synthts_core.services.holdout import stratified_holdout
from synthts_core.services.importing.combining import files_note, stack_channels, stack_series
from synthts_core.services.importing.encoding import encode_labels, time_grid
from synthts_core.services.importing.normalising import fit_normalisation, imported_values
from synthts_core.services.importing.options import (
    DEFAULT_NORMALISATION,
    FORMATS,
    ImportOptions,
    check_options,
)
from synthts_core.services.importing.readers import (
    Arrays,
    detect_format,
    read,
    read_bytes,
)
from synthts_core.services.importing.report import Dropped, ImportReport, ImportResult
from synthts_core.services.importing.shaping import shape_source
from synthts_core.services.importing.windows import cut_windows
from synthts_core.storage_support import check_holdout

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportReport",
    "ImportResult",
    "import_data",
    "import_table",
]


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
    check_options(options)
    if sum([bool(holdout_sources), options.holdout is not None,
            options.holdout_from is not None]) > 1:
        raise BadInputError("holdout", "is given more than one way",
                            allowed="held-out files, a fraction or holdout_from, one of them")
    fmt = detect_format(many[0], options.format)
    arrays, layout, roles, cols = _read_group(many, options, fmt, max_values)
    n_train = len(arrays.values)
    if holdout_sources:
        held = _read_group(list(holdout_sources), options, fmt, max_values)[0]
        arrays = stack_series([arrays, held])
    labels, names = encode_labels(arrays)
    values = imported_values(arrays.values, "window" if options.window else "series")
    norm = fit_normalisation(values, options.normalise)
    times, axis = time_grid(arrays.times, values.shape, arrays.lengths)
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
        notes=list(arrays.notes) + ([files_note(many, layout)] if len(many) > 1 else []),
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
    parts = [shape_source(read(read_bytes(s), fmt, max_values=max_values), options, fmt, max_values)
             for s in many]
    layout, roles, cols = parts[0][1:]
    if len(parts) == 1:
        arrays = parts[0][0]
    elif layout == "array":
        arrays = stack_series([p[0] for p in parts])
    else:
        arrays = stack_channels([p[0] for p in parts], layout)
    if not arrays.windowed and options.window is not None:
        arrays = cut_windows(arrays, options.window, options.stride, max_values)
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
