"""Liveness, readiness and the plugin list."""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar import Controller, Response, get
from litestar.concurrency import sync_to_thread
from litestar.openapi.datastructures import ResponseSpec

from synthts_core import __version__
from synthts_core.api.problems import problems
from synthts_core.api.schemas import CheckRead, HealthRead, InfoRead, PluginRead, ReadyRead
from synthts_core.api.security import hide_paths, hide_uri
from synthts_core.runtime import Runtime
from synthts_core.settings import mask_uri


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
    async def readiness(self, runtime: Runtime, show_paths: bool) -> Response[ReadyRead]:
        """Storage and tracker answer a ping and a configured Ray cluster accepts connections
        and this server's token (the local default Ray is started per job and always passes);
        503 with the failing check otherwise, so a load balancer stops routing here while a
        backend is down (also served at /ready). With SYNTHTS_API_TOKEN set, locations are
        shown only to callers sending the token."""
        return await readiness_response(runtime, show_paths)


@get("/health", operation_id="rootLiveness", sync_to_thread=False, include_in_schema=False)
def root_liveness() -> HealthRead:
    """Liveness at the root path, where orchestrators look for it."""
    return HealthRead(status="ok", version=__version__)


@get("/ready", operation_id="rootReadiness", include_in_schema=False)
async def root_readiness(runtime: Runtime, show_paths: bool) -> Response[ReadyRead]:
    """Readiness at the root path, where orchestrators look for it."""
    return await readiness_response(runtime, show_paths)


async def readiness_response(runtime: Runtime, show_paths: bool = True) -> Response[ReadyRead]:
    checks = {
        "storage": await sync_to_thread(_check, runtime, "storage", show_paths),
        "tracker": await sync_to_thread(_check, runtime, "tracker", show_paths),
        "ray": await sync_to_thread(_check_ray, runtime, show_paths),
    }
    ok = all(c.ok for c in checks.values())
    return Response(ReadyRead(status="ready" if ok else "unavailable", checks=checks),
                    status_code=200 if ok else 503)


class InfoController(Controller):
    path = "/info"
    tags = ["health"]

    @get("/", operation_id="serverInfo", sync_to_thread=True, responses=problems())
    def info(self, runtime: Runtime, show_paths: bool) -> InfoRead:
        """Connected storage, tracker and Ray (secrets masked; with SYNTHTS_API_TOKEN set,
        locations only for callers sending the token), limits, and counts of datasets, jobs
        and registered models (null where a backend does not answer)."""
        from synthts_core.domain import DatasetQuery

        s = runtime.settings
        where = mask_uri if show_paths else hide_uri
        return InfoRead(
            version=__version__, storage=where(s.storage_uri),
            tracker=where(s.mlflow_tracking_uri) if s.tracker == "mlflow" else s.tracker,
            ray=(s.ray_address if show_paths else hide_uri(f"ray:{s.ray_address}"))
            if s.ray_address else "local (started in-process)",
            auth_required_for_writes=bool(s.api_token and s.api_token.get_secret_value()),
            max_request_bytes=s.max_request_bytes, max_generate_values=s.max_generate_values,
            datasets=_count(lambda: runtime.storage.list_datasets(
                DatasetQuery(limit=1)).total),
            jobs=_count(lambda: runtime.storage.list_jobs(limit=1).total),
            models=_count(lambda: len(runtime.tracker.list_models())))


class PluginsController(Controller):
    path = "/plugins"
    tags = ["health"]

    @get("/", operation_id="listPlugins", sync_to_thread=True)
    def list_plugins(self, runtime: Runtime, show_paths: bool) -> list[PluginRead]:
        """Installed plugins with what each registered and any load error, as `synthts plugins`
        shows them (a broken plugin is listed, not fatal)."""
        reads = [PluginRead(**info.to_json()) for info in runtime.pm.plugin_infos()]
        if not show_paths:
            for read in reads:
                read.error = hide_paths(read.error)
        return reads


def _check(runtime: Runtime, part: str, show_paths: bool = True) -> CheckRead:
    start = time.perf_counter()
    try:
        backend = getattr(runtime, part)
        backend.ping()
    except Exception as exc:
        detail = _short(exc)
        return CheckRead(ok=False, detail=detail if show_paths else hide_paths(detail))
    elapsed = f"{(time.perf_counter() - start) * 1000:.1f} ms"
    uri = str(getattr(backend, "uri", ""))
    return CheckRead(ok=True, target=mask_uri(uri) if show_paths else hide_uri(uri),
                     detail=elapsed)


def _check_ray(runtime: Runtime, show_paths: bool = True) -> CheckRead:
    """SYNTHTS_RAY_ADDRESS accepts connections (a few seconds at most) and this server's token
    (SYNTHTS_RAY_AUTH_*); the local default needs nothing until a job starts one."""
    from synthts_core.services.cluster import ready_check

    start = time.perf_counter()
    try:
        ok, target, detail = ready_check(runtime.settings)
    except Exception as exc:  # never a 500 from a probe
        ok, target, detail = False, runtime.settings.ray_address or "local", _short(exc)
    if ok and runtime.settings.ray_address:
        detail = f"{detail}, {(time.perf_counter() - start) * 1000:.1f} ms"
    if not show_paths and runtime.settings.ray_address:
        target, detail = hide_uri(f"ray:{target}"), hide_paths(detail.replace(target, "<hidden>"))
    return CheckRead(ok=ok, target=target, detail=detail)


def _count(fn: Callable[[], int]) -> int | None:
    try:
        return int(fn())
    except Exception:
        return None


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
