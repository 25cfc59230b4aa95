"""The seed project's feature cosine similarity, kept so our numbers compare with its published
per-class values (0.978-0.989 for its C-GAN on ten harmonic classes).

As in the seed: each series gets seven features (median, mean, standard deviation (n-1),
variance (n-1), RMS, max, min); each set's feature matrix is min-max scaled as a whole into
[-1, 0]; the i-th real and i-th synthetic feature vectors are compared by cosine similarity and
the similarities averaged. The seed paired rows by position in class-ordered sets, i.e. at
random within a class; we pair after a random permutation drawn from ``rng``. With several
channels the per-channel features are concatenated (7 * channels values). At most ``max_series``
pairs (default 2000) are used. Higher is better; 1 means identical scaled features.
"""

from __future__ import annotations

import numpy as np

from synthts_metrics._common import check_pair, subsample


def series_features(x: np.ndarray) -> np.ndarray:
    """(n, c, L) -> (n, 7 * c): median, mean, std, var, rms, max, min per channel."""
    ddof = 1 if x.shape[2] > 1 else 0
    feats = [np.median(x, axis=2), x.mean(axis=2), x.std(axis=2, ddof=ddof),
             x.var(axis=2, ddof=ddof), np.sqrt((x**2).mean(axis=2)), x.max(axis=2), x.min(axis=2)]
    return np.stack(feats, axis=2).reshape(x.shape[0], -1)


def _scale_to_lower_half(f: np.ndarray) -> np.ndarray:
    lo, hi = f.min(), f.max()
    if hi <= lo:
        return np.full_like(f, -0.5)
    return (f - lo) / (hi - lo) - 1.0


class FeatureCosineSimilarity:
    name = "feature_cosine"
    report_order = 40
    description = ("The seed's metric: mean cosine similarity between paired real and synthetic "
                   "feature vectors (median, mean, std, var, RMS, max, min), each set scaled to "
                   "[-1, 0]; 1 = identical, higher is better.")
    higher_is_better = True
    min_channels = 1

    def __init__(self, max_series: int = 2000) -> None:
        self.max_series = max_series

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = check_pair(real, synthetic, min_series=1)
        n = min(len(r), len(s), self.max_series)
        r, s = subsample(r, n, rng), subsample(s, n, rng)
        s = s[rng.permutation(n)]
        a = _scale_to_lower_half(series_features(r))
        b = _scale_to_lower_half(series_features(s))
        num = (a * b).sum(axis=1)
        den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos = np.divide(num, den, out=np.ones_like(num), where=den > 1e-12)
        return float(cos.mean())
