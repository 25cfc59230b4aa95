"""2-D points of real and synthetic series for figures: PCA (NumPy only) and t-SNE
(scikit-learn, imported only when asked for). Pure functions on arrays, a leaf of the core: the
evaluation report, the training report, the API and the TUI (which projects what the API sent
when a report carries no points) all draw the same projection."""

from __future__ import annotations

from typing import Literal

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.missing import comparable
from synthts_core.subsets import subsample_index

MAX_EMBED_POINTS = 5000


def pca_2d(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA fitted on both sets together (each series flattened over channels and time): the
    2-D points of each set. NumPy only: an SVD of the centred rows."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise BadInputError("synthetic", f"series have {b.shape[1]} values",
                            allowed=f"the real series' {a.shape[1]}")
    joined = np.concatenate([a, b])
    centred = joined - joined.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:  # a single feature: pad with a zero axis
        components = np.vstack([components, np.zeros_like(components)])
    points = centred @ components.T
    return points[: len(a)], points[len(a):]


def embeddings(real: np.ndarray, synthetic: np.ndarray,
               method: Literal["pca", "tsne"] = "pca", max_points: int = 1000,
               seed: int = 0, real_labels: np.ndarray | None = None,
               synthetic_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D points for real and synthetic series (each flattened), fitted on both together.

    At most ``max_points`` series per set (bounded by 5000) are embedded; t-SNE is slow, keep it
    at a few thousand points in all. Missing points are filled as ``missing.comparable``
    does for the metrics (gaps taken from a real series of the same class when both sets'
    labels are given)."""
    if method not in ("pca", "tsne"):
        raise BadInputError("method", f"got {method!r}", allowed="pca, tsne")
    if not 2 <= int(max_points) <= MAX_EMBED_POINTS:
        raise BadInputError("max_points", f"got {max_points!r}",
                            allowed=f"2..{MAX_EMBED_POINTS}")
    rng = np.random.default_rng(seed)
    sets = []
    for arr in comparable(real, synthetic, rng, real_labels, synthetic_labels):
        a = np.asarray(arr, dtype=np.float64)
        a = a[subsample_index(len(a), max_points, rng)]
        sets.append(a.reshape(len(a), -1))
    if method == "pca":
        return pca_2d(sets[0], sets[1])
    from sklearn.manifold import TSNE

    joined = np.concatenate(sets)
    perplexity = float(min(30, max(2, (len(joined) - 1) // 3)))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca",
                  random_state=seed).fit_transform(joined)
    return points[: len(sets[0])], points[len(sets[0]):]
