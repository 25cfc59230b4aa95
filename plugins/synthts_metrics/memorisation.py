"""The memorisation guard: do synthetic series sit closer to the training series than real
series the model never saw do?

A model that hands back (lightly jittered) training series can fool every distributional test,
the detector included: its output *is* real data. What gives it away is distance to the
training set. Per series, the guard measures the distance to the closest training series (DCR)
and divides it by the distance to the second closest: the nearest-neighbour distance ratio
(NNDR). A copy of a training series is very close to one training series and as far as any
real series from the rest (ratio near 0); a new series, real or synthetic, is about as far from
its nearest as from its second nearest (ratio near 1). The ratio, not the raw DCR, because a
model that is merely *under-dispersed* (smoother or less noisy than the data) sits closer to
every training series at once without copying any: raw DCR calls that memorisation, the ratio
does not (docs/metrics.md has the measurements).

The unseen real series (``holdout``) are measured the same way against the same training
series. Given the training set, the synthetic and unseen series of a model that copies nothing
are exchangeable, so two rank tests give exact p-values: a one-sided Mann-Whitney U test
(are the synthetic ratios smaller overall? a model that copies most of the time) and a tail
test (how many synthetic ratios lie below every unseen one? under exchangeability at least k of
n_s do with probability prod_{i<k} (n_s - i) / (n_s + n_h - i): a model that copies now and
then, which a rank sum dilutes), the smaller p-value doubled (Bonferroni over the two). The
same is done on the raw DCR, and the value is the larger of the two p-values (an
intersection-union test: a class fails only when its synthetic series are closer both in raw
distance and in the ratio). The ratio alone would flag a poor model whose series all lie far
outside the data in one direction (their nearest training series is the same extreme one, a
little nearer than the rest); the DCR alone would flag an under-dispersed one. Higher is
better; the evaluation fails a class whose value is below ``alpha`` divided by the number of
classes judged (so a model that copies nothing fails any class with at most ``alpha`` chance).
No unseen series, or too few: inconclusive.
"""

from __future__ import annotations

import numpy as np

from synthts_core.measured import Measured
from synthts_metrics._common import check_pair, subsample
from synthts_metrics.distances import distance_ratio, nearest_two, standardised

__all__ = ["MemorisationGuard", "closer_p_value", "distance_ratio", "nearest_two",
           "tail_p_value"]  # the distance helpers live in distances.py (shared with privacy.py)


def closer_p_value(synthetic: np.ndarray, unseen: np.ndarray) -> tuple[float, float, int]:
    """(p-value that the synthetic values are smaller than the unseen ones, the share of pairs
    where the synthetic one is, how many synthetic values lie below every unseen one): the
    smaller of the rank-sum and the tail test's p-values, doubled."""
    from scipy.stats import mannwhitneyu

    test = mannwhitneyu(synthetic, unseen, alternative="less")
    closer = 1.0 - float(test.statistic) / (len(synthetic) * len(unseen))
    below = int((synthetic < unseen.min()).sum())
    p_tail = tail_p_value(below, len(synthetic), len(unseen))
    return min(1.0, 2.0 * min(float(test.pvalue), p_tail)), closer, below


def tail_p_value(below: int, n_synthetic: int, n_unseen: int) -> float:
    """P(at least ``below`` of ``n_synthetic`` exchangeable values rank below all ``n_unseen``
    others): prod_{i<below} (n_s - i) / (n_s + n_h - i)."""
    i = np.arange(below)
    return float(np.exp(np.log((n_synthetic - i) / (n_synthetic + n_unseen - i)).sum()))


class MemorisationGuard:
    """Nearest-neighbour distance ratios of synthetic vs unseen real series to the training
    series, one-sided Mann-Whitney U (see the module docstring)."""

    name = "memorisation"
    report_order = 15  # beside the detector in the main job's report
    description = ("Memorisation guard: one-sided Mann-Whitney p-value that synthetic series "
                   "sit closer to the training series (distance to the closest / to the second "
                   "closest) than real series the model never saw do; low = copies training "
                   "series. Inconclusive without held-out or freshly drawn real series.")
    higher_is_better = True
    min_channels = 1
    per_class_by_default = True
    uses_holdout = True  # compute() takes holdout=: real series the generator never saw
    # the verdict fails a class whose p-value is below this divided by the classes judged
    guard_threshold = 0.01

    def __init__(self, max_train: int = 5000, max_series: int = 1000,
                 min_series: int = 10) -> None:
        self.max_train = max_train
        self.max_series = max_series
        self.min_series = min_series

    def compute(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                holdout: np.ndarray | None = None) -> Measured:
        """``real``: the series the model trained on; ``holdout``: real series it never saw."""
        train, syn = check_pair(real, synthetic)
        if holdout is None:
            return Measured(float("nan"), inconclusive=(
                "no real series the model never saw (a held-out split, or a generated "
                "dataset's spec to draw them from): memorisation cannot be measured"))
        held = check_pair(real, holdout, min_series=0)[1]  # none of a class: too few, below
        if len(train) < 3 or min(len(syn), len(held)) < self.min_series:
            return Measured(float("nan"), inconclusive=(
                f"too few series to measure memorisation: {len(train)} training, "
                f"{len(held)} unseen, {len(syn)} synthetic (needs 3 training and "
                f"{self.min_series} of each of the others)"))
        train = subsample(train, self.max_train, rng)
        syn, held = subsample(syn, self.max_series, rng), subsample(held, self.max_series, rng)
        # one affine map per channel (the training set's): distances weigh channels alike
        t, s, h = standardised(train, syn, held)
        s1, s2 = nearest_two(s, t)
        h1, h2 = nearest_two(h, t)
        rs, rh = distance_ratio(s1, s2), distance_ratio(h1, h2)
        p_ratio, closer, below = closer_p_value(rs, rh)
        p_dcr, closer_dcr, _ = closer_p_value(s1, h1)
        return Measured(max(p_ratio, p_dcr), extra={
            "closer_share": round(closer, 4), "p_ratio": p_ratio, "p_dcr": p_dcr,
            "closer_share_dcr": round(closer_dcr, 4), "below_every_unseen": below,
            "ratio_synthetic_median": round(float(np.median(rs)), 4),
            "ratio_unseen_median": round(float(np.median(rh)), 4),
            "dcr_synthetic_median": round(float(np.median(s1)), 4),
            "dcr_unseen_median": round(float(np.median(h1)), 4),
            "n_train": len(t), "n_synthetic": len(s), "n_unseen": len(h)})
