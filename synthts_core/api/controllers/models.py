"""The model registry: registered models, their versions (config, metrics, aliases)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import Parameter

from synthts_core.api.links import linked
from synthts_core.api.problems import problems
from synthts_core.api.schemas import ModelList, ModelRead, ModelVersionRead, VersionList
from synthts_core.errors import NotFoundError
from synthts_core.runtime import Runtime

ModelName = Parameter(max_length=128, description="Registered model name")
VersionParam = Parameter(max_length=128, description="Version number or alias "
                         "('latest', 'best', ...)")


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/", operation_id="listModels", sync_to_thread=True, responses=problems(503),
         operation_class=linked("listModels"))
    def list_models(self, runtime: Runtime) -> ModelList:
        """Every registered model with its latest version and aliases."""
        from synthts_core.services import models

        return ModelList(items=[ModelRead.from_domain(m) for m in models.list_models(runtime)])

    @get("/{name:str}", operation_id="getModel", sync_to_thread=True,
         responses=problems(404, 503))
    def get_model(self, runtime: Runtime, name: str = ModelName) -> ModelRead:
        """One registered model: latest version, aliases, number of versions."""
        from synthts_core.domain import check_name
        from synthts_core.services import models

        check_name(name, "name")
        for model in models.list_models(runtime):
            if model.name == name:
                return ModelRead.from_domain(model)
        raise NotFoundError("model", name, hint="GET /api/v1/models lists registered models")

    @get("/{name:str}/versions", operation_id="listModelVersions", sync_to_thread=True,
         responses=problems(404, 503), operation_class=linked("listModelVersions"))
    def list_versions(self, runtime: Runtime, show_paths: bool,
                      name: str = ModelName) -> VersionList:
        """Every version of a model with its config (architecture, hyper-parameters, the
        dataset it learned), quality metrics and aliases."""
        from synthts_core.services import models

        return VersionList(items=[ModelVersionRead.from_domain(v, show_paths)
                                  for v in models.list_versions(runtime, name)])

    @get("/{name:str}/versions/{version:str}", operation_id="getModelVersion",
         sync_to_thread=True, responses=problems(404, 503),
         operation_class=linked("getModelVersion"))
    def get_version(self, runtime: Runtime, show_paths: bool, name: str = ModelName,
                    version: str = VersionParam) -> Response[ModelVersionRead]:
        """One version by number or alias. A numbered version never changes, so it may be
        cached; an alias can move, so it is revalidated."""
        from synthts_core.services import models

        ref = models.get_version(runtime, name, version)
        cache = "public, max-age=3600" if version.isdigit() else "no-cache"
        return Response(ModelVersionRead.from_domain(ref, show_paths),
                        headers={"Cache-Control": cache})
