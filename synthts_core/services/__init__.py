"""Services: the one way into the application.

One service object per resource, built from a runtime and reached as ``runtime.services.<name>``.
The API's controllers receive them by dependency injection (the parameter name is the service's
name: ``datasets: DatasetService``), the CLI through its runtime. Controllers and commands only
translate between their front end and these calls; storage, the tracker and the plugin
registries are reached only from here (``tests/core/test_import_rules.py`` holds that line).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime
    from synthts_core.services.catalogue import CatalogueService
    from synthts_core.services.datasets import DatasetService
    from synthts_core.services.evaluation import EvaluationService
    from synthts_core.services.jobs import JobService
    from synthts_core.services.models import ModelService
    from synthts_core.services.system import SystemService

SERVICE_CLASSES: dict[str, tuple[str, str]] = {
    "datasets": ("synthts_core.services.datasets", "DatasetService"),
    "catalogue": ("synthts_core.services.catalogue", "CatalogueService"),
    "jobs": ("synthts_core.services.jobs", "JobService"),
    "models": ("synthts_core.services.models", "ModelService"),
    "evaluations": ("synthts_core.services.evaluation", "EvaluationService"),
    "system": ("synthts_core.services.system", "SystemService"),
}
"""Service name -> (module, class). Modules are imported on first use, so a command that needs
one service does not import the others (and their torch, Ray or MLflow imports)."""


class Services:
    """The services of one runtime, each built on first use and kept."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        service = self._built.get(name)
        if service is not None:
            return service
        with self._lock:
            service = self._built.get(name)
            if service is None:
                import importlib

                module, cls = SERVICE_CLASSES[name]
                service = getattr(importlib.import_module(module), cls)(self.runtime)
                self._built[name] = service
            return service

    @property
    def datasets(self) -> DatasetService:
        return self.get("datasets")

    @property
    def catalogue(self) -> CatalogueService:
        return self.get("catalogue")

    @property
    def jobs(self) -> JobService:
        return self.get("jobs")

    @property
    def models(self) -> ModelService:
        return self.get("models")

    @property
    def evaluations(self) -> EvaluationService:
        return self.get("evaluations")

    @property
    def system(self) -> SystemService:
        return self.get("system")
