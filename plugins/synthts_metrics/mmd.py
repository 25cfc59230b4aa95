"""Maximum mean discrepancy with a Gaussian (RBF) kernel and the median-heuristic bandwidth.

Each series is one point in R^(channels*length). The bandwidth is the median pairwise Euclidean
distance of the pooled subsample (Gretton et al. 2012): it adapts to the scale of the data so the
value is comparable across datasets without tuning. We report the *unbiased* estimate of MMD^2
(U-statistic: the diagonal of the within-set kernel matrices is excluded), so two draws of one
process give values scattered around 0 (slightly negative values are possible and mean "no
detectable difference"); it is bounded above by 2.
"""

from __future__ import annotations

import numpy as np

from synthts_metrics._common import check_pair, subsample


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 between point sets x (n, d) and y (m, d), RBF kernel."""
    n, m = len(x), len(y)
    dxx, dyy, dxy = _sq_dists(x, x), _sq_dists(y, y), _sq_dists(x, y)
    if bandwidth is None:
        pooled = np.concatenate([dxx[np.triu_indices(n, 1)], dyy[np.triu_indices(m, 1)],
                                 dxy.ravel()])
        bandwidth = float(np.sqrt(np.median(pooled)))
    gamma = 1.0 / (2.0 * bandwidth**2) if bandwidth > 0 else 1.0
    kxx, kyy, kxy = np.exp(-gamma * dxx), np.exp(-gamma * dyy), np.exp(-gamma * dxy)
    sxx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


class MMD:
    """Kernel two-sample distance on whole series; cheap, so training uses it to rank trials."""

    name = "mmd"
    report_order = 30
    description = ("Unbiased MMD^2 between real and synthetic series with an RBF kernel whose "
                   "bandwidth is the median pairwise distance (0 = same distribution).")
    higher_is_better = False
    min_channels = 1
    # cheap enough to log every training epoch: the quality curve (and the checkpoints' tiebreak)
    per_epoch = True

    def __init__(self, max_series: int = 1000) -> None:
        self.max_series = max_series

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = check_pair(real, synthetic)
        r = subsample(r, self.max_series, rng).reshape(-1, r.shape[1] * r.shape[2])
        s = subsample(s, self.max_series, rng).reshape(-1, s.shape[1] * s.shape[2])
        return mmd2_unbiased(r, s)
