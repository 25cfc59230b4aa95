"""Distances between summary statistics of the two sets: autocorrelation, marginal
distribution, power spectrum and cross-channel correlation. All are NumPy only and cheap; each
set is subsampled to at most ``max_series`` series (default 2000).
"""

from __future__ import annotations

import numpy as np

from synthts_metrics._common import check_pair, subsample


class _StatDistance:
    higher_is_better = False
    min_channels = 1

    def __init__(self, max_series: int = 2000) -> None:
        self.max_series = max_series

    def _pair(self, real: np.ndarray, synthetic: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        r, s = check_pair(real, synthetic, min_channels=self.min_channels)
        return subsample(r, self.max_series, rng), subsample(s, self.max_series, rng)


def mean_autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Mean over series of each channel's autocorrelation at lags 1..max_lag, (c, max_lag).

    A constant series has no defined autocorrelation; it contributes zeros.
    """
    length = x.shape[2]
    centred = x - x.mean(axis=2, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * length)))
    spec = np.fft.rfft(centred, n=size, axis=2)
    acov = np.fft.irfft(spec * np.conj(spec), n=size, axis=2)[..., : max_lag + 1]
    var = acov[..., :1]
    acf = np.divide(acov[..., 1:], var, out=np.zeros_like(acov[..., 1:]), where=var > 1e-12)
    return acf.mean(axis=0)


class AutocorrelationDistance(_StatDistance):
    name = "autocorrelation"
    report_order = 60
    description = ("Mean absolute difference between the average autocorrelation functions of "
                   "real and synthetic series (lags 1..min(length-1, 64), per channel); 0 = same, "
                   "at most 2.")

    def __init__(self, max_lag: int = 64, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.max_lag = max_lag

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = self._pair(real, synthetic, rng)
        lag = max(1, min(r.shape[2] - 1, self.max_lag))
        return float(np.abs(mean_autocorrelation(r, lag) - mean_autocorrelation(s, lag)).mean())


class MarginalDistance(_StatDistance):
    name = "marginal"
    report_order = 70
    description = ("Total-variation distance between per-channel histograms of all values (50 "
                   "bins over the pooled range), averaged over channels; 0 = same, 1 = disjoint.")

    def __init__(self, bins: int = 50, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.bins = bins

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = self._pair(real, synthetic, rng)
        out = []
        for ch in range(r.shape[1]):
            a, b = r[:, ch].ravel(), s[:, ch].ravel()
            lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
            if hi <= lo:
                out.append(0.0)
                continue
            edges = np.linspace(lo, hi, self.bins + 1)
            p = np.histogram(a, edges)[0] / a.size
            q = np.histogram(b, edges)[0] / b.size
            out.append(0.5 * np.abs(p - q).sum())
        return float(np.mean(out))


def mean_spectrum(x: np.ndarray) -> np.ndarray:
    """Average periodogram per channel (mean removed), normalised to sum 1, (c, length//2)."""
    centred = x - x.mean(axis=2, keepdims=True)
    power = (np.abs(np.fft.rfft(centred, axis=2)) ** 2)[..., 1:].mean(axis=0)
    total = power.sum(axis=1, keepdims=True)
    uniform = np.full_like(power, 1.0 / max(power.shape[1], 1))
    return np.where(total > 1e-12, power / np.where(total > 1e-12, total, 1.0), uniform)


class SpectrumDistance(_StatDistance):
    name = "spectrum"
    report_order = 50
    description = ("Total-variation distance between the average normalised power spectra of "
                   "real and synthetic series (mean removed), averaged over channels; 0 = same "
                   "frequency content, 1 = disjoint.")

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = self._pair(real, synthetic, rng)
        if r.shape[2] < 2:
            return 0.0
        return float(0.5 * np.abs(mean_spectrum(r) - mean_spectrum(s)).sum(axis=1).mean())


def mean_cross_correlation(x: np.ndarray) -> np.ndarray:
    """Mean over series of the Pearson correlations between channel pairs (upper triangle)."""
    centred = x - x.mean(axis=2, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=2))
    unit = np.divide(centred, norm[..., None], out=np.zeros_like(centred),
                     where=norm[..., None] > 1e-12)
    corr = np.einsum("ncl,ndl->ncd", unit, unit)
    iu = np.triu_indices(x.shape[1], 1)
    return corr[:, iu[0], iu[1]].mean(axis=0)


class CrossCorrelationDistance(_StatDistance):
    name = "cross_correlation"
    description = ("Mean absolute difference between the average channel-to-channel Pearson "
                   "correlations of real and synthetic series (multi-channel sets only); 0 = "
                   "same, at most 2.")
    min_channels = 2

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float:
        r, s = self._pair(real, synthetic, rng)
        return float(np.abs(mean_cross_correlation(r) - mean_cross_correlation(s)).mean())
