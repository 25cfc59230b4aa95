"""Tables -> whole series, in the two layouts real data comes in.

``long``: one row per time point (a column per channel, or a channel column and one value
column), optional series-id and time columns. Rows are grouped by series id and sorted by
time; a window never spans two recordings or two labels, and runs shorter than the window are
dropped and counted. Without a window, each run is one series: runs of different lengths are
series of different lengths (stored padded, with their lengths).

``wide``: one row per series (UCR/UEA style), the value columns are the time points; for
several channels, a channel column (one row per series and channel) or one file per channel.
Trailing empty cells of a row make a shorter series (the UCR convention for unequal lengths);
an empty cell before the row's last number is a missing point.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.importing.readers import LIMIT_SETTING, Arrays, Table

# numeric columns with these names are ids, times or labels far more often than channels
SUSPECT_NAMES = {"id", "series", "series_id", "seriesid", "sample", "sample_id", "time", "t",
                 "timestamp", "date", "datetime", "index", "idx", "channel", "dim",
                 "dimension", "label", "class", "target", "y", "unnamed: 0", "", "step"}
ROLE_OPTIONS = {"label_column": "--label-column", "series_column": "--series-column",
                "time_column": "--time-column", "channel_column": "--channel-column"}


def label_text(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def natural_order(names: Any) -> list[str]:
    """Unique names in natural order: numbers numerically ("2" before "10"), then text
    alphabetically. The one label order of every import path (CLI and API)."""
    def key(name: str) -> tuple[int, float, str]:
        try:
            number = float(name)
        except ValueError:
            return (1, 0.0, name)
        return (0, number, name) if np.isfinite(number) else (1, 0.0, name)

    return sorted(dict.fromkeys(str(n) for n in names), key=key)


def codes(column: np.ndarray, field: str, *, natural: bool = False) -> tuple[np.ndarray, list[str]]:
    """Integer code per row and the names: first-appearance order, or natural order."""
    texts = np.asarray([label_text(v) for v in column], dtype=object)
    for i, v in enumerate(column):
        if _empty(v):
            raise BadInputError(field, f"row {i} is empty", allowed="a value in every row")
    names = natural_order(texts) if natural else list(dict.fromkeys(texts.tolist()))
    lookup = {n: i for i, n in enumerate(names)}
    return np.fromiter((lookup[t] for t in texts), np.int64, len(texts)), names


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def value_columns(table: Table, roles: dict[str, str | None],
                  columns: list[str] | None) -> tuple[list[str], list[str]]:
    """(value columns, ignored text columns). Role columns never become channels; a numeric
    column named like an id, time or label is refused unless it is listed or given a role."""
    taken = {c for c in roles.values() if c}
    for option, col in roles.items():
        if col is not None and col not in table.columns:
            raise BadInputError(option, f"{col!r} is not a column",
                                allowed=", ".join(table.columns) or "no columns")
    if columns is not None:
        if not columns:
            raise BadInputError("columns", "is empty", allowed="at least one column")
        for col in columns:
            if col not in table.columns:
                raise BadInputError("columns", f"{col!r} is not a column",
                                    allowed=", ".join(table.columns))
            if col in taken:
                raise BadInputError("columns", f"{col!r} is the "
                                    f"{next(k for k, v in roles.items() if v == col)}",
                                    allowed="value columns only")
            if table.columns[col].dtype == object:
                raise BadInputError("columns", f"{col!r} is not numeric",
                                    allowed="numeric columns")
        return list(columns), []
    rest = [c for c in table.columns if c not in taken]
    numeric = [c for c in rest if table.columns[c].dtype != object]
    ignored = [c for c in rest if table.columns[c].dtype == object]
    for col in ignored:  # a wide table's time column with a stray word: never dropped quietly
        stray = next(((i, v) for i, v in enumerate(table.columns[col])
                      if isinstance(v, str) and _number(v) is None), None)
        if _number(col) is not None and stray is not None:
            row, token = stray
            raise BadInputError("values", f"column {col!r} (a time step) holds {token!r} at "
                                f"row {row}", allowed="numbers, or an empty cell, NaN or NA "
                                "for a missing point")
    suspect = [c for c in numeric if c.strip().lower() in SUSPECT_NAMES]
    if suspect:
        raise BadInputError("columns", f"{suspect[0]!r} looks like an id, time or label "
                            "column and would become a channel",
                            allowed=f"give it a role ({', '.join(ROLE_OPTIONS.values())}) or "
                            "list the value columns with --columns")
    if not numeric:
        raise BadInputError("columns", "the table has no numeric value column",
                            allowed="a table with at least one numeric column")
    return numeric, ignored


def _values(table: Table, cols: list[str], what: str = "columns") -> np.ndarray:
    """The value columns (cols, rows) as float64: an empty cell (NaN, NA) is a missing point,
    kept as NaN; an infinity is refused naming its column and row."""
    data = np.stack([table.columns[c] for c in cols])  # (cols, rows)
    bad = np.isinf(data)
    if bad.any():
        col, row = np.argwhere(bad)[0]
        raise BadInputError(what, f"{cols[col]!r} has an infinite value at row {row}",
                            allowed="finite numbers, or an empty cell (NaN, NA) for a missing "
                            "point")
    return data


def _empty(value: Any) -> bool:
    """A cell with nothing in it: null, NaN or blank text."""
    return value is None or (isinstance(value, float) and np.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def _row_labels(table: Table, label_column: str | None) -> np.ndarray | None:
    if label_column is None:
        return None
    col = table.columns[label_column]
    for i, v in enumerate(col):
        if _empty(v):
            raise BadInputError("label_column", f"{label_column!r} is empty at row {i}",
                                allowed="a label in every row (labels may not be missing)")
    return np.asarray([label_text(v) for v in col], dtype=object)


# ------------------------------------------------------------------------------------ long


def long_layout(table: Table, roles: dict[str, str | None], cols: list[str],
                window: int | None, stride: int | None, max_values: int | None) -> Arrays:
    n = table.n_rows
    if n == 0:
        raise BadInputError("source", "the table has no rows", allowed="at least one row")
    sid = (codes(table.columns[roles["series_column"]], "series_column", natural=True)[0]
           if roles.get("series_column") else np.zeros(n, np.int64))
    times = None
    if roles.get("time_column"):
        times = table.columns[roles["time_column"]]
        if times.dtype == object or not np.isfinite(times).all():
            raise BadInputError("time_column", f"{roles['time_column']!r} is not numbers in "
                                "every row", allowed="numeric times (convert dates to seconds)")
    labels = _row_labels(table, roles.get("label_column"))
    position = times if times is not None else np.arange(n, dtype=np.float64)
    if roles.get("channel_column"):
        data, labels, times, sid = _pivot(table, roles, cols, sid, labels, times, position)
    else:
        order = np.lexsort((position, sid))
        data = _values(table, cols)[:, order]
        sid, labels = sid[order], None if labels is None else labels[order]
        times = None if times is None else times[order]
        if times is not None and ((np.diff(times) == 0) & (sid[1:] == sid[:-1])).any():
            raise BadInputError("time_column", "a time repeats within one series",
                                allowed="one row per time point (give --series-column "
                                "or --channel-column when rows repeat a time)")
    change = sid[1:] != sid[:-1]
    if labels is not None:
        change |= labels[1:] != labels[:-1]
    bounds = np.concatenate(([0], np.flatnonzero(change) + 1, [data.shape[1]]))
    lo, lengths = bounds[:-1], np.diff(bounds)
    out = Arrays(np.empty((0, data.shape[0], 0)), windowed=True)
    if window is None:
        if (lengths != lengths[0]).any():  # one series per run, padded to the longest
            return _ragged_runs(data, lo, lengths, labels, times, out)
        window, stride, starts = int(lengths[0]), int(lengths[0]), lo
    else:
        stride = window if stride is None else stride
        if lengths.max() < window:
            raise BadInputError("window", f"{window} is longer than every series (runs of "
                                f"one recording and label are at most {lengths.max()} rows)",
                                allowed=f"at most {lengths.max()}, or --layout wide if each "
                                "row is one series")
        per_run = np.where(lengths >= window, (lengths - window) // stride + 1, 0)
        total = int(per_run.sum())
        if max_values is not None and total * data.shape[0] * window > max_values:
            raise LimitExceededError("windows x channels x window", total * data.shape[0]
                                     * window, max_values, LIMIT_SETTING)
        first = np.repeat(np.cumsum(per_run) - per_run, per_run)
        starts = np.repeat(lo, per_run) + stride * (np.arange(total) - first)
        short = lengths < window
        if short.any():
            out.dropped.append((f"{int(short.sum())} run(s) of one recording and label shorter "
                                f"than the window ({window})", int(lengths[short].sum())))
        covered = np.where(per_run > 0, (per_run - 1) * stride + window, 0)
        tail = int((lengths - covered)[~short].sum())
        if tail:
            out.dropped.append((f"rows after the last full window of a run (stride {stride})",
                                tail))
    idx = starts[:, None] + np.arange(window)
    out.values = np.ascontiguousarray(data[:, idx].transpose(1, 0, 2))
    out.labels = None if labels is None else labels[starts]
    if times is not None:
        out.times = _time_axis(times[idx])
    return out


def _ragged_runs(data: np.ndarray, lo: np.ndarray, lengths: np.ndarray,
                 labels: np.ndarray | None, times: np.ndarray | None, out: Arrays) -> Arrays:
    """Runs of different lengths as whole series: values (and times) NaN past each run's
    length, ``lengths`` beside them."""
    own = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
    idx = np.where(own, lo[:, None] + np.arange(own.shape[1]), 0)
    values = np.ascontiguousarray(data[:, idx].transpose(1, 0, 2))
    values[np.broadcast_to(~own[:, None, :], values.shape)] = np.nan
    out.values, out.lengths = values, lengths.astype(np.int64)
    out.labels = None if labels is None else labels[lo]
    if times is not None:
        out.times = _time_axis(np.where(own, times[idx], np.nan), out.lengths)
    return out


def _pivot(table: Table, roles: dict[str, Any], cols: list[str], sid: np.ndarray,
           labels: np.ndarray | None, times: np.ndarray | None, position: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Channel column + one value column -> (channels, points) per series."""
    if len(cols) != 1:
        raise BadInputError("columns", f"{len(cols)} value columns with --channel-column",
                            allowed="exactly one value column (e.g. --columns value)")
    ch, names = codes(table.columns[roles["channel_column"]], "channel_column", natural=True)
    value = _values(table, cols)[0]
    order = np.lexsort((position, ch, sid))
    sid_sorted = sid[order]
    bounds = np.concatenate(([0], np.flatnonzero(sid_sorted[1:] != sid_sorted[:-1]) + 1,
                             [len(order)]))
    k = len(names)
    blocks_v, blocks_l, blocks_t, blocks_s = [], [], [], []
    for s, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        block = order[lo:hi]
        counts = np.bincount(ch[block], minlength=k)
        if (counts != counts[0]).any():
            raise BadInputError("channel_column", f"series #{s} has {counts.tolist()} rows "
                                f"for channels {names}", allowed="the same points in every "
                                "channel of a series")
        length = int(counts[0])
        blocks_v.append(value[block].reshape(k, length))
        if labels is not None:
            lab = labels[block].reshape(k, length)
            if (lab != lab[:1]).any():
                raise BadInputError("label_column", f"series #{s}: channels disagree on the "
                                    "label", allowed="one label per point for every channel")
            blocks_l.append(lab[0])
        if times is not None:
            t = times[block].reshape(k, length)
            if (t != t[:1]).any():
                raise BadInputError("time_column", f"series #{s}: channels have different "
                                    "times", allowed="the same times in every channel")
            if (np.diff(t[0]) == 0).any():
                raise BadInputError("time_column", f"series #{s} repeats a time",
                                    allowed="one row per series, channel and time")
            blocks_t.append(t[0])
        blocks_s.append(np.full(length, s))
    return (np.concatenate(blocks_v, axis=1),
            None if labels is None else np.concatenate(blocks_l),
            None if times is None else np.concatenate(blocks_t), np.concatenate(blocks_s))


