"""Comparing a synthetic set with a real one through the registered metrics: ``compare`` (per
class where labels exist, plus pooled), what cannot run on the data (``skipped_metrics``) and
which way a metric ranks (``higher_is_better``, read when training picks its best trial)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import Dataset, MetricResult
from synthts_core.errors import BadInputError
from synthts_core.measured import split_result
from synthts_core.missing import alike, has_missing

if TYPE_CHECKING:
    from synthts_core.registry import Registries

log = logging.getLogger(__name__)


def metric_names(registries: Registries, metrics: Sequence[str] | None) -> list[str]:
    """The metrics asked for (a list or ``"a,b"``; None: every installed one), each checked
    to be installed, duplicates dropped."""
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
    names = metric_names(registries, metrics)
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


def skipped_metrics(registries: Registries, metrics: Sequence[str] | None,
                    channels: int, *, labelled: bool = True) -> dict[str, str]:
    """Metric name -> why it cannot run on data with ``channels`` channels (or without
    labels on both sides)."""
    out = {}
    for name in metric_names(registries, metrics):
        metric = registries.metrics.get(name)
        needs = int(getattr(metric, "min_channels", 1))
        if needs > channels:
            out[name] = f"needs at least {needs} channels, the data has {channels}"
        elif getattr(metric, "needs_labels", False) and not labelled:
            out[name] = "needs labelled real and synthetic series"
    return out


def higher_is_better(registries: Registries, metric_name: str | None, *,
                     strict: bool = True) -> bool:
    """Whether a larger value of ``metric_name`` is better. An unknown metric is a
    ``NotFoundError`` naming it when ``strict`` (ranking a job's trials); otherwise it reads as
    a distance, lower is better (showing a job whose metric is no longer installed)."""
    if not strict and metric_name not in registries.metrics:
        return False
    return bool(registries.metrics.get(metric_name).higher_is_better)
