"""Every built-in metric passes the conformance suite third-party metrics run against themselves.

Post-hoc (GRU) metrics run with few iterations here; their separation power at realistic
settings is checked in test_metric_separation.py.
"""

from __future__ import annotations

import pytest
from synthts_metrics.context_fid import ContextFID
from synthts_metrics.detector import Detector
from synthts_metrics.features import FeatureCosineSimilarity
from synthts_metrics.mmd import MMD
from synthts_metrics.posthoc import DiscriminativeScore, PredictiveScore
from synthts_metrics.privacy import AdversarialAccuracy, MembershipInference
from synthts_metrics.statistics import (
    AutocorrelationDistance,
    CrossCorrelationDistance,
    MarginalDistance,
    SpectrumDistance,
)

from synthts_core.testing.conformance.metrics import MetricConformance

CHEAP = {"iterations": 100, "repeats": 1}

FACTORIES = {
    "detector": lambda: Detector(n_kernels=200),
    "mmd": MMD,
    "autocorrelation": AutocorrelationDistance,
    "marginal": MarginalDistance,
    "spectrum": SpectrumDistance,
    "cross_correlation": CrossCorrelationDistance,
    "feature_cosine": FeatureCosineSimilarity,
    "discriminative": lambda: DiscriminativeScore(iterations=300, repeats=1),
    "context_fid": lambda: ContextFID(iterations=30, hidden=16, output_dims=16, depth=3,
                                      lr=5e-3),
    "predictive": lambda: PredictiveScore(**CHEAP),
    "predictive_trts": lambda: PredictiveScore(mirror=True, **CHEAP),
}


class TestBuiltinMetrics(MetricConformance):
    n = 120

    @pytest.fixture(params=sorted(FACTORIES))
    def metric(self, request):
        return FACTORIES[request.param]()


PRIVACY = {"mia": MembershipInference, "nnaa": lambda: AdversarialAccuracy(permutations=50)}


class TestPrivacyMetrics(MetricConformance):
    """The privacy audit's metrics, given unseen real series; their worse case is a copy of
    the real set. Below 10 series of a set they say inconclusive (test_privacy_audit.py)."""

    n = 120
    small_n = 10

    @pytest.fixture(params=sorted(PRIVACY))
    def metric(self, request):
        return PRIVACY[request.param]()


def test_registry_holds_every_builtin(synthts_pm, register_plugin):
    from synthts_metrics import plugin

    register_plugin(plugin, name="metrics")
    names = synthts_pm.registries.metrics.names()
    # tstr needs labels, which the generic suite does not give: tests/metrics/test_detector.py;
    # memorisation needs unseen real series: tests/metrics/test_memorisation.py
    assert names == sorted([*FACTORIES, *PRIVACY, "tstr", "memorisation"])
