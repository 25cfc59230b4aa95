"""The privacy audit: the metrics that state a ``privacy_threshold`` judged per class beyond
chance, the memorisation guard beside them, presented like the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import ClassVerdict, MetricResult, Verdict
from synthts_core.services.evaluation.judging import metric_attribute, rule, verdict_from

if TYPE_CHECKING:
    from synthts_core.registry import Registries


def privacy_audit(registries: Registries, results: Sequence[MetricResult]) -> Verdict | None:
    """The privacy audit per class, worst first, presented like the verdict: the metrics that
    state a ``privacy_threshold`` (membership inference, adversarial accuracy), the one with
    the lowest ``report_order`` leading, and beside them the memorisation guard (its distance
    to the closest record, synthetic -> training against unseen -> training; judged as in the
    verdict, not computed again). None when no privacy metric was evaluated.

    A class fails a privacy metric only when its value is past the metric's
    ``privacy_threshold`` by more than chance allows: the one-sided bound at ``privacy_alpha``
    divided by the number of classes judged (Bonferroni, as the guard does), value - z * se
    with the metric's standard error (``se`` in its details), lies past the threshold. So a
    model whose true value sits at the threshold fails some class of that metric by chance
    at roughly ``privacy_alpha`` (1.5 % for ``mia`` on ten classes of 200, normal
    approximation: the standard error shrinks as the AUC grows), one that leaks less more
    rarely; the audit's columns add up, docs/metrics.md. (The metrics' ``p_value``s test against no leak at all, not against the
    threshold: a small leak well within it would reach them; they are shown, not used.) A
    class passes when it does not fail and its 95 % interval rules out a large leak: the
    interval's bad end within the metric's ``privacy_ceiling``. Otherwise it is inconclusive:
    too few series to tell, never a pass. No unseen real series: every class inconclusive
    with the reason, never a perfect score. The audit's ``passed``: False when a class fails
    any column, None when none fails but some is inconclusive, True when every class passes.
    Classes failing any column come first, then the inconclusive ones, then those that pass,
    each group worst first by the leading metric."""
    audited = [r for r in results if metric_attribute(registries, r.name, "privacy_threshold")
               is not None]
    if not audited:
        return None
    audited.sort(key=lambda r: (metric_attribute(registries, r.name, "report_order") or 10**6,
                                r.name))
    columns = [_privacy_verdict(registries, r) for r in audited]
    for result in results:
        alpha = metric_attribute(registries, result.name, "guard_threshold")
        if alpha is not None and metric_attribute(registries, result.name, "uses_holdout"):
            columns.append(verdict_from(result, float(alpha) / max(1, len(result.per_class)),
                                         []))
    lead, rest = columns[0], columns[1:]
    states = {c.label: [c.passed] for c in lead.classes}
    for column in rest:
        for c in column.classes:
            if c.label in states:
                states[c.label].append(c.passed)

    def state(c: ClassVerdict) -> int:
        marks = states[c.label]
        return 0 if False in marks else 1 if None in marks else 2

    def order(c: ClassVerdict) -> tuple[int, float]:
        if c.value is None:
            return state(c), np.inf
        return state(c), (-c.value if not lead.higher_is_better else c.value)

    lead.classes.sort(key=order)
    lead.guards = rest
    lead.worst = lead.classes[0].label if lead.classes else None
    failed = [c.label for c in lead.classes if state(c) == 0]
    unsure = [c for c in lead.classes if state(c) == 1]
    rules = ", ".join(rule(v) for v in columns)
    worst = lead.classes[0]
    at = "" if worst.value is None else f" at {lead.metric} {worst.value:.3f}"
    if failed:
        who = [f"{v.metric} fails {n}" for v in columns
               if (n := sum(c.passed is False for c in v.classes))]
        lead.summary = (f"{len(failed)} of {len(lead.classes)} class(es) fail the privacy audit "
                        f"({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; "
                        f"{', '.join(who)}); worst {worst.label}{at}")
    elif unsure:
        reason = next(c.reason for v in columns for c in v.classes
                      if c.passed is None and c.reason)
        if all(state(c) == 1 for c in lead.classes) and all(
                c.value is None for v in columns for c in v.classes):
            lead.summary = f"the privacy audit cannot be computed: {reason}"
        else:
            lead.summary = (f"privacy audit inconclusive for {len(unsure)} of "
                            f"{len(lead.classes)} class(es) "
                            f"({', '.join(c.label for c in unsure[:5])}): {reason}")
    else:
        lead.summary = (f"all {len(lead.classes)} class(es) pass the privacy audit ({rules}); "
                        f"worst {worst.label}{at}")
    lead.passed = False if failed else None if unsure else True
    return lead


def _privacy_verdict(registries: Registries, result: MetricResult) -> Verdict:
    """One privacy metric judged per class (see ``privacy_audit``), its classes worst first."""
    threshold = float(metric_attribute(registries, result.name, "privacy_threshold"))
    ceiling = metric_attribute(registries, result.name, "privacy_ceiling")
    ceiling = threshold if ceiling is None else float(ceiling)
    alpha = float(metric_attribute(registries, result.name, "privacy_alpha") or 0.01)
    higher = result.higher_is_better
    per_details = result.details.get("per_class_details", {})
    judged_alpha = alpha / max(1, len(result.per_class))
    classes = [_privacy_judge(label, v, per_details.get(label, {}), threshold, ceiling,
                              judged_alpha, higher) for label, v in result.per_class.items()]
    pooled = _privacy_judge("all", result.value, result.details, threshold, ceiling, alpha,
                            higher)
    classes = classes or [pooled]
    classes.sort(key=lambda c: (0 if c.passed is False else 1 if c.passed is None else 2,
                                np.inf if c.value is None else
                                (c.value if higher else -c.value)))
    failed = [c.label for c in classes if c.passed is False]
    unsure = [c.label for c in classes if c.passed is None]
    stated = rule(Verdict(metric=result.name, threshold=threshold, higher_is_better=higher))
    if failed:
        summary = (f"{len(failed)} of {len(classes)} class(es) fail {stated} beyond chance "
                   f"(its one-sided {1 - judged_alpha:.4g} bound past it): "
                   f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}")
    elif unsure:
        summary = f"inconclusive for {len(unsure)} of {len(classes)} class(es): " \
                  f"{classes[0].reason if classes[0].passed is None else ''}"
    else:
        summary = f"all {len(classes)} class(es) pass {stated}"
    return Verdict(metric=result.name, threshold=threshold, higher_is_better=higher,
                   passed=False if failed else None if unsure else True, summary=summary,
                   worst=classes[0].label, classes=classes, pooled=pooled)


def _privacy_judge(label: str, value: float, details: dict[str, Any], threshold: float,
                   ceiling: float, alpha: float, higher: bool) -> ClassVerdict:
    """Fail (past ``threshold`` beyond chance: the one-sided bound at ``alpha``, value -+
    z * ``se``, past it), pass (not failed, and the 95 % interval's bad end within
    ``ceiling``: a large leak is ruled out) or inconclusive, with why."""
    reason = details.get("inconclusive")
    ci = details.get("ci")
    se = details.get("se")
    finite = bool(np.isfinite(value))
    if reason is None and not finite:
        reason = "the metric returned no finite value"
    passed = None
    if reason is None:
        bad = value < threshold if higher else value > threshold
        far = None if not ci else (ci[0] if higher else ci[1])
        z = NormalDist().inv_cdf(1.0 - alpha)
        usable = se is not None and bool(np.isfinite(se)) and se >= 0
        bound = None if not usable else (value + z * se if higher else value - z * se)
        if bad and bound is not None and (bound < threshold if higher else bound > threshold):
            passed = False
        elif bad and bound is None:
            reason = "past the threshold and no standard error to tell it from chance"
        elif far is None:
            passed = None if bad else True
            reason = "past the threshold and no interval to judge it by" if bad else None
        elif far < ceiling if higher else far > ceiling:
            edge = "" if bound is None else (
                f"; fails when its one-sided bound, {bound:.3f} here, is past {threshold:g}")
            reason = (f"too few series to rule out a leak: {value:.3f}, its 95 % interval "
                      f"reaches {far:.2f}, past {ceiling:g}{edge}")
        else:
            passed = True
    return ClassVerdict(label=label, value=float(value) if finite else None,
                        ci=list(ci) if ci else None, passed=passed, reason=reason)
