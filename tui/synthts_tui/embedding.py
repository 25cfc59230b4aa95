"""2-D PCA of real vs synthetic series, for the Evaluate page's terminal scatter plot.

The API's evaluation report carries metrics, not points; the page fetches both sets through
the API and projects them here (the evaluation service's NumPy SVD).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pca_2d(real: Sequence[Sequence[Sequence[float]]], synthetic: Sequence[Sequence[Sequence[float]]]
           ) -> tuple[list[list[float]], list[list[float]]]:
    """Fit PCA on both sets together (each series flattened over channels and time) and
    return the 2-D points of each set: the evaluation service's projection, as lists."""
    from synthts_core.services.evaluation import pca_2d as project

    a, b = project(np.asarray(real, dtype=np.float64), np.asarray(synthetic, dtype=np.float64))
    return a.tolist(), b.tolist()
