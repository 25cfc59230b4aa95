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


class _ForgetfulTracker:
    """A small in-memory tracker whose author forgot ``end_open_runs``: every other method of
    the ``Tracker`` protocol is here and works."""

    uri = "memory://"

    def __init__(self) -> None:
        self.runs: dict[str, dict] = {}
        self.models: dict[str, list] = {}

    def ping(self) -> None: ...
    def close(self) -> None: ...

    def start_run(self, experiment, run_name, params, tags=None) -> str:
        run_id = f"run-{len(self.runs)}"
        self.runs[run_id] = {"experiment": experiment, "status": "RUNNING", "metrics": []}
        return run_id

    def log_dataset_input(self, run_id, *, name, checksum, shape=None) -> None:
        self.runs[run_id]["dataset"] = (name, checksum, shape)

    def log_metrics(self, run_id, metrics, step) -> None:
        self.runs[run_id]["metrics"].append((step, dict(metrics)))

    def end_run(self, run_id, status) -> None:
        self.runs[run_id]["status"] = status

    def register_model(self, name, bundle, *, run_id=None, aliases=None):
        self.models.setdefault(name, []).append(bundle)

    def list_models(self):
        return list(self.models)

    def list_versions(self, name):
        return list(range(1, len(self.models.get(name, [])) + 1))

    def get_version(self, name, version_or_alias):
        return int(version_or_alias)

    def load_bundle(self, name, version):
        return self.models[name][int(version) - 1]

    def log_evaluation(self, name, version, report) -> None: ...


def test_a_tracker_lacking_a_protocol_method_is_refused_when_built(
        synthts_pm, register_plugin, tmp_path: Path) -> None:
    """The services call every ``Tracker`` method on the tracker itself: one that lacks a
    method is refused when the runtime builds it, naming the tracker, its plugin and the
    method, not later in the middle of a training job."""

    class Plugin:
        @hookimpl
        def register_trackers(self, registry):
            registry.add(TrackerInfo("forgetful", lambda settings: _ForgetfulTracker()))

    register_plugin(Plugin(), name="forgetful-plugin")
    settings = Settings(data_dir=tmp_path, tracker="forgetful", _env_file=None)
    with Runtime(settings, synthts_pm) as rt, pytest.raises(
            PluginError, match=r"tracker 'forgetful' from plugin 'forgetful-plugin' lacks the "
                               r"methods \['end_open_runs'\]") as caught:
        rt.tracker  # noqa: B018
    assert caught.value.extra["missing"] == ["end_open_runs"]


def test_a_storage_backend_lacking_a_protocol_method_is_refused_when_built(
        synthts_pm, register_plugin, tmp_path: Path) -> None:
    """Same for storage: a real SQLite backend with ``delete_dataset`` taken away is refused
    before it is opened (no file is made)."""
    from synthts_sqlite.backend import SqliteStorage

    class NoDelete:
        def __init__(self, uri: str) -> None:
            self._inner = SqliteStorage(uri)

        def __getattr__(self, name: str):
            if name == "delete_dataset":
                raise AttributeError(name)
            return getattr(self._inner, name)

    class Plugin:
        @hookimpl
        def register_storage_backends(self, registry):
            registry.add(StorageBackendInfo(
                "nodelete", lambda uri, settings: NoDelete(
                    f"sqlite:///{tmp_path / uri.removeprefix('nodelete://')}.db")))

    register_plugin(Plugin(), name="nodelete-plugin")
    settings = Settings(data_dir=tmp_path, storage="nodelete://jobs", _env_file=None)
    with Runtime(settings, synthts_pm) as rt, pytest.raises(
            PluginError, match=r"storage backend 'nodelete' from plugin 'nodelete-plugin' lacks "
                               r"the methods \['delete_dataset'\]"):
        rt.storage  # noqa: B018
    assert not (tmp_path / "jobs.db").exists()
