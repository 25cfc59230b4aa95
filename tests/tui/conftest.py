"""Fixtures for the TUI tests: the real API served by uvicorn on a free loopback port, on a
temp data folder with the embedded defaults (SQLite storage, MLflow on SQLite).

An empty MLflow store costs seconds of schema migrations; it is made once per session and
copied into each server's data folder, so every server still starts from nothing of its own.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from synthts_tui.local_api import LocalApi

from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from tests.tui.tui_helpers import CountingClient


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlflow-template")
    settings = Settings(data_dir=folder, _env_file=None)
    settings.ensure_data_dir()
    with Runtime(settings) as runtime:
        runtime.tracker.ping()
    return folder / "mlflow.db"


@pytest.fixture(scope="session")
def make_api(tmp_path_factory: pytest.TempPathFactory,
             mlflow_template: Path) -> Iterator[Callable[[str], LocalApi]]:
    started: list[LocalApi] = []
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def _make(name: str) -> LocalApi:
        data_dir = tmp_path_factory.mktemp(name)
        shutil.copy(mlflow_template, data_dir / "mlflow.db")
        api = LocalApi(Settings(data_dir=data_dir, _env_file=None)).start()
        started.append(api)
        return api

    yield _make
    for api in started:
        api.stop()


@pytest.fixture(scope="session")
def flow_api(make_api: Callable[[str], LocalApi]) -> LocalApi:
    """One server for the end-to-end flows (they build on each other's data)."""
    return make_api("tui-flows")


@pytest.fixture
def flow_client(flow_api: LocalApi) -> Iterator[CountingClient]:
    with CountingClient(flow_api.url) as client:
        yield client


@pytest.fixture(scope="session")
def snapshot_api(make_api: Callable[[str], LocalApi]) -> LocalApi:
    """A server holding only the seeded demo datasets, so every snapshot sees the same data."""
    from synthts_tui.client import SynthtsClient
    from synthts_tui.screenshots import seed_demo_data

    api = make_api("tui-snapshots")
    with SynthtsClient(api.url) as client:
        seed_demo_data(client)
    return api
