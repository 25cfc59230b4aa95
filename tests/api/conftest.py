"""Fixtures for the API tests: the real app on the embedded defaults in a temp data folder."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient

from synthts_core.api import create_app
from synthts_core.settings import Settings

SMALL_HARMONICS = {"preset": "harmonics10", "overrides": {"count": 8, "length": 64}}


def api_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Embedded defaults in ``data_dir``, no token, limits small enough to test quickly."""
    values: dict[str, Any] = {"data_dir": data_dir, "api_token": None, "storage": None,
                              "mlflow_uri": None, "max_generate_values": 2_000_000,
                              "max_request_bytes": 4 * 1024 * 1024, "device": "cpu"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synthts-api")


@pytest.fixture(scope="module")
def app(module_data_dir: Path) -> Litestar:
    """One app per test module (opening the MLflow store costs seconds)."""
    return create_app(api_settings(module_data_dir))


@pytest.fixture(scope="module")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
async def aclient(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as c:
        yield c


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """A problem-details answer with ``status`` (naming ``field``), never a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    if field is not None:
        assert body.get("field") == field or field in body["detail"], body
    return body


def register_untrained(runtime: Any, model: str, dataset: Any, architecture: str = "cwgan_gp",
                       train_epochs: int = 0, **params: Any) -> Any:
    """Register freshly initialised weights of ``architecture`` shaped for ``dataset`` (its
    metadata) through the real tracker: the registry and generation paths without training
    (or after ``train_epochs`` epochs on the stored series, so labels matter)."""
    from synthts_core.domain import ModelBundle

    arch = runtime.registries.architectures.get(architecture)
    config = {
        **arch.space.defaults(), **params, "architecture": architecture,
        "length": dataset.length, "n_channels": dataset.n_channels,
        "n_classes": len(dataset.label_names) if arch.conditional else 0,
        "label_names": list(dataset.label_names), "seed": 0,
        "normalisation": {"method": "minmax", "offset": [0.0] * dataset.n_channels,
                          "scale": [2.0] * dataset.n_channels},
        "dataset": {"name": dataset.name, "checksum": dataset.checksum},
    }
    trainer = arch.build(config, "cpu")
    if train_epochs:
        stored = runtime.storage.read_dataset(dataset.name)
        for _ in range(train_epochs):
            trainer.train_epoch(stored.values / 2.0, stored.labels if arch.conditional else None)
    bundle = ModelBundle(config=config, weights=trainer.weights(), metrics={"mmd": 1.0})
    return runtime.tracker.register_model(model, bundle, aliases=["best"])


@contextmanager
def live_server(settings: Settings, app: Litestar | None = None) -> Iterator[str]:
    """The real app (or ``app``) under uvicorn on a free loopback port (lifespan on); yields
    its URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = app if app is not None else create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
