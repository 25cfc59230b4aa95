"""Liveness, readiness and the plugin list."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.concurrency import sync_to_thread
from litestar.openapi.datastructures import ResponseSpec

from synthts_core import __version__
from synthts_core.api.problems import problems
from synthts_core.api.schemas import CheckRead, HealthRead, InfoRead, PluginRead, ReadyRead
from synthts_core.api.security import HIDDEN, hide_paths, hide_uri
from synthts_core.services.catalogue import CatalogueService
from synthts_core.services.system import READY_CHECKS, Check, SystemService


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="liveness", sync_to_thread=False)
    def liveness(self) -> HealthRead:
        """The process answers. Touches no backend, so it stays cheap for frequent probes
        (also served at /health for orchestrators)."""
        return HealthRead(status="ok", version=__version__)

    @get("/ready", operation_id="readiness", responses={
        503: ResponseSpec(data_container=ReadyRead, description="A backend is unreachable")})
    async def readiness(self, system: SystemService, show_paths: bool) -> Response[ReadyRead]:
        """Storage and tracker answer a ping and a configured Ray cluster accepts connections,
        this server's token (or its lack of one: a head without token auth refuses a driver
        that sends one) and has a node that holds one trial (SYNTHTS_RAY_CPUS_PER_TRIAL,
        SYNTHTS_RAY_GPUS_PER_TRIAL); the local default Ray is started per job and passes.
        503 with the failing check, in words, otherwise, so a load balancer stops routing here
        while a backend is down (also served at /ready). With SYNTHTS_API_TOKEN set, locations
        are shown only to callers sending the token."""
        return await readiness_response(system, show_paths)


@get("/health", operation_id="rootLiveness", sync_to_thread=False, include_in_schema=False)
def root_liveness() -> HealthRead:
    """Liveness at the root path, where orchestrators look for it."""
    return HealthRead(status="ok", version=__version__)


@get("/ready", operation_id="rootReadiness", include_in_schema=False)
async def root_readiness(system: SystemService, show_paths: bool) -> Response[ReadyRead]:
    """Readiness at the root path, where orchestrators look for it."""
    return await readiness_response(system, show_paths)


async def readiness_response(system: SystemService,
                             show_paths: bool = True) -> Response[ReadyRead]:
    checks = {part: _check_read(await sync_to_thread(system.check, part), show_paths)
              for part in READY_CHECKS}
    ok = all(c.ok for c in checks.values())
    return Response(ReadyRead(status="ready" if ok else "unavailable", checks=checks),
                    status_code=200 if ok else 503)


class InfoController(Controller):
    path = "/info"
    tags = ["health"]

    @get("/", operation_id="serverInfo", sync_to_thread=True, responses=problems())
    def info(self, system: SystemService, show_paths: bool) -> InfoRead:
        """Connected storage, tracker and Ray (secrets masked; with SYNTHTS_API_TOKEN set,
        locations only for callers sending the token), limits, and counts of datasets, jobs
        and registered models (null where a backend does not answer)."""
        i = system.info()

        def where(shown: str, uri: str | None) -> str:
            return shown if show_paths or uri is None else hide_uri(uri)

        return InfoRead(
            version=i.version, storage=where(i.storage_at, i.storage_at),
            tracker=where(i.tracker_at, i.tracker_uri), ray=where(i.ray_at, i.ray_uri),
            auth_required_for_writes=i.auth_required_for_writes,
            max_request_bytes=i.max_request_bytes, max_generate_values=i.max_generate_values,
            datasets=i.datasets, jobs=i.jobs, models=i.models)


class PluginsController(Controller):
    path = "/plugins"
    tags = ["health"]

    @get("/", operation_id="listPlugins", sync_to_thread=True)
    def list_plugins(self, catalogue: CatalogueService, show_paths: bool) -> list[PluginRead]:
        """Installed plugins with what each registered and any load error, as `synthts plugins`
        shows them (a broken plugin is listed, not fatal)."""
        reads = [PluginRead(**info.to_json()) for info in catalogue.plugins()]
        if not show_paths:
            for read in reads:
                read.error = hide_paths(read.error)
        return reads



def _check_read(check: Check, show_paths: bool) -> CheckRead:
    """A check as the caller may see it: without the token, a location shows its scheme
    alone and paths in the detail are hidden."""
    target, detail = check.target or "", check.detail
    if not show_paths:
        if check.uri is not None:
            if target and detail:
                detail = detail.replace(target, HIDDEN)
            target = hide_uri(check.uri)
        detail = hide_paths(detail)
    return CheckRead(ok=check.ok, target=target, detail=detail)
