"""Every registry takes ``add(item)``; storage backends and trackers are picked by what their
plugin registered, and the core opens them without knowing any by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthts_core import hookimpl
from synthts_core.errors import BadInputError, PluginError
from synthts_core.registry import StorageBackendInfo, TrackerInfo
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings


class _FolderStorage:
    """A third-party storage plugin: ``folder://NAME`` is the SQLite file NAME.db in the data
    folder (a real backend under another scheme; the factory prepares its own folder)."""

    @hookimpl
    def register_storage_backends(self, registry):
        registry.add(StorageBackendInfo("folder", self.make, "SQLite files by name"))

    @hookimpl
    def register_trackers(self, registry):
        registry.add(TrackerInfo("none", lambda settings: None, "no tracking"))

    @staticmethod
    def make(uri, settings):
        from synthts_sqlite.backend import SqliteStorage

        folder = settings.ensure_data_dir()
        return SqliteStorage(f"sqlite:///{folder / uri.removeprefix('folder://')}.db")


def test_a_third_party_backend_is_opened_by_its_scheme(synthts_pm, register_plugin,
                                                       tmp_path: Path) -> None:
    register_plugin(_FolderStorage(), name="folder-plugin")
    settings = Settings(data_dir=tmp_path / "data", storage="folder://jobs", _env_file=None)
    with Runtime(settings, synthts_pm) as rt:
        assert rt.registries.storage.plugin_of("folder") == "folder-plugin"
        assert rt.storage.list_jobs().items == []
        assert rt.registries.trackers.names() == ["none"]
    assert (tmp_path / "data" / "jobs.db").is_file()


def test_unknown_scheme_names_the_installed_ones(synthts_pm, register_plugin,
                                                 tmp_path: Path) -> None:
    register_plugin(_FolderStorage(), name="folder-plugin")
    settings = Settings(data_dir=tmp_path, storage="redis://x", _env_file=None)
    with Runtime(settings, synthts_pm) as rt, \
            pytest.raises(BadInputError, match=r"SYNTHTS_STORAGE.*folder://"):
        rt.storage  # noqa: B018


def test_the_sqlite_backend_makes_the_data_folder(tmp_path: Path) -> None:
    """The default URI is a file in a data folder that may not exist yet: the sqlite backend
    makes it when opened (the runtime knows no backend by name)."""
    data = tmp_path / "not" / "yet"
    with Runtime(Settings(data_dir=data, _env_file=None)) as rt:
        rt.storage.ping()
    assert (data / "synthts.db").is_file()


def test_a_backend_without_factory_is_refused(synthts_pm, register_plugin) -> None:
    class NoFactory:
        @hookimpl
        def register_storage_backends(self, registry):
            registry.add(object(), name="bare")

    register_plugin(NoFactory(), name="bare-plugin")
    with pytest.raises(PluginError, match=r"storage backend 'bare'.*lacks \['factory'\]"):
        synthts_pm.registries  # noqa: B018
