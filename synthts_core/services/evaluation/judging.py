"""One metric judged per class against a threshold: the piece the verdict, the memorisation
guard and the privacy audit share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import ClassVerdict, MetricResult, Verdict

if TYPE_CHECKING:
    from synthts_core.registry import Registries


def metric_attribute(registries: Registries, name: str, attribute: str) -> Any:
    """A registered metric's declared attribute (a threshold, ``uses_holdout``...), None when
    the metric or the attribute is absent."""
    return getattr(registries.metrics.get(name), attribute, None) \
        if name in registries.metrics else None


def rule(v: Verdict) -> str:
    """``name >= threshold`` (or ``<=``): what a verdict's summary says it judged by."""
    return f"{v.metric} {'>=' if v.higher_is_better else '<='} {v.threshold:.3g}"


def judge(label: str, value: float, details: dict[str, Any], threshold: float,
          higher: bool) -> ClassVerdict:
    """Pass or fail one class on the good side of ``threshold``; inconclusive (with why) when
    the metric could not vouch for its value."""
    reason = details.get("inconclusive")
    ci = details.get("ci")
    if reason is None and not np.isfinite(value):
        reason = "the metric returned no finite value"
    passed = None if reason else bool(value >= threshold if higher else value <= threshold)
    return ClassVerdict(label=label, value=float(value) if np.isfinite(value) else None,
                        ci=list(ci) if ci else None, passed=passed, reason=reason)


def verdict_from(result: MetricResult, threshold: float, notes: list[str]) -> Verdict:
    """``result`` judged per class against ``threshold`` (``judge``), classes worst first."""
    higher = result.higher_is_better
    pooled_details = {k: result.details[k] for k in ("ci", "inconclusive") if k in result.details}
    pooled = judge("all", result.value, pooled_details, threshold, higher)
    per_details = result.details.get("per_class_details", {})
    classes = [judge(label, v, per_details.get(label, {}), threshold, higher)
               for label, v in result.per_class.items()] or [pooled]

    def badness(c: ClassVerdict) -> tuple[int, float]:
        v = c.value if c.value is not None else (-np.inf if higher else np.inf)
        return (0 if c.passed is None else 1, -v if not higher else v)

    classes.sort(key=badness)
    failed = [c.label for c in classes if c.passed is False]
    unsure = [c.label for c in classes if c.passed is None]
    sign = ">=" if higher else "<="
    rule = f"{result.name} {sign} {threshold:g}"
    if unsure:
        summary = (f"inconclusive for {len(unsure)} of {len(classes)} class(es) "
                   f"({', '.join(unsure[:5])}): {classes[0].reason}")
    elif failed:
        summary = (f"{len(failed)} of {len(classes)} class(es) fail {rule}: "
                   f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; worst "
                   f"{classes[0].label} at {classes[0].value:.3f}")
    else:
        summary = (f"all {len(classes)} class(es) pass {rule}; worst {classes[0].label} at "
                   f"{classes[0].value:.3f}")
    return Verdict(metric=result.name, threshold=threshold, higher_is_better=higher,
                   passed=not failed and not unsure, summary=summary,
                   worst=classes[0].label if classes else None, classes=classes,
                   pooled=pooled, notes=notes)
