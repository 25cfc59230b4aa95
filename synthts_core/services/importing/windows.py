"""Windows cut from series: never across two recordings or labels (the layouts cut long
tables themselves), and from a series of its own length only (never from padding)."""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.importing.readers import LIMIT_SETTING, Arrays


def cut_windows(a: Arrays, window: int, stride: int | None, max_values: int | None) -> Arrays:
    n, c, length = a.values.shape
    stride = window if stride is None else stride
    if a.lengths is not None:
        return ragged_windows(a, window, stride, max_values)
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


def ragged_windows(a: Arrays, window: int, stride: int, max_values: int | None) -> Arrays:
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
