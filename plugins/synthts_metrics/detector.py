"""Metrics that can fail: a classifier two-sample test and train-on-synthetic / test-on-real.

``detector`` — can a strong, fast classifier tell real from synthetic? Random convolutional
kernel features (``kernels.py``) of a balanced subsample of each set, standardised, feed a ridge
classifier with its penalty chosen by leave-one-out (``RidgeClassifierCV``, as ROCKET does);
every series gets a held-out prediction by stratified k-fold cross-validation. The value is the
held-out accuracy with its 95 % Wilson interval: 0.5 = indistinguishable, 1 = always told apart.
Before it answers, the same detector must separate a positive control (the real series against
the same series with their time points shuffled); a detector that cannot is reported as
inconclusive, never as a pass.

``tstr`` — for labelled data: a classifier on the same features trained on synthetic series
predicts the real series' labels (TSTR), next to one trained on real series by cross-validation
(TRTR). The value is TSTR / TRTR (1 = the synthetic set teaches the classes as well as the real
one). Inconclusive when the real set itself cannot be classified above chance. Given
``holdout`` series (real series the generator never saw), both classifiers are tested on them
instead: TRTR trains on the real training series, TSTR on the synthetic ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.measured import Measured, wilson_interval
from synthts_core.subsets import subsample_index
from synthts_metrics._common import check_pair, subsample, time_shuffled
from synthts_metrics.kernels import fit_kernels, transform

ALPHAS = np.logspace(-3, 3, 10)
CONTROL_FLOOR = 0.9  # the detector must separate real from time-shuffled real at least this well
MAX_CI_WIDTH = 0.35  # wider than this: too few series for a verdict


def _ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
                       ) -> np.ndarray:
    from sklearn.linear_model import RidgeClassifierCV

    mu = x_train.mean(axis=0)
    sd = x_train.std(axis=0)
    sd[sd < 1e-12] = 1.0
    clf = RidgeClassifierCV(alphas=ALPHAS)
    clf.fit((x_train - mu) / sd, y_train)
    return clf.predict((x_test - mu) / sd)


def _folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold index per sample, stratified by ``y``."""
    fold = np.empty(len(y), int)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return fold


def cross_val_predict(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                      k: int = 5) -> np.ndarray:
    """Held-out predictions for every sample by stratified k-fold cross-validation."""
    k = max(2, min(k, int(np.bincount(np.unique(y, return_inverse=True)[1]).min())))
    fold = _folds(y, k, rng)
    pred = np.empty_like(y)
    for f in range(k):
        test = fold == f
        pred[test] = _ridge_fit_predict(x[~test], y[~test], x[test])
    return pred


class Detector:
    """Classifier two-sample test on random-kernel features (see the module docstring)."""

    name = "detector"
    report_order = 10  # the main job's report lists the metrics with one, in this order
    description = ("Classifier two-sample test: held-out accuracy of a ridge classifier on "
                   "random convolutional kernel features telling real from synthetic (0.5 = "
                   "indistinguishable, 1 = always told apart), with a 95 % interval; "
                   "inconclusive when the detector fails its positive control.")
    higher_is_better = False
    min_channels = 1
    per_class_by_default = True
    # the verdict: a class passes when its detector accuracy is at or below this
    pass_threshold = 0.70

    def __init__(self, n_kernels: int = 1000, max_series: int = 1000, folds: int = 5) -> None:
        self.n_kernels = n_kernels
        self.max_series = max_series
        self.folds = folds

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> Measured:
        r, s = check_pair(real, synthetic)
        n = min(len(r), len(s), self.max_series)
        r, s = subsample(r, n, rng), subsample(s, n, rng)
        bank = fit_kernels(r, self.n_kernels, rng)
        fr, fs = transform(bank, r), transform(bank, s)
        y = np.r_[np.ones(n, int), np.zeros(n, int)]
        pred = cross_val_predict(np.concatenate([fr, fs]), y, rng, self.folds)
        correct = int((pred == y).sum())
        accuracy = correct / len(y)
        ci = wilson_interval(correct, len(y))
        control = self._control(r, fr, bank, rng)
        reason = None
        if control < CONTROL_FLOOR:
            reason = (f"the detector separated real series from the same series with shuffled "
                      f"time points only {control:.0%} of the time (needs {CONTROL_FLOOR:.0%}): "
                      f"too few series ({n} per set) or too little structure to judge")
        elif ci[1] - ci[0] > MAX_CI_WIDTH:
            reason = (f"too few series for a verdict: {n} per set gives a 95 % interval "
                      f"[{ci[0]:.2f}, {ci[1]:.2f}]")
        return Measured(accuracy, ci=ci, inconclusive=reason,
                        extra={"control_accuracy": round(control, 4), "n_per_set": n})

    def _control(self, r: np.ndarray, fr: np.ndarray, bank: Any,
                 rng: np.random.Generator) -> float:
        fc = transform(bank, time_shuffled(r, rng))
        y = np.r_[np.ones(len(fr), int), np.zeros(len(fc), int)]
        pred = cross_val_predict(np.concatenate([fr, fc]), y, rng, k=2)
        return float((pred == y).mean())


