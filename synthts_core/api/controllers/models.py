"""The model registry: registered models, their versions (config, metrics, aliases)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import Parameter

from synthts_core.api.links import linked
from synthts_core.api.problems import problems
from synthts_core.api.schemas import ModelList, ModelRead, ModelVersionRead, VersionList
from synthts_core.services.models import ModelService

ModelName = Parameter(max_length=128, description="Registered model name")
VersionParam = Parameter(max_length=128, description="Version number or alias "
                         "('latest', 'best', ...)")


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/", operation_id="listModels", sync_to_thread=True, responses=problems(503),
         operation_class=linked("listModels"))
    def list_models(self, models: ModelService) -> ModelList:
        """Every registered model with its latest version and aliases."""
        return ModelList(items=[ModelRead.from_domain(m) for m in models.list()])

    @get("/{name:str}", operation_id="getModel", sync_to_thread=True,
         responses=problems(404, 503))
    def get_model(self, models: ModelService, name: str = ModelName) -> ModelRead:
        """One registered model: latest version, aliases, number of versions."""
        return ModelRead.from_domain(models.get(name))

    @get("/{name:str}/versions", operation_id="listModelVersions", sync_to_thread=True,
         responses=problems(404, 503), operation_class=linked("listModelVersions"))
    def list_versions(self, models: ModelService, show_paths: bool,
                      name: str = ModelName) -> VersionList:
        """Every version of a model with its config (architecture, hyper-parameters, the
        dataset it learned), quality metrics and aliases."""
        return VersionList(items=[ModelVersionRead.from_domain(v, show_paths)
                                  for v in models.versions(name)])

    @get("/{name:str}/versions/{version:str}", operation_id="getModelVersion",
         sync_to_thread=True, responses=problems(404, 503),
         operation_class=linked("getModelVersion"))
    def get_version(self, models: ModelService, show_paths: bool, name: str = ModelName,
                    version: str = VersionParam) -> Response[ModelVersionRead]:
        """One version by number or alias. A numbered version never changes, so it may be
        cached; an alias can move, so it is revalidated."""
        ref = models.version(name, version)
        cache = "public, max-age=3600" if version.isdigit() else "no-cache"
        return Response(ModelVersionRead.from_domain(ref, show_paths),
                        headers={"Cache-Control": cache})
