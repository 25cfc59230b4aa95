"""One controller per resource. ``ROOT_CONTROLLERS`` serve at ``/`` (probes);
``API_CONTROLLERS`` under ``/api/v1``."""

from synthts_core.api.controllers.datasets import DatasetsController
from synthts_core.api.controllers.evaluations import EvaluationsController, MetricsController
from synthts_core.api.controllers.generation import GenerationController
from synthts_core.api.controllers.health import (
    HealthController,
    InfoController,
    PluginsController,
    root_liveness,
    root_readiness,
)
from synthts_core.api.controllers.jobs import ArchitecturesController, JobsController
from synthts_core.api.controllers.models import ModelsController
from synthts_core.api.controllers.signals import PresetsController, SignalsController

ROOT_CONTROLLERS = [root_liveness, root_readiness]
API_CONTROLLERS = [
    HealthController, InfoController, PluginsController, SignalsController, PresetsController,
    DatasetsController, ArchitecturesController, JobsController, ModelsController,
    GenerationController, EvaluationsController, MetricsController,
]

__all__ = ["API_CONTROLLERS", "ROOT_CONTROLLERS"]
