"""The privacy audit: what a released synthetic set gives away about the series that trained it.

Two metrics, each scored per class against real series the generator never saw (``holdout``:
a dataset's held-out split, or a fresh draw of a generated dataset's spec), each with a
p-value so the verdict can tell a leak from chance; the third figure of the audit, distance to
the closest record (synthetic -> training against unseen -> training), is the memorisation
guard's (``memorisation.py``), read from its result rather than computed twice.

``mia`` -- a membership-inference attack's AUC. The attack is the full black-box attack of
GAN-Leaks (Chen, Yu, Zhang & Fritz, CCS 2020), the distance to the closest synthetic series:
the attacker holds only the released synthetic set and a candidate series, and calls the
candidate a training member when some synthetic series lies close to it. Training series are
the members, unseen real series the non-members; the AUC is the probability that a member
lies closer to the synthetic set than a non-member (0.5 = the attacker learns nothing, 1 = it
tells every member). Why this attack and not another:

- It is the threat model of sharing synthetic data: no access to the model, no shadow models
  trained on data the attacker would not have (as LOGAN, Hayes et al. 2019, needs).
- It needs no density model. DOMIAS (van Breugel et al., AISTATS 2023) scores the ratio of
  the synthetic set's density to the population's and is stronger where both densities can be
  estimated, but here a point is a whole series (hundreds of dimensions) and a class holds a few
  hundred of them, where kernel or flow density estimates are unreliable; it also needs a
  reference set from the population besides the non-members, which would halve the held-out
  series the attack is scored on.
- It is blind to a model that is merely under-dispersed (smoother than the data): such a model
  sits closer to every real series, member or not, so the AUC stays at 0.5, where a raw
  distance-to-closest-record comparison would flag it.

Its AUC is a lower bound on what a stronger attacker could reach. The one-sided Mann-Whitney
p-value (members closer than non-members) is exact under the null that members and
non-members are exchangeable given the synthetic set; the interval is Hanley & McNeil's. The
details also carry the attack's true-positive rate at a 10 % false-positive rate (Carlini et
al. 2022: an attack that finds a few members with confidence matters more than its AUC says).

``nnaa`` -- nearest-neighbour adversarial accuracy (Yale et al., Neurocomputing 2020). With
equal-sized sets A (real) and S (synthetic), AA(A, S) = 1/2 [share of a in A whose nearest
synthetic series is farther than its nearest other series of A + share of s in S whose
nearest series of A is farther than its nearest other synthetic series]: 0.5 = the two sets
mix like draws of one process, near 0 = every synthetic series sits on a real one. The privacy
loss is AA(unseen, S) - AA(train, S): about 0 for a model that generalises, about 0.5 for one
that copies (AA against its training series near 0, against unseen series near 0.5). Its
p-value comes from a permutation test: the training and unseen series are pooled and split at
random (exchangeable under the null that the model favours neither); the loss's z-score
against the permutation distribution gives a normal-approximation p-value (a plain
permutation count cannot go below 1 / (permutations + 1), too coarse once divided by the
number of classes), the count itself is in the details.

Both put a standard error in their details (``se``: Hanley & McNeil's at the observed AUC for
``mia``, the permutation spread for ``nnaa``) and say *inconclusive* (NaN with the reason)
without unseen series or with fewer than ``min_series`` of any set. The verdict
(``synthts_core.services.evaluation.privacy_audit``) fails a class only when its value is past
the metric's ``privacy_threshold`` by more than chance allows: the one-sided bound at
``privacy_alpha`` divided by the number of classes judged, value - z * se, lies past the
threshold. The p-values test against no leak at all (AUC 0.5, loss 0), not against the
threshold, so they are reported but decide nothing. It passes a class only when its 95 %
interval stays within ``privacy_ceiling`` (enough series to rule out a clear leak); anything
else is inconclusive (docs/metrics.md).
"""

from __future__ import annotations

import math

import numpy as np

