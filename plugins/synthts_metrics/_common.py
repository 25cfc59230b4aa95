"""Shared helpers: input checks and bounded subsampling.

Every metric works on float32 arrays (n, channels, length). Large sets are subsampled to a fixed
number of series (drawn with the caller's ``rng``) so one metric stays fast on a CPU whatever the
dataset size; the bound of each metric is stated in docs/metrics.md.
"""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.subsets import subsample_index


def check_pair(real: np.ndarray, synthetic: np.ndarray, *, min_series: int = 2,
               min_channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Both sets as float64 (n, c, L) with matching channels and length, finite values."""
    out = []
    for field, arr in (("real", real), ("synthetic", synthetic)):
        a = np.asarray(arr)
        if a.ndim != 3:
            raise BadInputError(field, f"has shape {a.shape}",
                                allowed="3 dimensions (series, channels, length)")
        if a.shape[0] < min_series:
            raise BadInputError(field, f"has {a.shape[0]} series", allowed=f">= {min_series}")
        if a.shape[1] < min_channels:
            raise BadInputError(field, f"has {a.shape[1]} channels", allowed=f">= {min_channels}")
        if not np.isfinite(a).all():
            raise BadInputError(field, "contains NaN or infinite values", allowed="finite numbers")
        out.append(a.astype(np.float64, copy=False))
    if out[0].shape[1:] != out[1].shape[1:]:
        raise BadInputError("synthetic", f"has (channels, length) {out[1].shape[1:]}",
                            allowed=f"the real set's {out[0].shape[1:]}")
    return out[0], out[1]


def subsample(x: np.ndarray, max_series: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_series`` series, drawn without replacement (order kept for determinism)."""
    if x.shape[0] <= max_series:
        return x
    return x[subsample_index(x.shape[0], max_series, rng)]


def time_shuffled(x: np.ndarray, rng: np.random.Generator, time_axis: int = 2) -> np.ndarray:
    """Every series with its time points in a random order of its own (the same order for all
    its channels): the positive control of the classifier metrics. ``x`` is (n, c, L) with
    ``time_axis=2`` or (n, L, c) with ``time_axis=1``."""
    length = x.shape[time_axis]
    order = np.argsort(rng.random((x.shape[0], length)), axis=1)
    index = order[:, None, :] if time_axis == 2 else order[:, :, None]
    return np.take_along_axis(x, np.broadcast_to(index, x.shape), axis=time_axis)
