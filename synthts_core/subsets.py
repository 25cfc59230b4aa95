"""Which series: the one way rows are matched to a model's labels, picked per label and
subsampled, shared by evaluation, the figures, the API's real-beside-synthetic plots and the
metrics plugin's bounded subsampling. NumPy only: a leaf of the core, so plugins and front ends
use it without the services."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def label_map(names: Sequence[str], to: Sequence[str]) -> np.ndarray:
    """Index in ``to`` of each label of ``names`` (-1 where ``to`` lacks it): maps a dataset's
    label indices onto a model's (``label_map(meta.label_names, model.label_names)[labels]``)."""
    to = list(to)
    return np.array([to.index(n) if n in to else -1 for n in names], dtype=np.int64)


def first_per_label(labels: np.ndarray, wanted: Sequence[int] | np.ndarray,
                    per_label: int | None) -> np.ndarray:
    """Sorted row indices: the first ``per_label`` rows (all when None) of each label index in
    ``wanted``."""
    labels = np.asarray(labels)
    parts = [np.flatnonzero(labels == k)[:per_label] for k in wanted]
    return np.sort(np.concatenate(parts)) if parts else np.arange(0)


def subsample_index(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``cap`` of ``n`` rows, drawn without replacement with
    ``rng`` (all rows, in order, when ``n <= cap``)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))
