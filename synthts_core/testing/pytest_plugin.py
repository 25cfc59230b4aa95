"""Fixtures every synthts plugin's tests can use (loaded through the pytest11 entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synthts_core.plugins import PluginManager, make_plugin_manager
from synthts_core.settings import Settings
from synthts_core.testing.mlflow_server import mlflow_server_uri  # noqa: F401 - fixture
from synthts_core.testing.mongo import fresh_mongo_uri, mongo_server, mongo_uri  # noqa: F401
from synthts_core.testing.ray_cluster import local_ray  # noqa: F401 - fixture


@pytest.fixture
def synthts_pm() -> PluginManager:
    """A fresh plugin manager with no entry points loaded: register what the test needs."""
    return make_plugin_manager(load_entry_points=False, strict=True, disabled=[])


@pytest.fixture
def register_plugin(synthts_pm: PluginManager) -> Iterator[Callable[..., object]]:
    """Register a plugin object (module, class or instance) on ``synthts_pm`` for one test."""
    added: list[object] = []

    def _register(plugin: object, name: str | None = None) -> object:
        synthts_pm.register(plugin, name=name)
        added.append(plugin)
        return plugin

    yield _register
    for plugin in added:
        if synthts_pm.is_registered(plugin):
            synthts_pm.unregister(plugin)


@pytest.fixture
def synthts_settings(tmp_path: Path) -> Settings:
    """Settings whose data folder (SQLite, MLflow store, Ray storage) is a fresh temp folder."""
    return Settings(data_dir=tmp_path / "synthts-data", _env_file=None)
