"""Post-hoc recurrent models: the TimeGAN discriminative and predictive scores (Yoon et al. 2019).

Both sets are scaled with the real set's per-channel min/max (TimeGAN min-max scales the data
before scoring, so values compare with its published numbers), long series are cut to one random
window of ``max_length`` points per series (a GRU over thousands of steps is too slow on a CPU),
and at most ``max_series`` series per set are used. Torch is imported only when a score is
computed; every random choice (split, batches, weight init) comes from the caller's ``rng`` inside
``torch.random.fork_rng`` so global torch state is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from synthts_core.measured import Measured
from synthts_metrics._common import check_pair, subsample, time_shuffled


def prepare(real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
            max_series: int, max_length: int,
            scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(n, c, L) in real units -> (n, L', c) float32, min-max scaled by the real set's
    per-channel range unless ``scale=False`` (data already in [0, 1], e.g. TimeGAN's sines,
    which TimeGAN scores unscaled: scaling them would double the predictive MAE)."""
    r, s = check_pair(real, synthetic)
    r, s = subsample(r, max_series, rng), subsample(s, max_series, rng)
    if scale:
        lo = r.min(axis=(0, 2), keepdims=True)
        span = r.max(axis=(0, 2), keepdims=True) - lo
        span[span == 0] = 1.0
        r, s = (r - lo) / span, (s - lo) / span
    length = r.shape[2]
    if length > max_length:
        r, s = _windows(r, max_length, rng), _windows(s, max_length, rng)
    return (np.ascontiguousarray(r.transpose(0, 2, 1), dtype=np.float32),
            np.ascontiguousarray(s.transpose(0, 2, 1), dtype=np.float32))


def _windows(x: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, x.shape[2] - width + 1, size=x.shape[0])
    idx = starts[:, None] + np.arange(width)[None, :]
    return np.take_along_axis(x, idx[:, None, :].repeat(x.shape[1], axis=1), axis=2)


def _fit(torch: Any, model: Any, loss_fn: Any, x: np.ndarray, y: np.ndarray,
         batches: np.ndarray) -> None:
    """Adam over the pre-drawn minibatch indices (one row of ``batches`` per step)."""
    opt = torch.optim.Adam(model.parameters())
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for idx in batches:
        b = torch.from_numpy(idx)
        opt.zero_grad()
        loss_fn(model(xt[b]), yt[b]).backward()
        opt.step()