from synthts_core.measured import Measured
from synthts_metrics._common import check_pair, subsample
from synthts_metrics.distances import nearest, pairwise, standardised

NO_UNSEEN = ("no real series the model never saw to compare with (import with --holdout "
             "FRACTION or --holdout-file, or generate the dataset from a spec)")


def _sets(real: np.ndarray, synthetic: np.ndarray, holdout: np.ndarray | None,
          min_series: int, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """(training, synthetic, unseen) as float64, or why they cannot be audited."""
    train, syn = check_pair(real, synthetic, min_series=1)
    if holdout is None:
        return NO_UNSEEN
    held = check_pair(real, holdout, min_series=0)[1]  # none of a class: too few, below
    if min(len(train), len(syn), len(held)) < min_series:
        return (f"too few series for {what}: {len(train)} training, {len(held)} unseen, "
                f"{len(syn)} synthetic (needs {min_series} of each)")
    return train, syn, held


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC from ``n_pos`` positives and ``n_neg`` negatives (Hanley &
    McNeil 1982)."""
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc)
           + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def auc_interval(auc: float, n_pos: int, n_neg: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of an AUC (``auc_se``), clipped to [0, 1]."""
    half = z * auc_se(auc, n_pos, n_neg)
    return max(0.0, auc - half), min(1.0, auc + half)


class MembershipInference:
    """Distance-to-closest-synthetic membership-inference attack, its AUC (module docstring)."""

    name = "mia"
    report_order = 16  # beside the memorisation guard in the main job's report
    description = ("Membership-inference attack AUC (distance to the closest synthetic series, "
                   "GAN-Leaks' black-box attack): how well an attacker holding only the "
                   "synthetic set tells training series from real series the model never saw "
                   "(0.5 = not at all, 1 = always), with a 95 % interval; inconclusive without "
                   "held-out or freshly drawn real series.")
    higher_is_better = False
    min_channels = 1
    per_class_by_default = True
    uses_holdout = True
    # the privacy audit fails a class whose AUC is above this beyond chance (its one-sided
    # bound at privacy_alpha / classes judged, AUC - z * se, above it), and passes one only
    # when its 95 % interval stays at or below the ceiling (enough series to rule out a clear
    # leak); the audit's lead metric
    privacy_threshold = 0.55
    privacy_ceiling = 0.65
    privacy_alpha = 0.01

    def __init__(self, max_series: int = 2000, max_synthetic: int = 2000,
                 min_series: int = 10) -> None:
        self.max_series = max_series
        self.max_synthetic = max_synthetic
        self.min_series = min_series

    def compute(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                holdout: np.ndarray | None = None) -> Measured:
        """``real``: the members (the series the model trained on); ``holdout``: non-members
        (real series it never saw); the attack sees only ``synthetic``."""
        from scipy.stats import mannwhitneyu

        sets = _sets(real, synthetic, holdout, self.min_series, "a membership-inference attack")
        if isinstance(sets, str):
            return Measured(float("nan"), inconclusive=sets)
        train, syn, held = sets
        train, held = subsample(train, self.max_series, rng), subsample(held, self.max_series, rng)
        syn = subsample(syn, self.max_synthetic, rng)
        t, s, h = standardised(train, syn, held)
        d_member, d_non = nearest(t, s), nearest(h, s)
        # U counts the (non-member, member) pairs where the member is the closer one
        test = mannwhitneyu(d_non, d_member, alternative="greater")
        auc = float(test.statistic) / (len(d_member) * len(d_non))
        cut = np.quantile(d_non, 0.1)
        return Measured(auc, ci=auc_interval(auc, len(d_member), len(d_non)), extra={
            "se": round(auc_se(auc, len(d_member), len(d_non)), 6),
            "p_value": float(test.pvalue),
            "tpr_at_10pct_fpr": round(float((d_member < cut).mean()), 4),
            "attack": "distance to the closest synthetic series (GAN-Leaks, black-box)",
            "distance_member_median": round(float(np.median(d_member)), 4),
            "distance_non_member_median": round(float(np.median(d_non)), 4),
            "n_members": len(t), "n_non_members": len(h), "n_synthetic": len(s)})


class AdversarialAccuracy:
    """Nearest-neighbour adversarial accuracy and its privacy loss (module docstring)."""

    name = "nnaa"
    report_order = 17
    description = ("Nearest-neighbour adversarial accuracy (Yale et al. 2020), its privacy "
                   "loss: AA(unseen real, synthetic) - AA(training, synthetic); 0 = the "
                   "synthetic series sit no closer to the training series than to unseen real "
                   "ones, ~0.5 = copies; with a permutation p-value. Inconclusive without "
                   "held-out or freshly drawn real series.")
    higher_is_better = False
    min_channels = 1
    per_class_by_default = True
    uses_holdout = True
    # the audit fails a class whose loss is above this (a fifth of a copying model's ~0.5)
    # beyond chance (loss - z * se above it, se the permutation spread, z at privacy_alpha /
    # classes judged); passes it when the loss's interval stays at or below the ceiling
    privacy_threshold = 0.1
    privacy_ceiling = 0.2
    privacy_alpha = 0.01

    def __init__(self, max_series: int = 500, permutations: int = 200,
                 min_series: int = 10) -> None:
        self.max_series = max_series
        self.permutations = permutations
        self.min_series = min_series

    def compute(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                holdout: np.ndarray | None = None) -> Measured:
        """``real``: the training series; ``holdout``: real series the model never saw. All
        three sets are cut to the same size (the smallest, at most ``max_series``): nearest-
        neighbour distances shrink as a set grows, so AA compares only equal-sized sets.
        Cutting a large set parts copies from their originals (a copy whose original was not
        drawn looks new), so on sets above ``max_series`` the loss understates copying: the
        per-class figures, on smaller sets, are the ones to read (the audit judges each)."""
        sets = _sets(real, synthetic, holdout, self.min_series,
                     "nearest-neighbour adversarial accuracy")
        if isinstance(sets, str):
            return Measured(float("nan"), inconclusive=sets)
        n = min(*(len(x) for x in sets), self.max_series)
        train, syn, held = (subsample(x, n, rng) for x in sets)
        t, s, h = standardised(train, syn, held)
        pooled = np.concatenate([t, h])
        d_rr = pairwise(pooled, pooled)
        np.fill_diagonal(d_rr, np.inf)
        d_rs = pairwise(pooled, s)
        d_ss = pairwise(s, s)
        np.fill_diagonal(d_ss, np.inf)
        nearest_syn, syn_own = d_rs.min(axis=1), d_ss.min(axis=1)

        def accuracy(idx: np.ndarray) -> float:
            real_own = d_rr[np.ix_(idx, idx)].min(axis=1)
            syn_to_real = d_rs[idx].min(axis=0)
            return 0.5 * (float((nearest_syn[idx] > real_own).mean())
                          + float((syn_to_real > syn_own).mean()))

        members, others = np.arange(n), np.arange(n, 2 * n)
        aa_train, aa_test = accuracy(members), accuracy(others)
        loss = aa_test - aa_train
        null = np.empty(self.permutations)
        for k in range(self.permutations):
            perm = rng.permutation(2 * n)
            null[k] = accuracy(perm[n:]) - accuracy(perm[:n])
        spread = float(null.std(ddof=1)) if self.permutations > 1 else 0.0
        p_count = (1 + int((null >= loss).sum())) / (self.permutations + 1)
        if spread > 0:
            from scipy.stats import norm

            p_value = float(norm.sf((loss - float(null.mean())) / spread))
        else:
            p_value = p_count
        return Measured(loss, ci=(loss - 1.96 * spread, loss + 1.96 * spread), extra={
            "p_value": p_value, "p_permutation": round(p_count, 6),
            "aa_train": round(aa_train, 4), "aa_test": round(aa_test, 4),
            "se": round(spread, 6), "null_std": round(spread, 4),
            "permutations": self.permutations,
            "n_per_set": n})
