"""The last steps before a dataset is built: labels as indices in one order (declared, else
natural) and the time points as a regular axis or per-series times."""

from __future__ import annotations

import numpy as np

from synthts_core.domain import TimeAxis
from synthts_core.errors import BadInputError
from synthts_core.services.importing.layouts import label_text, natural_order
from synthts_core.services.importing.readers import Arrays


def encode_labels(a: Arrays) -> tuple[np.ndarray | None, list[str] | None]:
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


def time_grid(times: np.ndarray | None, shape: tuple[int, ...],
              lengths: np.ndarray | None = None) -> tuple[np.ndarray | None, TimeAxis]:
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
