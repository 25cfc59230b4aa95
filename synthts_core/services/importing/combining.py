"""Several files that make one dataset: wide tables, one per channel (``stack_channels``), or
array and ``.ts`` files whose series are appended (``stack_series``; a UCR/UEA archive's TRAIN
and TEST files, held-out files after the training ones)."""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.services.importing.readers import Arrays


def stack_channels(parts: list[Arrays], layout: str) -> Arrays:
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


def stack_series(parts: list[Arrays]) -> Arrays:
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


def files_note(many: list, layout: str) -> str:
    what = "series appended" if layout == "array" else "one per channel"
    return f"{len(many)} files, {what}"
