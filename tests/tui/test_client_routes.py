"""Every route the TUI's client calls exists in the API's own OpenAPI schema, so a renamed
endpoint fails here by name rather than as a dialog at run time."""

from __future__ import annotations

from synthts_core.settings import Settings

CLIENT_ROUTES = {
    ("get", "/api/v1/health"), ("get", "/api/v1/ready"), ("get", "/api/v1/info"),
    ("get", "/api/v1/plugins"), ("get", "/api/v1/signals"), ("get", "/api/v1/presets"),
    ("post", "/api/v1/signals/preview"), ("get", "/api/v1/datasets"),
    ("post", "/api/v1/datasets"), ("post", "/api/v1/datasets/upload"),
    ("get", "/api/v1/datasets/{name}"), ("delete", "/api/v1/datasets/{name}"),
    ("get", "/api/v1/datasets/{name}/values"), ("get", "/api/v1/datasets/{name}/figure"),
    ("get", "/api/v1/datasets/{name}/export"), ("get", "/api/v1/architectures"),
    ("get", "/api/v1/jobs"), ("post", "/api/v1/jobs"), ("get", "/api/v1/jobs/{job_id}"),
    ("post", "/api/v1/jobs/{job_id}/cancel"), ("post", "/api/v1/jobs/{job_id}/resume"),
    ("post", "/api/v1/jobs/{job_id}/fail"), ("get", "/api/v1/models"),
    ("get", "/api/v1/models/{name}/versions"),
    ("post", "/api/v1/models/{name}/versions/{version}/generate"),
    ("post", "/api/v1/models/{name}/versions/{version}/generate/figure"),
    ("post", "/api/v1/models/{name}/versions/{version}/interpolate"),
    ("post", "/api/v1/models/{name}/versions/{version}/interpolate/figure"),
    ("get", "/api/v1/metrics"), ("post", "/api/v1/evaluations"),
}


def test_client_routes_exist_in_the_openapi_schema(tmp_path) -> None:
    from synthts_core.api import create_app

    app = create_app(Settings(data_dir=tmp_path, _env_file=None))
    served = {(method, path) for path, item in app.openapi_schema.paths.items()
              for method in ("get", "post", "put", "patch", "delete")
              if getattr(item, method, None) is not None}
    assert sorted(CLIENT_ROUTES - served) == []


def test_every_client_route_is_listed() -> None:
    """The list above covers every path the client module names."""
    import inspect
    import re

    from synthts_tui import client

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    used = {shape(p) for p in re.findall(r'"(/[a-z][^"]*)"', inspect.getsource(client))}
    listed = {shape(p.removeprefix("/api/v1")) for _, p in CLIENT_ROUTES}
    assert len(used) > 20
    assert sorted(used - listed - {"/api/v1"}) == []
