"""2-D PCA of real vs synthetic series, for the Evaluate page's terminal scatter plot.

The API's evaluation report carries metrics, not points; the page fetches both sets through
the API and projects them here (NumPy only: an SVD of a few hundred short rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pca_2d(real: Sequence[Sequence[Sequence[float]]], synthetic: Sequence[Sequence[Sequence[float]]]
           ) -> tuple[list[list[float]], list[list[float]]]:
    """Fit PCA on both sets together (each series flattened over channels and time) and
    return the 2-D points of each set."""
    a = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
    b = np.asarray(synthetic, dtype=np.float64).reshape(len(synthetic), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real series have {a.shape[1]} values, synthetic {b.shape[1]}")
    joined = np.concatenate([a, b])
    centred = joined - joined.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:  # a single feature: pad with a zero axis
        components = np.vstack([components, np.zeros_like(components)])
    points = centred @ components.T
    return points[: len(a)].tolist(), points[len(a):].tolist()
