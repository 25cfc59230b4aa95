"""Evaluation: compare a synthetic set with a real one through the registered metrics.

One job per module:

- ``comparison``: ``compare`` (per class where labels exist, plus pooled), ``skipped_metrics``
  and ``higher_is_better`` (which way a metric ranks training's trials);
- ``judging``: one metric judged per class against a threshold (shared by the two below);
- ``verdict``: the verdict, the memorisation guards beside it, the privacy audit attached;
- ``privacy``: the privacy audit per class, beyond chance;
- ``preparation``: the real series as the model's evaluation sees them (its label order,
  circularly shifted, normalised units);
- ``service``: ``EvaluationService`` (``runtime.services.evaluations``), which loads a model
  version, generates, compares and stores the report.

Choosing series (``synthts_core.subsets``) and projecting them to 2-D
(``synthts_core.projection``) are core leaf modules: the figures, the TUI and the metric plugins
use them without the services. scikit-learn (t-SNE) and torch are imported only when used.
"""

from synthts_core.services.evaluation.comparison import (
    compare,
    higher_is_better,
    skipped_metrics,
)
from synthts_core.services.evaluation.privacy import privacy_audit
from synthts_core.services.evaluation.service import EvaluationRun, EvaluationService
from synthts_core.services.evaluation.verdict import verdict

__all__ = ["EvaluationRun", "EvaluationService", "compare", "higher_is_better", "privacy_audit",
           "skipped_metrics", "verdict"]
