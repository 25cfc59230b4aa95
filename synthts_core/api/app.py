"""The Litestar application factory.

``create_app`` builds one app around one ``Runtime``. The lifespan opens storage and tracker
(off the event loop) and closes what the app owns. Controllers live one per resource in
``synthts_core.api.controllers``; errors leave through the single map in ``problems``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Tag

from synthts_core import __version__
from synthts_core.api.problems import EXCEPTION_HANDLERS
from synthts_core.api.requests import SynthtsRequest
from synthts_core.api.security import (
    BEARER_SCHEME,
    SECURITY_SCHEME_NAME,
    is_authenticated,
    require_token_for_writes,
)
from synthts_core.api.state import ApiState, UploadSlots
from synthts_core.plugins import PluginManager
from synthts_core.runtime import Runtime
from synthts_core.services import SERVICE_CLASSES
from synthts_core.services.serving import ServingService
from synthts_core.settings import Settings

log = logging.getLogger("synthts.api")

API_PREFIX = "/api/v1"

TAGS = [
    Tag(name="health", description="Liveness, readiness and installed plugins."),
    Tag(name="signals", description="Signal catalogue with parameter schemas; previews."),
    Tag(name="datasets", description="Create (generate or upload), browse, plot, export, delete."),
    Tag(name="jobs", description="Training jobs: hyper-parameter searches on Ray Tune."),
    Tag(name="models", description="Model registry: models, versions, aliases, metrics."),
    Tag(name="generation", description="Series from a model version; latent interpolation."),
    Tag(name="evaluations", description="Quality of a model version against a dataset."),
]


def _open_backends(runtime: Runtime) -> None:
    """Open and ping both at startup, so the first request does not pay for connecting (the
    MLflow tracker imports and migrates its store on first use)."""
    for part in ("storage", "tracker"):
        try:
            getattr(runtime, part).ping()
        except Exception as exc:
            log.warning("could not open %s at startup: %s", part, exc)


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    api: ApiState = app.state.api
    await sync_to_thread(_open_backends, api.runtime)
    try:
        yield
    finally:
        await sync_to_thread(api.close)


def _service_provider(name: str) -> Provide:
    """Controllers ask for a service by its name (``datasets: DatasetService``)."""

    def provide(state: State) -> Any:
        return state.api.runtime.services.get(name)

    return Provide(provide, sync_to_thread=False)


def _provide_uploads(state: State) -> UploadSlots:
    """The app's upload slots (SYNTHTS_MAX_CONCURRENT_UPLOADS at once)."""
    return state.api.uploads


def _provide_generation(state: State) -> ServingService:
    """The app's own ``ServingService`` (model cache, batcher, inference thread)."""
    return state.api.generation


def _provide_show_paths(request: Request[Any, Any, Any]) -> bool:
    """Whether answers may name file system paths and storage locations: only to callers who
    could also write (no token configured, or the right one sent)."""
    return is_authenticated(request)


def create_app(settings: Settings | None = None, plugin_manager: PluginManager | None = None,
               runtime: Runtime | None = None) -> Litestar:
    """Build the app. Pass ``runtime`` to share one (tests, the TUI's in-process server);
    otherwise one is made from ``settings`` and ``plugin_manager`` and closed at shutdown."""
    from synthts_core.api.controllers import API_CONTROLLERS, ROOT_CONTROLLERS

    owns = runtime is None
    if runtime is None:
        runtime = Runtime(settings, plugin_manager)
    # SIGTERM of the server cancels its jobs (not left running): set up here, on the main
    # thread before uvicorn takes the signals over, as its startup hooks would run after
    runtime.services.jobs.cancel_jobs_on_sigterm()
    api_state = ApiState(runtime, owns_runtime=owns)
    api_router = Router(path=API_PREFIX, route_handlers=list(API_CONTROLLERS))
    return Litestar(
        route_handlers=[*ROOT_CONTROLLERS, api_router],
        lifespan=[_lifespan],
        state=State({"api": api_state, "runtime": runtime}),
        dependencies={"uploads": Provide(_provide_uploads, sync_to_thread=False),
                      "generation": Provide(_provide_generation, sync_to_thread=False),
                      "show_paths": Provide(_provide_show_paths, sync_to_thread=False),
                      **{name: _service_provider(name) for name in SERVICE_CLASSES}},
        request_class=SynthtsRequest,
        guards=[require_token_for_writes],
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        request_max_body_size=runtime.settings.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="synthts API",
            version=__version__,
            description="Synthetic time series with GANs: datasets, training, registry, "
                        "generation and evaluation. Errors are RFC 9457 problem details.",
            path="/schema",
            tags=TAGS,
            components=Components(security_schemes={SECURITY_SCHEME_NAME: BEARER_SCHEME}),
            render_plugins=[ScalarRenderPlugin(path=["/", "/scalar"]), SwaggerRenderPlugin(),
                            JsonRenderPlugin()],
            use_handler_docstrings=True,
        ),
        # logging is the host's business (``synthts serve`` sets it up); Litestar's default
        # config would replace the root handlers of whatever process embeds the app
        logging_config=None,
        debug=False,
    )