def _hidden(channels: int, hidden: int | None) -> int:
    return hidden if hidden is not None else max(channels // 2, 2)


def discriminative_once(real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                        iterations: int, batch_size: int = 128, hidden: int | None = None,
                        train_fraction: float = 0.8) -> float:
    """One repeat: train a GRU classifier on 80 % of each set, |accuracy - 0.5| on the rest.

    Inputs are prepared arrays (n, L, c). Real is labelled 1, synthetic 0.
    """
    return discriminative_fit(real, synthetic, rng, iterations=iterations,
                              batch_size=batch_size, hidden=hidden,
                              train_fraction=train_fraction)[0]


def discriminative_fit(real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, *,
                       iterations: int, batch_size: int = 128, hidden: int | None = None,
                       train_fraction: float = 0.8) -> tuple[float, float, bool]:
    """(|held-out accuracy - 0.5|, training accuracy, whether the classifier predicted one
    class for the whole held-out set)."""
    import torch
    from torch import nn

    seed = int(rng.integers(0, 2**31 - 1))
    n_r, n_s = len(real), len(synthetic)
    perm_r, perm_s = rng.permutation(n_r), rng.permutation(n_s)
    k_r, k_s = max(1, int(n_r * train_fraction)), max(1, int(n_s * train_fraction))
    if k_r >= n_r or k_s >= n_s:
        k_r, k_s = n_r - 1, n_s - 1
    x_train = np.concatenate([real[perm_r[:k_r]], synthetic[perm_s[:k_s]]])
    y_train = np.concatenate([np.ones(k_r), np.zeros(k_s)]).astype(np.float32)
    x_test = np.concatenate([real[perm_r[k_r:]], synthetic[perm_s[k_s:]]])
    y_test = np.concatenate([np.ones(n_r - k_r), np.zeros(n_s - k_s)])
    batches = rng.integers(0, len(x_train), size=(iterations, min(batch_size, len(x_train))))

    with torch.random.fork_rng(devices=[]), _single_thread(torch):
        torch.manual_seed(seed)
        model = _classifier(real.shape[2], _hidden(real.shape[2], hidden))
        _fit(torch, model, nn.BCEWithLogitsLoss(), x_train, y_train, batches)
        with torch.no_grad():
            pred = (model(torch.from_numpy(x_test)) > 0).numpy()
            train_pred = (model(torch.from_numpy(x_train)) > 0).numpy()
    accuracy = float((pred == (y_test > 0.5)).mean())
    train_accuracy = float((train_pred == (y_train > 0.5)).mean())
    return abs(accuracy - 0.5), train_accuracy, bool(pred.min() == pred.max())


def predictive_once(train: np.ndarray, test: np.ndarray, rng: np.random.Generator, *,
                    iterations: int, batch_size: int = 128, hidden: int | None = None) -> float:
    """Train a GRU one-step-ahead predictor on ``train``, mean absolute error on all of ``test``.

    With several channels it predicts the last channel at t+1 from the other channels up to t
    (TimeGAN's protocol); with one channel it predicts x[t+1] from x[..t].
    """
    import torch
    from torch import nn

    seed = int(rng.integers(0, 2**31 - 1))
    x_tr, y_tr = _predictive_io(train)
    x_te, y_te = _predictive_io(test)
    batches = rng.integers(0, len(x_tr), size=(iterations, min(batch_size, len(x_tr))))
    with torch.random.fork_rng(devices=[]), _single_thread(torch):
        torch.manual_seed(seed)
        model = _predictor(x_tr.shape[2], _hidden(train.shape[2], hidden))
        _fit(torch, model, nn.L1Loss(), x_tr, y_tr, batches)
        with torch.no_grad():
            pred = model(torch.from_numpy(x_te)).numpy()
    return float(np.abs(pred - y_te).mean())


@contextmanager
def _single_thread(torch: Any) -> Iterator[None]:
    """These GRUs are tiny: one thread is faster than several fighting over a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _predictive_io(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.shape[2] == 1:
        return x[:, :-1, :], x[:, 1:, :]
    return x[:, :-1, :-1], x[:, 1:, -1:]


def _build_classes() -> tuple[type, type]:
    from torch import nn

    class Classifier(nn.Module):
        def __init__(self, channels: int, hidden: int) -> None:
            super().__init__()
            self.gru = nn.GRU(channels, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            _, last = self.gru(x)
            return self.head(last[-1]).squeeze(-1)

    class Predictor(nn.Module):
        def __init__(self, channels: int, hidden: int) -> None:
            super().__init__()
            self.gru = nn.GRU(channels, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            out, _ = self.gru(x)
            return self.head(out).sigmoid()

    return Classifier, Predictor


def _classifier(channels: int, hidden: int) -> Any:
    return _build_classes()[0](channels, hidden)


def _predictor(channels: int, hidden: int) -> Any:
    return _build_classes()[1](channels, hidden)


class _Repeated:
    """Shared settings of the post-hoc metrics; ``compute`` returns (mean, std) over repeats.

    Each fit takes seconds to minutes on a CPU, so evaluations report them pooled over classes
    unless asked for per-class values (``evaluation.compare(pooled_only=())``)."""

    per_class_by_default = False

    higher_is_better = False
    min_channels = 1

    def __init__(self, *, iterations: int, repeats: int = 2, max_series: int = 1000,
                 max_length: int = 128, batch_size: int = 128, hidden: int | None = None) -> None:
        self.iterations = iterations
        self.repeats = repeats
        self.max_series = max_series
        self.max_length = max_length
        self.batch_size = batch_size
        self.hidden = hidden

    def _summarise(self, values: list[float]) -> tuple[float, float]:
        return float(np.mean(values)), float(np.std(values))


class DiscriminativeScore(_Repeated):
    name = "discriminative"
    report_order = 80
    description = ("Literature protocol (TimeGAN) discriminative score: |accuracy - 0.5| of a post-hoc GRU classifier "
                   "telling real from synthetic on held-out data (0 = indistinguishable, 0.5 = "
                   "always told apart); mean and std over repeats.")

    def __init__(self, iterations: int = 1000, **kwargs: Any) -> None:
        super().__init__(iterations=iterations, **kwargs)

    # below this training accuracy (or with one class predicted for everything) the fit is
    # suspect, and a positive control decides whether the classifier could learn at all
    FIT_FLOOR = 0.6
    CONTROL_FLOOR = 0.25  # |accuracy - 0.5| the control must reach

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> Measured:
        r, s = prepare(real, synthetic, rng, max_series=self.max_series,
                       max_length=self.max_length)
        kw = {"iterations": self.iterations, "batch_size": self.batch_size,
              "hidden": self.hidden}
        runs = [discriminative_fit(r, s, rng, **kw) for _ in range(self.repeats)]
        mean, std = self._summarise([score for score, _, _ in runs])
        train_acc = float(np.mean([t for _, t, _ in runs]))
        reason = None
        if any(t < self.FIT_FLOOR or constant for _, t, constant in runs):
            # a classifier that cannot even fit its own training set says nothing about the
            # synthetic data; the control tells a weak classifier from one that failed outright
            control = discriminative_fit(r, time_shuffled(r, rng, time_axis=1), rng, **kw)[0]
            why = ("it also failed the control (real vs the same series with shuffled time "
                   f"steps: {control + 0.5:.0%})" if control < self.CONTROL_FLOOR else
                   f"it can tell real from time-shuffled series ({control + 0.5:.0%}), but "
                   "found nothing to learn here, which a strong detector may still find")
            reason = (f"the GRU classifier did not fit (training accuracy {train_acc:.2f}); "
                      f"{why}: the score is not evidence of quality; see the detector")
        return Measured(mean, std=std, inconclusive=reason,
                        extra={"train_accuracy": round(train_acc, 4)})


class PredictiveScore(_Repeated):
    """TSTR (train on synthetic, test on real) or, mirrored, TRTS."""

    def __init__(self, mirror: bool = False, iterations: int = 1000, **kwargs: Any) -> None:
        super().__init__(iterations=iterations, **kwargs)
        self.mirror = mirror
        if mirror:
            self.name = "predictive_trts"
            self.description = ("TRTS: a post-hoc GRU next-step predictor trained on real data, "
                                "mean absolute error on synthetic data (real data min-max scaled "
                                "to [0, 1]); mean and std over repeats.")
        else:
            self.name = "predictive"
            self.description = ("Literature protocol (TimeGAN) predictive score (TSTR): a post-hoc GRU next-step "
                                "predictor trained on synthetic data, mean absolute error on real "
                                "data (min-max scaled to [0, 1]); mean and std over repeats.")

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> tuple[float, float]:
        r, s = prepare(real, synthetic, rng, max_series=self.max_series,
                       max_length=self.max_length)
        train, test = (r, s) if self.mirror else (s, r)
        return self._summarise([
            predictive_once(train, test, rng, iterations=self.iterations,
                            batch_size=self.batch_size, hidden=self.hidden)
            for _ in range(self.repeats)])
