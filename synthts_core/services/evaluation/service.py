"""``EvaluationService`` (``runtime.services.evaluations``): loads a registered model version,
generates as many series per label as the real set has, compares and stores the report with the
version in the tracker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import Dataset, EvaluationReport, to_builtins
from synthts_core.errors import BadInputError
from synthts_core.services.evaluation.comparison import compare, metric_names, skipped_metrics
from synthts_core.services.evaluation.judging import metric_attribute
from synthts_core.services.evaluation.preparation import (
    circularly_shifted,
    normalised,
    relabel_for_model,
)
from synthts_core.services.evaluation.verdict import verdict

if TYPE_CHECKING:
    from synthts_core.registry import Registries
    from synthts_core.runtime import Runtime


@dataclass
class EvaluationRun:
    """A report with the arrays it was computed from (for figures; never serialised)."""

    report: EvaluationReport
    real: Dataset
    synthetic_values: np.ndarray
    synthetic_labels: np.ndarray | None
    label_names: list[str]
    skipped: dict[str, str]


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
            from synthts_core.limits import check_volume

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
        names = metric_names(rt.registries, metrics)
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
        real_for_model = relabel_for_model(real, model.label_names)
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
        from synthts_core.normalisation import to_normalised

        norm = stored.meta.normalisation
        results = compare(rt.registries, normalised(compared, norm),
                          to_normalised(values, norm), labels, names, seed=seed,
                          pooled_only=pooled_only,
                          holdout=None if unseen is None else normalised(unseen, norm),
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

        if not any(metric_attribute(self.rt.registries, n, "uses_holdout") for n in names):
            return None, ""
        unseen, text = unseen_real(self.rt.registries, stored)
        if unseen is None or unseen.values.shape[1:] != stored.values.shape[1:]:
            return None, text
        return relabel_for_model(unseen, model_labels), text

    def html_report(self, run: EvaluationRun) -> str:
        """The evaluation as one self-contained HTML page: the verdict, the metric table, real
        vs synthetic per label and the PCA and t-SNE embeddings."""
        from synthts_core import figures, projection
        from synthts_core.services.report import STYLE, verdict_html

        real = run.real
        label_names = run.label_names or real.meta.label_names
        figs = [figures.metrics_table_figure(run.report.metrics),
                figures.real_vs_synthetic_figure(real.values, real.labels, run.synthetic_values,
                                                 run.synthetic_labels, label_names)]
        for method in ("pca", "tsne"):
            r_pts, s_pts = projection.embeddings(real.values, run.synthetic_values, method,
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
    using = [n for n in names if metric_attribute(registries, n, "uses_holdout")]
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
