"""The verdict of an evaluation: the metric that can fail (``pass_threshold``), the memorisation
guards beside it (``guard_threshold``) and the privacy audit attached."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from synthts_core.domain import MetricResult, Verdict
from synthts_core.services.evaluation.judging import metric_attribute, verdict_from
from synthts_core.services.evaluation.privacy import privacy_audit

if TYPE_CHECKING:
    from synthts_core.registry import Registries


def verdict(registries: Registries, results: Sequence[MetricResult],
            notes: Sequence[str] = ()) -> Verdict | None:
    """The verdict from the first computed metric that states a ``pass_threshold`` (a metric
    that can fail, such as the built-in detector): each class passes when its value is on the
    good side of the threshold and the metric vouched for it; classes sorted worst first.

    Metrics that state a ``guard_threshold`` (the memorisation guard) are judged beside it the
    same way, the threshold divided by the number of classes judged (Bonferroni, so a model
    without the flaw fails any class by chance at most at the stated rate); a class a guard
    fails fails the verdict. A guard that cannot measure is shown with its reason and fails
    nothing. Metrics that state a ``privacy_threshold`` form the privacy audit
    (``privacy_audit``, in ``Verdict.privacy``): a class it fails fails the verdict too, an
    audit that cannot be computed is named in the summary and fails nothing. Only privacy
    metrics evaluated: the audit is the verdict, ``passed`` None when it is inconclusive (it
    cannot vouch, but it failed nothing either)."""
    guards = []
    for result in results:
        alpha = metric_attribute(registries, result.name, "guard_threshold")
        if alpha is not None:
            n = max(1, len(result.per_class))
            guards.append(verdict_from(result, float(alpha) / n, []))
    main = None
    for result in results:
        threshold = metric_attribute(registries, result.name, "pass_threshold")
        if threshold is not None:
            main = verdict_from(result, float(threshold), list(notes))
            break
    audit = privacy_audit(registries, results)
    if main is None:
        if not guards:
            if audit is not None:
                audit.notes = list(notes)
            return audit  # only privacy metrics were evaluated: the audit is the verdict
        main, guards = guards[0], guards[1:]
        main.notes = list(notes)
    return _with_audit(_with_guards(main, guards), audit)


def _with_guards(main: Verdict, guards: list[Verdict]) -> Verdict:
    """The main verdict failed by any class a guard fails, its summary naming the guards."""
    main.guards = guards
    for guard in guards:
        failed = [c.label for c in guard.classes if c.passed is False]
        unsure = [c for c in guard.classes if c.passed is None]
        if failed:
            main.passed = False
            main.summary += (f"; {guard.metric} fails {len(failed)} class(es) "
                             f"({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}): "
                             "synthetic series sit closer to the training series than unseen "
                             "real ones do")
        elif unsure:
            main.summary += f"; {guard.metric} inconclusive: {unsure[0].reason}"
        else:
            main.summary += f"; {guard.metric} passes every class"
    return main


def _with_audit(main: Verdict, audit: Verdict | None) -> Verdict:
    """The verdict with the privacy audit attached: failed by any class the audit fails, its
    summary saying how the audit went (or that it could not be computed)."""
    if audit is None:
        return main
    main.privacy = audit
    failed = [c.label for c in audit.classes
              if any(g.passed is False for v in (audit, *audit.guards)
                     for g in v.classes if g.label == c.label)]
    if failed:
        main.passed = False
        main.summary += (f"; the privacy audit fails {len(failed)} class(es) "
                         f"({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}): "
                         "the synthetic series give away which series trained the model")
    elif not audit.passed:
        main.summary += "; " + audit.summary.replace("privacy audit inconclusive",
                                                     "the privacy audit is inconclusive")
    else:
        main.summary += "; the privacy audit passes every class"
    return main
