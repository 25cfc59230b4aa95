"""Entry point of the built-in metrics plugin: registers every quality metric and
the privacy audit's.

Metric modules that need torch import it inside ``compute``; registering them costs nothing.
Definitions, ranges and directions are in docs/metrics.md.
"""

from __future__ import annotations

from synthts_core import hookimpl


def builtin_metrics() -> list[object]:
    """One instance of each built-in metric with its default settings (imported here, not at
    the top: ``synthts --help`` imports every plugin to list its commands)."""
    from synthts_metrics.context_fid import ContextFID
    from synthts_metrics.detector import Detector, TrainSyntheticTestReal
    from synthts_metrics.features import FeatureCosineSimilarity
    from synthts_metrics.memorisation import MemorisationGuard
    from synthts_metrics.mmd import MMD
    from synthts_metrics.posthoc import DiscriminativeScore, PredictiveScore
    from synthts_metrics.privacy import AdversarialAccuracy, MembershipInference
    from synthts_metrics.statistics import (
        AutocorrelationDistance,
        CrossCorrelationDistance,
        MarginalDistance,
        SpectrumDistance,
    )

    return [
        Detector(),
        TrainSyntheticTestReal(),
        MemorisationGuard(),
        MembershipInference(),
        AdversarialAccuracy(),
        MMD(),
        DiscriminativeScore(),
        ContextFID(),
        PredictiveScore(),
        PredictiveScore(mirror=True),
        AutocorrelationDistance(),
        MarginalDistance(),
        SpectrumDistance(),
        CrossCorrelationDistance(),
        FeatureCosineSimilarity(),
    ]


@hookimpl
def register_metrics(registry) -> None:
    for metric in builtin_metrics():
        registry.add(metric)
