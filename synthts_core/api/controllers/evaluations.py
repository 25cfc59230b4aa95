"""Evaluation of a model version against a dataset, and the catalogue of quality metrics."""

from __future__ import annotations

from litestar import Controller, Response, get, post

from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    EvaluationCreate,
    EvaluationRead,
    MetricInfoList,
    MetricInfoRead,
    catalogue_read,
)
from synthts_core.api.security import WRITE_SECURITY
from synthts_core.services.catalogue import CatalogueService
from synthts_core.services.evaluation import EvaluationService


class EvaluationsController(Controller):
    path = "/evaluations"
    tags = ["evaluations"]

    @post("/", operation_id="evaluateModel", sync_to_thread=True, security=WRITE_SECURITY,
          responses=problems(401, 404, 413, 415, 503))
    def evaluate(self, evaluations: EvaluationService,
                 data: EvaluationCreate) -> Response[EvaluationRead]:
        """Generate ``n_per_label`` series per label from the model version, compare them
        with the dataset by each metric (per class where labels exist), store the report with
        the model version in the tracker, and return it (201). Runs in a worker thread."""
        report = evaluations.evaluate(data.model, data.version, data.dataset, data.metrics,
                                      data.n_per_label, data.seed)
        return Response(EvaluationRead.from_domain(report), status_code=201)


class MetricsController(Controller):
    path = "/metrics"
    tags = ["evaluations"]

    @get("/", operation_id="listMetrics", sync_to_thread=False, responses=problems())
    def list_metrics(self, catalogue: CatalogueService) -> Response[MetricInfoList]:
        """Installed quality metrics (what an evaluation may ask for)."""
        items = [catalogue_read(info, MetricInfoRead) for info in catalogue.metrics()]
        return Response(MetricInfoList(items=items),
                        headers={"Cache-Control": "public, max-age=300"})