class TrainSyntheticTestReal:
    """TSTR / TRTR classification accuracy ratio on random-kernel features (labelled data)."""

    name = "tstr"
    report_order = 20
    description = ("Train on synthetic, test on real: accuracy of a classifier trained on the "
                   "synthetic series at predicting the real series' labels, divided by the "
                   "accuracy of the same classifier trained on real series (cross-validated); "
                   "1 = the synthetic set teaches the classes as well as the real one.")
    higher_is_better = True
    min_channels = 1
    needs_labels = True
    uses_holdout = True  # tested on held-out series when the evaluation has them
    per_class_by_default = False

    def __init__(self, n_kernels: int = 1000, max_series: int = 2000, folds: int = 5) -> None:
        self.n_kernels = n_kernels
        self.max_series = max_series
        self.folds = folds

    def compute(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                real_labels: np.ndarray | None = None,
                synthetic_labels: np.ndarray | None = None, holdout: np.ndarray | None = None,
                holdout_labels: np.ndarray | None = None) -> Measured:
        r, s = check_pair(real, synthetic)
        if real_labels is None or synthetic_labels is None:
            raise BadInputError("labels", "are missing", allowed="labels for both sets")
        yr, ys = np.asarray(real_labels), np.asarray(synthetic_labels)
        if yr.shape != (len(r),) or ys.shape != (len(s),):
            raise BadInputError("labels", "do not match the series",
                                allowed="one label per series")
        shared = np.intersect1d(np.unique(yr), np.unique(ys))
        keep_r, keep_s = np.isin(yr, shared), np.isin(ys, shared)
        r, yr, s, ys = r[keep_r], yr[keep_r], s[keep_s], ys[keep_s]
        ir = subsample_index(len(yr), self.max_series, rng)
        is_ = subsample_index(len(ys), self.max_series, rng)
        r, yr, s, ys = r[ir], yr[ir], s[is_], ys[is_]
        if len(shared) < 2:
            return Measured(float("nan"), inconclusive="needs at least two labels present in "
                            "both sets")
        bank = fit_kernels(r, self.n_kernels, rng)
        fr, fs = transform(bank, r), transform(bank, s)
        if holdout is not None and holdout_labels is not None:
            h, yh = check_pair(real, holdout, min_series=1)[1], np.asarray(holdout_labels)
            keep = np.isin(yh, shared)
            h, yh = h[keep], yh[keep]
            ih = subsample_index(len(yh), self.max_series, rng)
            h, yh = h[ih], yh[ih]
            if len(np.unique(yh)) < 2:
                return Measured(float("nan"), inconclusive="the held-out series hold fewer "
                                "than two of the labels both sets share")
            fh = transform(bank, h)
            trtr = float((_ridge_fit_predict(fr, yr, fh) == yh).mean())
            tstr = float((_ridge_fit_predict(fs, ys, fh) == yh).mean())
            y_test, tested_on = yh, "held-out"
        else:
            trtr = float((cross_val_predict(fr, yr, rng, self.folds) == yr).mean())
            tstr = float((_ridge_fit_predict(fs, ys, fr) == yr).mean())
            y_test, tested_on = yr, "training"
        chance = float(np.bincount(np.unique(y_test, return_inverse=True)[1]).max()
                       / len(y_test))
        extra = {"tstr_accuracy": round(tstr, 4), "trtr_accuracy": round(trtr, 4),
                 "chance": round(chance, 4), "classes": len(shared), "tested_on": tested_on,
                 "n_test": len(y_test)}
        if trtr < chance + 0.5 * (1 - chance) * 0.2:
            return Measured(tstr / max(trtr, 1e-12), extra=extra, inconclusive=(
                f"the classifier trained on real series reaches only {trtr:.0%} "
                f"(chance {chance:.0%}): the labels are not learnable from these series"))
        return Measured(tstr / trtr, extra=extra)