def _time_axis(times: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Per-window times: shared (length,) when every window has the same times, else kept
    per series (series, length). Series of different ``lengths`` (times NaN past them) share
    the longest one's times when each has a start of them."""
    if lengths is not None:
        ref = times[int(np.argmax(lengths))]
        pad = np.arange(times.shape[1])[None, :] >= lengths[:, None]
        if ((times == ref) | pad).all():
            return ref
        relative, ref_relative = times - times[:, :1], ref - ref[0]
        if (np.isclose(relative, ref_relative, rtol=1e-9, atol=0) | pad).all():
            return ref_relative
        return times
    if (times == times[:1]).all():
        return times[0]
    relative = times - times[:, :1]
    if np.allclose(relative, relative[:1], rtol=1e-9, atol=0):
        return relative[0]  # equally spaced windows of one clock: times from the window start
    return times


# ------------------------------------------------------------------------------------ wide


def wide_layout(table: Table, roles: dict[str, str | None], cols: list[str]) -> Arrays:
    if table.n_rows == 0:
        raise BadInputError("source", "the table has no rows", allowed="at least one row")
    if len(cols) < 2:
        raise BadInputError("layout", f"wide rows hold {len(cols)} value column",
                            allowed="--layout long (give --window) when each row is one time "
                            "point")
    rows = _values(table, cols).T  # (rows, length)
    labels = _row_labels(table, roles.get("label_column"))
    n = len(rows)
    if roles.get("channel_column"):
        ch, names = codes(table.columns[roles["channel_column"]], "channel_column", natural=True)
        k = len(names)
        if roles.get("series_column"):
            sid = codes(table.columns[roles["series_column"]], "series_column", natural=True)[0]
        else:  # consecutive blocks of one row per channel
            if n % k:
                raise BadInputError("channel_column", f"{n} rows are not blocks of {k} "
                                    "channels", allowed="one row per series and channel, "
                                    "or --series-column")
            sid = np.repeat(np.arange(n // k), k)
        order = np.lexsort((ch, sid))
        grid = ch[order].reshape(-1, k) if n % k == 0 else None
        if grid is None or (grid != np.arange(k)).any() or \
                (sid[order].reshape(-1, k) != sid[order].reshape(-1, k)[:, :1]).any():
            raise BadInputError("channel_column", f"every series needs exactly one row per "
                                f"channel ({', '.join(names)})", allowed="one row per series "
                                "and channel")
        values = rows[order].reshape(-1, k, rows.shape[1])
        given = None if table.lengths is None else table.lengths[order].reshape(-1, k)[:, 0]
        if labels is not None:
            lab = labels[order].reshape(-1, k)
            if (lab != lab[:, :1]).any():
                raise BadInputError("label_column", "the channels of a series disagree on the "
                                    "label", allowed="one label per series")
            labels = lab[:, 0]
    else:
        given = table.lengths
        if roles.get("series_column"):
            sid = codes(table.columns[roles["series_column"]], "series_column", natural=True)[0]
            if len(np.unique(sid)) != n:
                raise BadInputError("series_column", "an id appears on several rows",
                                    allowed="one row per series (or --channel-column for one "
                                    "row per series and channel)")
        values = rows[:, None, :]
    out = Arrays(np.ascontiguousarray(values), labels=labels)
    out.times = _header_times(cols)
    if given is None:
        out.lengths = _trailing_lengths(out.values)
    elif (given < 1).any() or (given > values.shape[2]).any():
        raise BadInputError("lengths", "the length column holds "
                            f"{int(given[(given < 1) | (given > values.shape[2])][0])}",
                            allowed=f"1..{values.shape[2]} (the value columns)")
    else:
        out.lengths = None if (given == values.shape[2]).all() else given
    return out


def _trailing_lengths(values: np.ndarray) -> np.ndarray | None:
    """Each series' points up to its last number in any channel (trailing empty cells are
    not part of it: a shorter series); None when every series reaches the last column."""
    seen = ~np.isnan(values).all(axis=1)  # (series, length): a number in some channel
    lengths = values.shape[2] - np.argmax(seen[:, ::-1], axis=1)
    lengths[~seen.any(axis=1)] = 0  # no number at all: refused later, naming the series
    return None if (lengths == values.shape[2]).all() else lengths.astype(np.int64)


def _header_times(cols: list[str]) -> np.ndarray | None:
    """Times from column names when every name is a number and they increase."""
    try:
        times = np.asarray([float(c) for c in cols])
    except ValueError:
        return None
    return times if (np.diff(times) > 0).all() else None
