"""Conformance suite for quality metrics (``register_metrics``).

Subclass ``MetricConformance`` and provide a ``metric`` fixture (configured cheaply: post-hoc
metrics with few iterations). The suite checks the contract every metric must keep: it declares
itself, scores two draws of one process better than a clearly different pair, is deterministic
given ``rng``, and accepts one and several channels and small sets.

A metric that declares ``uses_holdout`` is also given ``holdout=``: another draw of the real
set's process (real series the generator never saw). A privacy metric (one that states a
``privacy_threshold``) is not asked to rank a different process worse, which leaks nothing:
its clearly worse synthetic set is a lightly jittered copy of the real one.
"""

from __future__ import annotations

import numbers

import numpy as np
import pytest

from synthts_core.errors import BadInputError


def sine_set(n: int, channels: int, length: int, seed: int) -> np.ndarray:
    """The literature's sines process: per series and channel, frequency and phase uniform in
    [0, 0.1], values (sin(f t + p) + 1) / 2, float32 (n, channels, length)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.0, 0.1, size=(n, channels, 1))
    phase = rng.uniform(0.0, 0.1, size=(n, channels, 1))
    t = np.arange(length)
    return ((np.sin(freq * t + phase) + 1.0) / 2.0).astype(np.float32)


def noise_set(n: int, channels: int, length: int, seed: int) -> np.ndarray:
    """Independent uniform noise in [0, 1]: the same range as ``sine_set``, nothing else alike."""
    return np.random.default_rng(seed).random((n, channels, length)).astype(np.float32)


def value_of(result: float | tuple[float, float]) -> float:
    """The point value of a metric result (a float, or the mean of (mean, std))."""
    return float(result[0]) if isinstance(result, tuple) else float(result)


class MetricConformance:
    """Provide a ``metric`` fixture; override ``n``, ``length`` for slower metrics."""

    n = 200
    length = 24
    small_n = 8

    def _channels(self, metric) -> int:
        return max(1, int(metric.min_channels))

    def _compute(self, metric, real: np.ndarray, synthetic: np.ndarray,
                 rng: np.random.Generator):
        """``metric.compute``, with unseen real series (a draw of their own) when it uses
        them."""
        if getattr(metric, "uses_holdout", False):
            unseen = sine_set(len(real), real.shape[1], real.shape[2], 99)
            return metric.compute(real, synthetic, rng, holdout=unseen)
        return metric.compute(real, synthetic, rng)

    def _worse(self, metric, real: np.ndarray, seed: int) -> np.ndarray:
        """A synthetic set the metric must score clearly worse than a second draw: noise, or
        for a privacy metric the real series themselves, lightly jittered."""
        if getattr(metric, "privacy_threshold", None) is not None:
            jitter = np.random.default_rng(seed).normal(0.0, 0.01, real.shape)
            return (real + jitter).astype(np.float32)
        return noise_set(*real.shape, seed)

    def test_declares_itself(self, metric) -> None:
        assert isinstance(metric.name, str) and metric.name
        assert isinstance(metric.description, str) and metric.description
        assert isinstance(metric.higher_is_better, bool)
        assert isinstance(metric.min_channels, int) and metric.min_channels >= 1

    def test_matching_pair_scores_better_than_different_pair(self, metric) -> None:
        c = max(2, self._channels(metric))
        real = sine_set(self.n, c, self.length, 1)
        same = value_of(self._compute(metric, real, sine_set(self.n, c, self.length, 2),
                                      np.random.default_rng(0)))
        other = value_of(self._compute(metric, real, self._worse(metric, real, 3),
                                       np.random.default_rng(0)))
        assert np.isfinite(same) and np.isfinite(other)
        if metric.higher_is_better:
            assert same > other, f"{metric.name}: matching {same} not above different {other}"
        else:
            assert same < other, f"{metric.name}: matching {same} not below different {other}"

    def test_deterministic_given_rng(self, metric) -> None:
        c = self._channels(metric)
        real = sine_set(self.n, c, self.length, 1)
        fake = noise_set(self.n, c, self.length, 4)
        first = self._compute(metric, real, fake, np.random.default_rng(11))
        second = self._compute(metric, real, fake, np.random.default_rng(11))
        assert first == second

    def test_result_type(self, metric) -> None:
        c = self._channels(metric)
        out = self._compute(metric, sine_set(self.n, c, self.length, 1),
                            sine_set(self.n, c, self.length, 2), np.random.default_rng(0))
        if isinstance(out, tuple):
            assert len(out) == 2 and all(isinstance(v, numbers.Real) for v in out)
            assert out[1] >= 0
        else:
            assert isinstance(out, numbers.Real)

    @pytest.mark.parametrize("channels", [1, 3])
    def test_channel_counts(self, metric, channels) -> None:
        real = sine_set(self.n, channels, self.length, 1)
        fake = sine_set(self.n, channels, self.length, 2)
        if channels < metric.min_channels:
            with pytest.raises(BadInputError):
                self._compute(metric, real, fake, np.random.default_rng(0))
            return
        assert np.isfinite(value_of(self._compute(metric, real, fake,
                                                  np.random.default_rng(0))))

    def test_small_sets(self, metric) -> None:
        c = self._channels(metric)
        real = sine_set(self.small_n, c, self.length, 1)
        fake = sine_set(self.small_n + 3, c, self.length, 2)
        assert np.isfinite(value_of(self._compute(metric, real, fake,
                                                  np.random.default_rng(0))))

    def test_mismatched_shapes_are_rejected(self, metric) -> None:
        c = self._channels(metric)
        real = sine_set(self.small_n, c, self.length, 1)
        fake = sine_set(self.small_n, c, self.length + 1, 2)
        with pytest.raises(BadInputError):
            self._compute(metric, real, fake, np.random.default_rng(0))
