"""App-wide behaviour: probes, plugins, OpenAPI and docs, the error map, the token guard, and
a live uvicorn on a loopback port."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from synthts_core.api import create_app
from tests.api.conftest import SMALL_HARMONICS, api_settings, assert_problem, live_server

API = "/api/v1"


def test_probes_and_plugins(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get(f"{API}/health").json()["status"] == "ok"
    ready = client.get(f"{API}/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["storage"]["ok"] and checks["tracker"]["ok"]
    assert client.get("/ready").status_code == 200
    info = client.get(f"{API}/info").json()
    assert info["storage"].startswith("sqlite:///") and not info["auth_required_for_writes"]
    assert info["datasets"] is not None and info["models"] is not None
    plugins = {p["name"]: p for p in client.get(f"{API}/plugins").json()}
    assert "sqlite" in plugins and plugins["sqlite"]["builtin"]


def test_openapi_documents_every_operation(client):
    schema = client.get("/schema/openapi.json").json()
    ops = [op for path in schema["paths"].values() for op in path.values()]
    assert len(ops) >= 25
    for op in ops:
        assert op.get("operationId") and op.get("description"), op
    assert "BearerToken" in schema["components"]["securitySchemes"]
    values = schema["paths"]["/api/v1/datasets/{name}/values"]["get"]
    assert "application/x-npy" in values["responses"]["200"]["content"]
    assert "application/problem+json" in values["responses"]["404"]["content"]
    limit = next(p for p in schema["paths"]["/api/v1/datasets"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 500
    for page in ("/schema", "/schema/swagger"):
        r = client.get(page)
        assert r.status_code == 200 and "<html" in r.text.lower()


def test_unknown_routes_and_methods_are_problems(client):
    assert_problem(client.get(f"{API}/nowhere"), 404)
    assert_problem(client.put(f"{API}/datasets"), 405)
    assert_problem(client.get(f"{API}/datasets", params={"limit": 100000}), 422, "limit")
    assert_problem(client.get(f"{API}/datasets", params={"sort": "password"}), 422, "sort")


def test_unexpected_errors_are_a_generic_500_without_internals(tmp_path, caplog):
    # a fault we cannot cause for real through the API: a handler dependency that raises
    app = create_app(api_settings(tmp_path / "d"))
    app.state.api.runtime.pm.plugin_infos = _boom
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get(f"{API}/plugins")
    body = assert_problem(r, 500)
    assert "secret-internal-detail" not in r.text and "boom" not in body["detail"]
    assert "secret-internal-detail" in caplog.text  # ... but logged server-side


def _boom():
    raise RuntimeError("secret-internal-detail")


def test_core_errors_get_status_and_title_from_the_one_error_map(client):
    """The core's errors know nothing of HTTP; the API's map places every one of them, and a
    core error's facts (``kind``, ``name``) follow the problem's standard members."""
    import inspect

    from synthts_core import errors
    from synthts_core.api.problems import ERROR_MAP, problem_kind

    classes = {c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, errors.SynthtsError)}
    assert sorted(c.__name__ for c in classes - set(ERROR_MAP)) == []
    assert [c.__name__ for c in classes if hasattr(c, "status_code")] == []
    assert problem_kind(errors.DuplicateNameError("metric", "m", "a", "b")) == (
        409, "Duplicate plugin name")

    class PluginOwnError(errors.NotFoundError):  # a subclass takes its base's entry
        pass

    assert problem_kind(PluginOwnError("dataset", "x")) == (404, "Not found")
    r = client.get(f"{API}/datasets/nope")
    assert r.content == (
        b'{"type":"about:blank","title":"Not found","status":404,"detail":"dataset \'nope\' not'
        b' found; `synthts datasets list` shows what exists","kind":"dataset","name":"nope"}')


def test_token_guards_writes_only(tmp_path):
    app = create_app(api_settings(tmp_path / "d", api_token="s3cret-token"))
    body = {"name": "guarded", **SMALL_HARMONICS}
    with TestClient(app) as c:
        r = c.post(f"{API}/datasets", json=body)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_problem(c.post(f"{API}/datasets", json=body,
                              headers={"Authorization": "Bearer wrong"}), 401)
        assert_problem(c.post(f"{API}/datasets", json=body,
                              headers={"Authorization": "Basic s3cret-token"}), 401)
        assert_problem(c.post(f"{API}/jobs", json={"dataset": "guarded"}), 401)
        assert_problem(c.post(f"{API}/models/m/versions/1/generate", json={"n": 1}), 401)
        assert c.get(f"{API}/datasets").status_code == 200  # reads stay open
        auth = {"Authorization": "Bearer s3cret-token"}
        assert c.post(f"{API}/datasets", json=body, headers=auth).status_code == 201
        assert_problem(c.delete(f"{API}/datasets/guarded"), 401)
        assert c.delete(f"{API}/datasets/guarded", headers=auth).status_code == 204


def test_without_token_cross_site_writes_are_refused(tmp_path):
    """A page on another site can POST a text/plain body without a preflight; a server with no
    token must not take such writes, while local clients (no Origin, or a loopback one) can."""
    app = create_app(api_settings(tmp_path / "d"))
    body = {"name": "local", **SMALL_HARMONICS}
    with TestClient(app) as c:
        r = c.post(f"{API}/datasets/upload?name=evil&format=csv&window=4",
                   content=b"a\n1\n2\n3\n4\n", headers={"Origin": "https://evil.example",
                                                          "Content-Type": "text/plain"})
        assert "origin" in assert_problem(r, 403)["detail"]
        assert c.get(f"{API}/datasets/evil").status_code == 404
        assert c.post(f"{API}/datasets", json=body,
                      headers={"Origin": "http://127.0.0.1:8000"}).status_code == 201
        assert c.get(f"{API}/datasets").status_code == 200


@pytest.fixture
def live_url(tmp_path):
    with live_server(api_settings(tmp_path / "live")) as url:
        yield url


def test_live_uvicorn_serves_concurrent_clients(live_url):
    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=live_url, timeout=60) as c:
            r = await c.post(f"{API}/datasets", json={"name": "live", **SMALL_HARMONICS})
            assert r.status_code == 201, r.text
            import anyio

            codes: list[int] = []

            async def read() -> None:
                resp = await c.get(f"{API}/datasets/live/values", params={"per_label": 1})
                codes.append(resp.status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(read)
                tg.start_soon(c.get, "/health")
            return codes

    import anyio

    assert anyio.run(scenario) == [200] * 8


def test_serve_refuses_a_public_address_without_token(monkeypatch):
    from synthts_core.cli import cli
    from synthts_core.cli.commands.serve import is_loopback

    monkeypatch.delenv("SYNTHTS_API_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "SYNTHTS_API_TOKEN" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
