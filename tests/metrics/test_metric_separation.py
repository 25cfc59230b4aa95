"""Each metric separates a clearly different pair (sines vs uniform noise in the same [0, 1]
range) from a matching pair (two independent draws of the sines process), with the expected sign
and a stated margin.

``MARGINS[name] = (matching bound, different bound)``: the matching pair must score on the good
side of the first bound, the different pair on the bad side of the second. Values measured on
this machine (300 series x 24 steps, 5 channels, seed 0) are in the comments; bounds leave room
for seed and platform noise.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthts_metrics.detector import Detector
from synthts_metrics.features import FeatureCosineSimilarity
from synthts_metrics.mmd import MMD
from synthts_metrics.posthoc import DiscriminativeScore, PredictiveScore
from synthts_metrics.statistics import (
    AutocorrelationDistance,
    CrossCorrelationDistance,
    MarginalDistance,
    SpectrumDistance,
)

from synthts_core.testing.conformance.metrics import noise_set, sine_set, value_of

POSTHOC = {"iterations": 300, "repeats": 1}

CASES = {
    # name: (factory, matching bound, different bound)
    "mmd": (MMD, 0.02, 0.2),                                   # ~0.000 vs ~0.34
    "autocorrelation": (AutocorrelationDistance, 0.03, 0.2),   # ~0.002 vs ~0.33
    "marginal": (MarginalDistance, 0.1, 0.35),                 # ~0.04 vs ~0.50
    "spectrum": (SpectrumDistance, 0.05, 0.4),                 # ~0.003 vs ~0.63
    "cross_correlation": (CrossCorrelationDistance, 0.05, 0.6),  # ~0.003 vs ~0.96
    "feature_cosine": (FeatureCosineSimilarity, 0.96, 0.94),   # ~0.974 vs ~0.909
    "discriminative": (lambda: DiscriminativeScore(**POSTHOC), 0.15, 0.35),  # ~0.08 vs ~0.49
    "predictive": (lambda: PredictiveScore(**POSTHOC), 0.26, 0.28),          # ~0.23 vs ~0.30
    "predictive_trts": (lambda: PredictiveScore(mirror=True, **POSTHOC), 0.26, 0.45),  # ~0.23/0.59
    "detector": (lambda: Detector(n_kernels=300), 0.62, 0.9),  # ~0.5 vs ~1.0
}


@pytest.fixture(scope="module")
def sets():
    real = sine_set(300, 5, 24, 1)
    return real, sine_set(300, 5, 24, 2), noise_set(300, 5, 24, 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_separates_matching_from_different(name, sets):
    factory, matching_bound, different_bound = CASES[name]
    metric = factory()
    real, same, noise = sets
    matching = value_of(metric.compute(real, same, np.random.default_rng(0)))
    different = value_of(metric.compute(real, noise, np.random.default_rng(0)))
    if metric.higher_is_better:
        assert matching >= matching_bound, (matching, different)
        assert different <= different_bound, (matching, different)
    else:
        assert matching <= matching_bound, (matching, different)
        assert different >= different_bound, (matching, different)


def test_discriminative_reports_spread_over_repeats(sets):
    real, same, _ = sets
    mean, std = DiscriminativeScore(iterations=100, repeats=3).compute(
        real, same, np.random.default_rng(0))
    assert 0.0 <= mean <= 0.5 and std >= 0.0


def test_long_series_are_windowed_for_posthoc_models():
    real, fake = sine_set(40, 1, 600, 1), sine_set(40, 1, 600, 2)
    from synthts_metrics.posthoc import prepare

    r, s = prepare(real, fake, np.random.default_rng(0), max_series=1000, max_length=64)
    assert r.shape == (40, 64, 1) and s.shape == (40, 64, 1)
    assert r.min() >= 0.0 and r.max() <= 1.0


def test_cross_correlation_needs_two_channels():
    from synthts_core.errors import BadInputError

    with pytest.raises(BadInputError, match="channels"):
        CrossCorrelationDistance().compute(sine_set(10, 1, 24, 1), sine_set(10, 1, 24, 2),
                                           np.random.default_rng(0))
