"""Evaluation of a model version against a dataset, and the catalogue of quality metrics."""

from __future__ import annotations

from litestar import Controller, Response, get, post

from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    EvaluationCreate,
    EvaluationRead,
    MetricInfoList,
    MetricInfoRead,
)
from synthts_core.api.security import WRITE_SECURITY, check_volume
from synthts_core.runtime import Runtime


class EvaluationsController(Controller):
    path = "/evaluations"
    tags = ["evaluations"]

    @post("/", operation_id="evaluateModel", sync_to_thread=True, security=WRITE_SECURITY,
          responses=problems(401, 404, 413, 415, 503))
    def evaluate(self, runtime: Runtime, data: EvaluationCreate) -> Response[EvaluationRead]:
        """Generate ``n_per_label`` series per label from the model version, compare them
        with the dataset by each metric (per class where labels exist), store the report with
        the model version in the tracker, and return it (201). Runs in a worker thread."""
        from synthts_core.services import evaluation

        meta = _dataset_meta(runtime, data.dataset)
        n_labels = max(1, len(meta.label_names))
        check_volume(data.n_per_label * n_labels, meta.n_channels, meta.length,
                     runtime.settings.max_generate_values, what="synthetic series x channels "
                     "x length for the evaluation")
        if data.metrics:
            for name in data.metrics:
                runtime.registries.metrics.require(name, "metrics")
        report = evaluation.evaluate(runtime, f"{data.model}@{data.version}", data.dataset,
                                     data.metrics, data.n_per_label, data.seed)
        return Response(EvaluationRead.from_domain(report), status_code=201)


class MetricsController(Controller):
    path = "/metrics"
    tags = ["evaluations"]

    @get("/", operation_id="listMetrics", sync_to_thread=False, responses=problems())
    def list_metrics(self, runtime: Runtime) -> Response[MetricInfoList]:
        """Installed quality metrics (what an evaluation may ask for)."""
        regs = runtime.registries.metrics
        items = [MetricInfoRead(name=n, description=getattr(m, "description", "") or "",
                                higher_is_better=bool(m.higher_is_better),
                                plugin=regs.plugin_of(n))
                 for n, m in ((n, regs.get(n)) for n in regs.names())]
        return Response(MetricInfoList(items=items),
                        headers={"Cache-Control": "public, max-age=300"})


def _dataset_meta(runtime: Runtime, name: str):  # -> DatasetMeta
    from synthts_core.services import datasets

    return datasets.get_meta(runtime, name)
