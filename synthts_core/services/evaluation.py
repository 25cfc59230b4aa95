"""Evaluation: compare a synthetic set with a real one through the registered metrics.

``compare`` is the engine (per class where labels exist, plus pooled); ``score`` is the single
number training uses to pick the best trial; ``EvaluationService`` (``runtime.services.
evaluations``) loads a registered model version, generates as many series per label as the real
set has, compares and stores the report with the version in the tracker. ``embeddings`` gives
2-D PCA / t-SNE points for figures; ``subsample_index``, ``first_per_label``, ``label_map`` and
``pca_2d`` are the one way series are picked, matched to a model's labels and projected, for
evaluation, the figures and the metric plugins alike. scikit-learn (t-SNE) and torch are
imported only when used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from synthts_core.domain import (
    ClassVerdict,
    Dataset,
    EvaluationReport,
    MetricResult,
    Verdict,
    to_builtins,
)
from synthts_core.errors import BadInputError
from synthts_core.measured import split_result
from synthts_core.missing import alike, comparable, has_missing

if TYPE_CHECKING:
    from synthts_core.registry import Registries
    from synthts_core.runtime import Runtime

MAX_EMBED_POINTS = 5000
log = logging.getLogger(__name__)


@dataclass
class EvaluationRun:
    """A report with the arrays it was computed from (for figures; never serialised)."""

    report: EvaluationReport
    real: Dataset
    synthetic_values: np.ndarray
    synthetic_labels: np.ndarray | None
    label_names: list[str]
    skipped: dict[str, str]


def _metric_names(registries: Registries, metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return registries.metrics.names()
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not metrics:
        raise BadInputError("metrics", "is empty",
                            allowed=", ".join(registries.metrics.names()) or "none installed")
    for name in metrics:
        registries.metrics.require(name, "metrics")
    return list(dict.fromkeys(metrics))


def _split(result: Any) -> tuple[float, float | None]:
    value, std, _ = split_result(result)
    return value, std


def _compute(metric: Any, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator,
             real_labels: np.ndarray | None, synthetic_labels: np.ndarray | None,
             holdout: Dataset | None = None) -> Any:
    kwargs: dict[str, Any] = {}
    labels = getattr(metric, "needs_labels", False)
    if labels:
        kwargs.update(real_labels=real_labels, synthetic_labels=synthetic_labels)
    if getattr(metric, "uses_holdout", False):
        kwargs["holdout"] = None if holdout is None else holdout.values
        if labels:
            kwargs["holdout_labels"] = None if holdout is None else holdout.labels
    return metric.compute(real, synthetic, rng, **kwargs)


def _check_synthetic(real: Dataset, values: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3 or values.shape[1:] != real.values.shape[1:]:
        raise BadInputError("synthetic_values", f"has shape {values.shape}",
                            allowed=f"(n, {real.meta.n_channels}, {real.meta.length}) like "
                                    f"dataset {real.meta.name!r}")
    if labels is not None and np.asarray(labels).shape != (values.shape[0],):
        raise BadInputError("synthetic_labels", f"has shape {np.asarray(labels).shape}",
                            allowed=f"one label per series ({values.shape[0]},)")
    return values


def compare(registries: Registries, real: Dataset, synthetic_values: np.ndarray,
            synthetic_labels: np.ndarray | None, metrics: Sequence[str] | None = None, *,
            seed: int = 0, per_class: bool = True,
            pooled_only: Sequence[str] | None = None, holdout: Dataset | None = None,
            holdout_text: str = "") -> list[MetricResult]:
    """One ``MetricResult`` per metric: the pooled value (and std) plus one value per class
    present in both sets (per-class stds in ``details["per_class_std"]``). A metric needing more
    channels than the data has is left out; ``skipped_metrics`` says which and why.
    ``holdout``: real series the generator never saw (labels indexed like ``real``'s), handed
    to the metrics that declare ``uses_holdout`` (per class: that class's), whose details say
    in ``scored_on`` what they were scored on (``holdout_text``, or the training series).
    Metrics named in ``pooled_only`` skip the per-class values; by default (None) those whose
    ``per_class_by_default`` is False do (the post-hoc classifiers: tens of seconds per fit).
    Real series with missing points (trained on or held out): every metric compares the sets
    as ``missing.alike`` makes them (each series also gets the gaps of a series of its class
    from every other set, then all are filled alike), said in each result's
    ``details["missing_points"]``."""
    values = _check_synthetic(real, synthetic_values, synthetic_labels)
    gapped = has_missing(real.values) or (holdout is not None and has_missing(holdout.values))
    if gapped:
        sets = [(real.values, real.labels)]
        if holdout is not None:
            sets.append((holdout.values, holdout.labels))
        filled, values = alike(sets, values, synthetic_labels, np.random.default_rng([seed, 3]))
        real = Dataset(real.meta, filled[0], real.labels, real.times)
        if holdout is not None:
            holdout = Dataset(holdout.meta, filled[1], holdout.labels, holdout.times)
    names = _metric_names(registries, metrics)
    labelled = real.labels is not None and synthetic_labels is not None
    skipped = skipped_metrics(registries, names, real.meta.n_channels, labelled=labelled)
    if pooled_only is None:
        pooled_only = [n for n in names
                       if not getattr(registries.metrics.get(n), "per_class_by_default", True)]
    classes: list[tuple[str, np.ndarray, np.ndarray]] = []
    if per_class and labelled:
        syn_labels = np.asarray(synthetic_labels)
        for idx, label in enumerate(real.meta.label_names):
            r_mask, s_mask = real.labels == idx, syn_labels == idx
            if r_mask.sum() >= 2 and s_mask.sum() >= 2:
                classes.append((label, r_mask, s_mask, _class_part(holdout, idx)))
    results = []
    for k, name in enumerate(names):
        metric = registries.metrics.get(name)
        if name in skipped:
            log.info("metric %s skipped: %s", name, skipped[name])
            continue
        needs_labels = getattr(metric, "needs_labels", False)
        value, std, extra = split_result(_compute(
            metric, real.values, values, np.random.default_rng([seed, k]), real.labels,
            None if synthetic_labels is None else np.asarray(synthetic_labels), holdout))
        per: dict[str, float] = {}
        per_std: dict[str, float] = {}
        per_extra: dict[str, dict[str, Any]] = {}
        by_class = [] if name in pooled_only or needs_labels else classes
        for ci, (label, r_mask, s_mask, held) in enumerate(by_class):
            v, sd, ex = split_result(_compute(metric, real.values[r_mask], values[s_mask],
                                              np.random.default_rng([seed, k, ci + 1]),
                                              None, None, held))
            per[label] = v
            if sd is not None:
                per_std[label] = sd
            if ex:
                per_extra[label] = ex
        details: dict[str, Any] = {"description": metric.description,
                                   "n_real": len(real.values), "n_synthetic": len(values),
                                   **extra}
        if getattr(metric, "uses_holdout", False):
            details["scored_on"] = holdout_text if holdout is not None else \
                f"the {len(real.values)} training series (no held-out series)"
        if gapped:
            details["missing_points"] = MISSING_NOTE
        if per_std:
            details["per_class_std"] = per_std
        if per_extra:
            details["per_class_details"] = per_extra
        results.append(MetricResult(name=name, value=value, std=std, per_class=per,
                                    higher_is_better=bool(metric.higher_is_better),
                                    details=details))
    return results


MISSING_NOTE = ("real series (trained on or held out) have missing points or unequal lengths "
                "(NaN past a series' end): every series was also given the gaps of a series of "
                "the same class from each other set, then all were filled by linear "
                "interpolation along the series, so no set differs from another by its gaps")


def _class_part(data: Dataset | None, index: int) -> Dataset | None:
    """The series of one label index (None when there is no data or it lacks labels)."""
    if data is None or data.labels is None:
        return None
    keep = data.labels == index
    return Dataset(data.meta, data.values[keep], data.labels[keep])


def _attribute(registries: Registries, name: str, attribute: str) -> Any:
    return getattr(registries.metrics.get(name), attribute, None) \
        if name in registries.metrics else None


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
        alpha = _attribute(registries, result.name, "guard_threshold")
        if alpha is not None:
            n = max(1, len(result.per_class))
            guards.append(_verdict_from(result, float(alpha) / n, []))
    main = None
    for result in results:
        threshold = _attribute(registries, result.name, "pass_threshold")
        if threshold is not None:
            main = _verdict_from(result, float(threshold), list(notes))
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
    audited = [r for r in results if _attribute(registries, r.name, "privacy_threshold")
               is not None]
    if not audited:
        return None
    audited.sort(key=lambda r: (_attribute(registries, r.name, "report_order") or 10**6,
                                r.name))
    columns = [_privacy_verdict(registries, r) for r in audited]
    for result in results:
        alpha = _attribute(registries, result.name, "guard_threshold")
        if alpha is not None and _attribute(registries, result.name, "uses_holdout"):
            columns.append(_verdict_from(result, float(alpha) / max(1, len(result.per_class)),
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
    rules = ", ".join(_rule(v) for v in columns)
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


def _rule(v: Verdict) -> str:
    return f"{v.metric} {'>=' if v.higher_is_better else '<='} {v.threshold:.3g}"


def _privacy_verdict(registries: Registries, result: MetricResult) -> Verdict:
    """One privacy metric judged per class (see ``privacy_audit``), its classes worst first."""
    threshold = float(_attribute(registries, result.name, "privacy_threshold"))
    ceiling = _attribute(registries, result.name, "privacy_ceiling")
    ceiling = threshold if ceiling is None else float(ceiling)
    alpha = float(_attribute(registries, result.name, "privacy_alpha") or 0.01)
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
    rule = _rule(Verdict(metric=result.name, threshold=threshold, higher_is_better=higher))
    if failed:
        summary = (f"{len(failed)} of {len(classes)} class(es) fail {rule} beyond chance "
                   f"(its one-sided {1 - judged_alpha:.4g} bound past it): "
                   f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}")
    elif unsure:
        summary = f"inconclusive for {len(unsure)} of {len(classes)} class(es): " \
                  f"{classes[0].reason if classes[0].passed is None else ''}"
    else:
        summary = f"all {len(classes)} class(es) pass {rule}"
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


def _judge(label: str, value: float, details: dict[str, Any], threshold: float,
           higher: bool) -> ClassVerdict:
    reason = details.get("inconclusive")
    ci = details.get("ci")
    if reason is None and not np.isfinite(value):
        reason = "the metric returned no finite value"
    passed = None if reason else bool(value >= threshold if higher else value <= threshold)
    return ClassVerdict(label=label, value=float(value) if np.isfinite(value) else None,
                        ci=list(ci) if ci else None, passed=passed, reason=reason)


def _verdict_from(result: MetricResult, threshold: float, notes: list[str]) -> Verdict:
    higher = result.higher_is_better
    pooled_details = {k: result.details[k] for k in ("ci", "inconclusive") if k in result.details}
    pooled = _judge("all", result.value, pooled_details, threshold, higher)
    per_details = result.details.get("per_class_details", {})
    classes = [_judge(label, v, per_details.get(label, {}), threshold, higher)
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


def skipped_metrics(registries: Registries, metrics: Sequence[str] | None,
                    channels: int, *, labelled: bool = True) -> dict[str, str]:
    """Metric name -> why it cannot run on data with ``channels`` channels (or without
    labels on both sides)."""
    out = {}
    for name in _metric_names(registries, metrics):
        metric = registries.metrics.get(name)
        needs = int(getattr(metric, "min_channels", 1))
        if needs > channels:
            out[name] = f"needs at least {needs} channels, the data has {channels}"
        elif getattr(metric, "needs_labels", False) and not labelled:
            out[name] = "needs labelled real and synthetic series"
    return out


def score(registries: Registries, metric_name: str, real_values: np.ndarray,
          synthetic_values: np.ndarray, seed: int = 0) -> float:
    """One metric on pooled sets (the mean where it reports (mean, std)); training ranks trials
    by it, reading ``higher_is_better`` from the registry."""
    metric = registries.metrics.require(metric_name, "select_metric")
    return _split(metric.compute(np.asarray(real_values, np.float32),
                                 np.asarray(synthetic_values, np.float32),
                                 np.random.default_rng(seed)))[0]


def higher_is_better(registries: Registries, metric_name: str) -> bool:
    return bool(registries.metrics.require(metric_name, "select_metric").higher_is_better)


def evaluate(rt: Runtime, model_ref_text: str, dataset_name: str | None = None,
             metrics: Sequence[str] | None = None, n_per_label: int | None = None,
             seed: int = 0, *, store: bool = True) -> EvaluationReport:
    """``EvaluationService.run(...).report`` (kept for the callers of the module function)."""
    return rt.services.evaluations.run(model_ref_text, dataset_name, metrics, n_per_label, seed,
                                       store=store).report


def run_evaluation(rt: Runtime, model_ref_text: str, dataset_name: str | None = None,
                   metrics: Sequence[str] | None = None, n_per_label: int | None = None,
                   seed: int = 0, *, store: bool = True,
                   pooled_only: Sequence[str] | None = None) -> EvaluationRun:
    """``EvaluationService.run`` (kept for the callers of the module function)."""
    return rt.services.evaluations.run(model_ref_text, dataset_name, metrics, n_per_label, seed,
                                       store=store, pooled_only=pooled_only)


class EvaluationService:
    """Evaluations: a registered model version against a dataset, by the registered metrics."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def evaluate(self, model: str, version: str, dataset: str,
                 metrics: Sequence[str] | None = None, n_per_label: int = 100, seed: int = 0,
                 *, bounded: bool = True) -> EvaluationReport:
        """Generate ``n_per_label`` series per label from ``model@version``, compare them with
        ``dataset`` and store the report with the version. ``bounded``: refuse more synthetic
        values than SYNTHTS_MAX_GENERATE_VALUES (what one API request may ask for), checked
        with the metric names before the model is loaded."""
        if bounded:
            from synthts_core.services.models import check_volume

            meta = self.rt.storage.get_dataset_meta(dataset)
            check_volume(n_per_label * max(1, len(meta.label_names)), meta.n_channels,
                         meta.length, self.rt.settings.max_generate_values,
                         "synthetic series x channels x length for the evaluation")
        return self.run(f"{model}@{version}", dataset, metrics, n_per_label, seed).report

    def run(self, model_ref_text: str, dataset_name: str | None = None,
            metrics: Sequence[str] | None = None, n_per_label: int | None = None,
            seed: int = 0, *, store: bool = True,
            pooled_only: Sequence[str] | None = None) -> EvaluationRun:
        """Evaluate ``NAME[@version|alias]`` against a stored dataset (default: the one it
        learned), keeping the real and generated arrays so a caller (the CLI's HTML report)
        can draw figures without generating twice.

        Generates as many series per label as the real set has (or ``n_per_label``), computes
        the metrics and, unless ``store=False``, logs the report with the version in the
        tracker."""
        from synthts_core.services.models import parse_model_ref

        rt = self.rt
        name, version = parse_model_ref(model_ref_text)
        names = _metric_names(rt.registries, metrics)
        model = rt.services.models.load(name, version)
        if dataset_name is None:
            dataset_name = (model.config.get("dataset") or {}).get("name")
            if not dataset_name:
                raise BadInputError("dataset", f"model {name}@{model.ref.version} does not "
                                    "record its training dataset", allowed="a dataset name")
        from synthts_core.services.holdout import training_part

        stored = rt.storage.read_dataset(dataset_name)
        real = training_part(stored)  # what the model learned; held-out series are unseen
        if real.values.shape[1:] != (model.n_channels, model.length):
            raise BadInputError("dataset", f"{dataset_name!r} has (channels, length) "
                                f"{real.values.shape[1:]}",
                                allowed=f"the model's ({model.n_channels}, {model.length})")
        counts = _generation_counts(real, model, n_per_label)
        values, labels = model.generate(counts=counts, seed=seed) if counts else \
            model.generate(n=n_per_label or real.meta.n_series, seed=seed)
        values = model.in_units(values, "real")  # stored values are real units
        real_for_model = _relabel_for_model(real, model.label_names)
        notes = []
        compared = real_for_model
        unseen, unseen_text = self._unseen(names, stored, model.label_names)
        if model.config.get("augment"):
            # the model was taught that phase is random: judge it against what it was taught
            compared = circularly_shifted(real_for_model, seed)
            unseen = None if unseen is None else circularly_shifted(unseen, seed + 1)
            notes.append("the model was trained with circular-shift augmentation, so it was "
                         "compared with the real series shifted at random the same way; its "
                         "phases are random by design")
        notes.extend(_unseen_notes(rt.registries, names, unseen, unseen_text, len(real.values)))
        # metrics compare in the dataset's normalised units (the per-channel normalisation
        # recorded at import), so every channel counts alike whatever its units; the run
        # keeps real units for figures
        from synthts_core.services.units import to_normalised

        norm = stored.meta.normalisation
        results = compare(rt.registries, _normalised(compared, norm),
                          to_normalised(values, norm), labels, names, seed=seed,
                          pooled_only=pooled_only,
                          holdout=None if unseen is None else _normalised(unseen, norm),
                          holdout_text=unseen_text)
        report = EvaluationReport(model=model.ref, dataset=dataset_name,
                                  dataset_checksum=stored.meta.checksum,
                                  n_synthetic=len(values), metrics=results,
                                  verdict=verdict(rt.registries, results, notes),
                                  unseen=unseen_text if unseen is not None else "")
        if store:
            rt.tracker.log_evaluation(model.ref.name, model.ref.version, to_builtins(report))
        return EvaluationRun(report, real_for_model, values, labels, model.label_names,
                             skipped_metrics(rt.registries, names, real.meta.n_channels,
                                             labelled=labels is not None
                                             and real_for_model.labels is not None))

    def _unseen(self, names: Sequence[str], stored: Dataset, model_labels: list[str]
                ) -> tuple[Dataset | None, str]:
        """Real series the model never saw, in the model's label order, when a metric asks
        for them: (None, why) when there are none."""
        from synthts_core.services.holdout import unseen_real

        if not any(_attribute(self.rt.registries, n, "uses_holdout") for n in names):
            return None, ""
        unseen, text = unseen_real(self.rt.registries, stored)
        if unseen is None or unseen.values.shape[1:] != stored.values.shape[1:]:
            return None, text
        return _relabel_for_model(unseen, model_labels), text

    def html_report(self, run: EvaluationRun) -> str:
        """The evaluation as one self-contained HTML page: the verdict, the metric table, real
        vs synthetic per label and the PCA and t-SNE embeddings."""
        from synthts_core import figures
        from synthts_core.services.report import STYLE, verdict_html

        real = run.real
        label_names = run.label_names or real.meta.label_names
        figs = [figures.metrics_table_figure(run.report.metrics),
                figures.real_vs_synthetic_figure(real.values, real.labels, run.synthetic_values,
                                                 run.synthetic_labels, label_names)]
        for method in ("pca", "tsne"):
            r_pts, s_pts = embeddings(real.values, run.synthetic_values, method,
                                      max_points=1000 if method == "pca" else 500,
                                      real_labels=real.labels,
                                      synthetic_labels=run.synthetic_labels)
            figs.append(figures.embedding_figure(r_pts, s_pts, method))
        ref = run.report.model
        title = f"Evaluation of {ref.name}@{ref.version} on {run.report.dataset}" if ref else \
            f"Evaluation on {run.report.dataset}"
        return figures.to_html(figs, title, lead=verdict_html(run.report.verdict), style=STYLE)


def _unseen_notes(registries: Registries, names: Sequence[str], unseen: Dataset | None,
                  text: str, n_train: int) -> list[str]:
    """What the metrics that use unseen real series were scored on, for the verdict's notes."""
    using = [n for n in names if _attribute(registries, n, "uses_holdout")]
    if not using:
        return []
    if unseen is not None:
        return [f"{', '.join(using)} scored on {text}; the other metrics compare with the "
                f"{n_train} training series"]
    out = [f"no real series the generator never saw ({text})"]
    if "tstr" in using:
        out.append(f"tstr was scored on the {n_train} training series the generator learned: "
                   "it is not a figure on unseen real data")
    return out


def circularly_shifted(real: Dataset, seed: int) -> Dataset:
    """Every series rolled by its own random offset (what circular-shift augmentation
    teaches a model)."""
    rng = np.random.default_rng([seed, 17])
    length = real.values.shape[2]
    shifts = rng.integers(0, length, size=len(real.values))
    idx = (np.arange(length)[None, :] - shifts[:, None]) % length
    values = np.take_along_axis(real.values, idx[:, None, :].repeat(real.values.shape[1], 1), 2)
    return Dataset.build(real.meta.name, values, real.labels, list(real.meta.label_names))


def _generation_counts(real: Dataset, model: Any, n_per_label: int | None) -> dict[str, int]:
    """Per-label counts for a conditional model: the real set's, or ``n_per_label`` each, for
    the labels both know."""
    if not model.conditional:
        return {}
    if n_per_label is not None and (isinstance(n_per_label, bool) or int(n_per_label) < 1):
        raise BadInputError("n_per_label", f"got {n_per_label!r}", allowed="an integer >= 1")
    counts = {}
    for label, count in zip(real.meta.label_names, real.meta.label_counts, strict=False):
        if label in model.label_names and count > 0:
            counts[label] = int(n_per_label or count)
    if not counts:
        raise BadInputError("dataset", f"{real.meta.name!r} shares no label with the model",
                            allowed=", ".join(model.label_names))
    return counts


def _normalised(dataset: Dataset, norm: Any) -> Dataset:
    """``dataset`` with its values in the normalised units of ``norm`` (what metrics see)."""
    from synthts_core.services.units import to_normalised

    return Dataset(dataset.meta, to_normalised(dataset.values, norm), dataset.labels,
                   dataset.times, dataset.lengths)


def _relabel_for_model(real: Dataset, model_labels: list[str]) -> Dataset:
    """The real set with label indices in the model's label order (series of labels the model
    does not know are dropped), so per-class comparison lines up."""
    if real.labels is None or not model_labels or real.meta.label_names == model_labels:
        return real
    new = label_map(real.meta.label_names, model_labels)[real.labels]
    keep = new >= 0
    import msgspec

    from synthts_core.domain import checksum
    from synthts_core.services.holdout import subset

    part = subset(real, keep)  # the same grid: lengths, times and normalisation kept
    labels = new[keep]
    meta = msgspec.structs.replace(
        part.meta, label_names=list(model_labels),
        label_counts=np.bincount(labels, minlength=len(model_labels)).tolist(),
        checksum=checksum(part.values, labels, part.times, part.lengths))
    return Dataset(meta, part.values, labels, part.times, part.lengths)


# ------------------------------------------------------------------ choosing and projecting
# series: the one implementation that evaluation, the figures, the API's real-beside-synthetic
# plots and the metrics plugin's bounded subsampling share


def label_map(names: Sequence[str], to: Sequence[str]) -> np.ndarray:
    """Index in ``to`` of each label of ``names`` (-1 where ``to`` lacks it): maps a dataset's
    label indices onto a model's (``label_map(meta.label_names, model.label_names)[labels]``)."""
    to = list(to)
    return np.array([to.index(n) if n in to else -1 for n in names], dtype=np.int64)


def first_per_label(labels: np.ndarray, wanted: Sequence[int] | np.ndarray,
                    per_label: int | None) -> np.ndarray:
    """Sorted row indices: the first ``per_label`` rows (all when None) of each label index in
    ``wanted``."""
    labels = np.asarray(labels)
    parts = [np.flatnonzero(labels == k)[:per_label] for k in wanted]
    return np.sort(np.concatenate(parts)) if parts else np.arange(0)


def subsample_index(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``cap`` of ``n`` rows, drawn without replacement with
    ``rng`` (all rows, in order, when ``n <= cap``)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def pca_2d(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA fitted on both sets together (each series flattened over channels and time): the
    2-D points of each set. NumPy only: an SVD of the centred rows."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise BadInputError("synthetic", f"series have {b.shape[1]} values",
                            allowed=f"the real series' {a.shape[1]}")
    joined = np.concatenate([a, b])
    centred = joined - joined.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:  # a single feature: pad with a zero axis
        components = np.vstack([components, np.zeros_like(components)])
    points = centred @ components.T
    return points[: len(a)], points[len(a):]


def embeddings(real: np.ndarray, synthetic: np.ndarray,
               method: Literal["pca", "tsne"] = "pca", max_points: int = 1000,
               seed: int = 0, real_labels: np.ndarray | None = None,
               synthetic_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D points for real and synthetic series (each flattened), fitted on both together.

    At most ``max_points`` series per set (bounded by 5000) are embedded; t-SNE is slow, keep it
    at a few thousand points in all. Missing points are filled as ``missing.comparable``
    does for the metrics (gaps taken from a real series of the same class when both sets'
    labels are given)."""
    if method not in ("pca", "tsne"):
        raise BadInputError("method", f"got {method!r}", allowed="pca, tsne")
    if not 2 <= int(max_points) <= MAX_EMBED_POINTS:
        raise BadInputError("max_points", f"got {max_points!r}",
                            allowed=f"2..{MAX_EMBED_POINTS}")
    rng = np.random.default_rng(seed)
    sets = []
    for arr in comparable(real, synthetic, rng, real_labels, synthetic_labels):
        a = np.asarray(arr, dtype=np.float64)
        a = a[subsample_index(len(a), max_points, rng)]
        sets.append(a.reshape(len(a), -1))
    if method == "pca":
        return pca_2d(sets[0], sets[1])
    from sklearn.manifold import TSNE

    joined = np.concatenate(sets)
    perplexity = float(min(30, max(2, (len(joined) - 1) // 3)))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca",
                  random_state=seed).fit_transform(joined)
    return points[: len(sets[0])], points[len(sets[0]):]
