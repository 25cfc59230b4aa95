"""Series of unequal lengths: stored padded to the longest (NaN past each series' end, with
``Dataset.lengths``), learnt like missing points (a family with ``supports_missing`` masks the
padding), generated at the longest length and cut.

How long each generated series is follows TimeGAN's recipe (Yoon et al., NeurIPS 2019: the
generated sequence is cut at a length drawn from the training lengths): a model records the
lengths it saw per class (``fit_lengths``: each distinct length with its count, so a version
holds at most one pair per length, not one number per series) and generation draws one per
series from its class's (``draw_lengths``), or cuts every series at a requested length. The
points a series keeps are those the model generated at those positions, so a short series is
the start of what the model paints, as every training series is the start of its padded row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core.domain import within_lengths

MAX_DISTINCT = 256  # distinct lengths a model keeps per class (more: that many quantiles)


def fit_lengths(lengths: np.ndarray | None, labels: np.ndarray | None, n_classes: int
                ) -> dict[str, Any] | None:
    """Per class (one row when unconditional), the distinct lengths and how many training
    series had each: ``{"by_class": [[[length, count], ...], ...]}`` (a class with more than
    ``MAX_DISTINCT`` distinct lengths keeps that many equally likely quantiles). None for equal
    lengths."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths, dtype=np.int64)
    rows = [lengths] if labels is None or n_classes <= 0 else \
        [lengths[labels == k] if (labels == k).any() else lengths for k in range(n_classes)]
    by_class = []
    for row in rows:
        if len(np.unique(row)) > MAX_DISTINCT:  # keep the config small: equal-weight quantiles
            row = np.percentile(row, np.linspace(0, 100, MAX_DISTINCT), method="nearest")
        values, counts = np.unique(row, return_counts=True)
        by_class.append([[int(v), int(c)] for v, c in zip(values, counts, strict=True)])
    return {"by_class": by_class}


def draw_lengths(pattern: Mapping[str, Any], labels: np.ndarray | None, n: int,
                 rng: np.random.Generator) -> np.ndarray:
    """A length per series drawn from its class's training lengths (``fit_lengths``)."""
    table = pattern["by_class"]
    rows = np.zeros(n, dtype=np.int64) if labels is None or len(table) == 1 else \
        np.asarray(labels, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for k in np.unique(rows):
        pairs = np.asarray(table[int(k)], dtype=np.int64).reshape(-1, 2)
        where = np.flatnonzero(rows == k)
        out[where] = rng.choice(pairs[:, 0], size=len(where), p=pairs[:, 1] / pairs[:, 1].sum())
    return out


def cut(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``values`` (n, c, L) with NaN past each series' length."""
    out = np.array(values, dtype=np.float32, copy=True)
    out[np.broadcast_to(~within_lengths(lengths, out.shape[2])[:, None, :], out.shape)] = np.nan
    return out
